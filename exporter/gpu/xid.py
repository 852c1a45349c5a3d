"""Xid errors as counters: a thread waits on NVML critical-error events and counts them per GPU and Xid."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from collections.abc import Hashable, Mapping
from types import ModuleType
from typing import Any

log = logging.getLogger("llm_exporter.gpu")

# How long one wait blocks: bounds how late close() returns. ctypes drops the GIL while NVML waits.
WAIT_MS = 500


def handle_key(handle: Any) -> Hashable:
    """A hashable identity for a device handle that matches the handle inside an event."""
    try:
        return ctypes.cast(handle, ctypes.c_void_p).value
    except (TypeError, ctypes.ArgumentError):  # not a ctypes pointer (the test fake's handles)
        return handle  # type: ignore[no-any-return]


class XidCounts:
    """Xid error counts by (gpu, uuid, xid); they outlive NVML re-initialisation and lost GPUs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], int] = {}

    def add(self, labels: Mapping[str, str], xid: int) -> None:
        """Count one Xid on the GPU with these identity labels."""
        key = (labels["gpu"], labels["uuid"], str(xid))
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def items(self) -> list[tuple[tuple[str, str, str], int]]:
        """A sorted copy of ((gpu, uuid, xid), count)."""
        with self._lock:
            return sorted(self._counts.items())


class XidWatcher:
    """Registers every GPU for Xid events and counts them on a daemon thread until closed."""

    def __init__(
        self, nvml: ModuleType, handles: Mapping[Hashable, dict[str, str]], counts: XidCounts, devices: list[Any]
    ) -> None:
        self._nvml = nvml
        self._labels = handles
        self._counts = counts
        self._stop = threading.Event()
        self._event_set: Any = None
        self._thread: threading.Thread | None = None
        xid_bit = getattr(nvml, "nvmlEventTypeXidCriticalError", 0)
        try:
            self._event_set = nvml.nvmlEventSetCreate()
            registered = 0
            for handle in devices:
                if self._register(handle, xid_bit):
                    registered += 1
        except nvml.NVMLError as error:
            log.info("Xid events unavailable: %s", error)
            registered = 0
        if registered:
            self._thread = threading.Thread(target=self._run, name="llm-exporter-xid", daemon=True)
            self._thread.start()
        else:
            self._free()

    def _register(self, handle: Any, xid_bit: int) -> bool:
        nvml = self._nvml
        try:
            if not nvml.nvmlDeviceGetSupportedEventTypes(handle) & xid_bit:
                return False
            nvml.nvmlDeviceRegisterEvents(handle, xid_bit, self._event_set)
        except nvml.NVMLError as error:
            log.info("GPU %s: Xid events unavailable: %s", self._labels.get(handle_key(handle)), error)
            return False
        return True

    @property
    def running(self) -> bool:
        """Whether the event thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        nvml = self._nvml
        while not self._stop.is_set():
            try:
                event = nvml.nvmlEventSetWait_v2(self._event_set, WAIT_MS)
            except nvml.NVMLError as error:
                if error.value == nvml.NVML_ERROR_TIMEOUT:
                    continue
                # Anything else: NVML is going away or the set broke; the collector re-creates the watcher.
                log.info("Xid event wait stopped: %s", error)
                return
            labels = self._labels.get(handle_key(event.device))
            if labels is not None and event.eventType & nvml.nvmlEventTypeXidCriticalError:
                log.warning("GPU %s (%s): Xid %d", labels["gpu"], labels["uuid"], event.eventData)
                self._counts.add(labels, int(event.eventData))

    def close(self) -> None:
        """Stop the thread and free the event set (before nvmlShutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=WAIT_MS / 1000.0 * 4)
            if self._thread.is_alive():  # a wedged wait: leak the set rather than free it under the waiter
                return
        self._free()

    def _free(self) -> None:
        if self._event_set is not None:
            with contextlib.suppress(self._nvml.NVMLError):
                self._nvml.nvmlEventSetFree(self._event_set)
            self._event_set = None
