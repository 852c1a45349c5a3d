"""Calling NVML for one GPU: what each error means, and the calls this GPU cannot answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from types import ModuleType
from typing import Any

log = logging.getLogger("llm_exporter.gpu")

# Codes after which a call will not answer on this GPU until NVML is re-initialised (notes/gpu.md §2.3).
_UNANSWERABLE = ("NVML_ERROR_NOT_SUPPORTED", "NVML_ERROR_NO_PERMISSION", "NVML_ERROR_FUNCTION_NOT_FOUND")
# The GPU itself is gone: fell off the bus, needs a reset.
_DEVICE_LOST = ("NVML_ERROR_GPU_IS_LOST", "NVML_ERROR_GPU_NOT_FOUND", "NVML_ERROR_RESET_REQUIRED")
# The library or driver state is gone: every GPU needs NVML re-initialised.
_NVML_DOWN = (
    "NVML_ERROR_UNINITIALIZED",
    "NVML_ERROR_DRIVER_NOT_LOADED",
    "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
    "NVML_ERROR_LIBRARY_NOT_FOUND",
)
# "No samples yet" (utilization samples, process utilization): an empty answer, not a failure.
_EMPTY = ("NVML_ERROR_NOT_FOUND",)
# Unclassified errors in a row on one GPU before it counts as lost.
UNKNOWN_ERRORS_BEFORE_LOST = 10


class DeviceLostError(Exception):
    """The GPU stopped answering NVML (lost, off the bus, or needing a reset)."""


class NvmlDownError(Exception):
    """NVML itself stopped working (uninitialised, driver unloaded or upgraded)."""


def _codes(nvml: ModuleType, names: tuple[str, ...]) -> frozenset[int]:
    return frozenset(getattr(nvml, name) for name in names)


class ErrorKinds:
    """The NVML return codes of each kind, read from the binding."""

    def __init__(self, nvml: ModuleType) -> None:
        self.unanswerable = _codes(nvml, _UNANSWERABLE)
        self.device_lost = _codes(nvml, _DEVICE_LOST)
        self.nvml_down = _codes(nvml, _NVML_DOWN)
        self.empty = _codes(nvml, _EMPTY)


class CallGuard:
    """Calls NVML for one GPU: skips calls it cannot answer, turns lifecycle errors into exceptions."""

    def __init__(self, nvml: ModuleType, handle: Any, kinds: ErrorKinds) -> None:
        self._nvml = nvml
        self.handle = handle
        self._kinds = kinds
        self.unsupported: set[Hashable] = set()
        self._unknown_in_a_row = 0

    def call(self, name: str, *args: Any, key: Hashable = None) -> Any:
        """nvml.<name>(handle, *args), or None where the GPU cannot answer; key defaults to (name, *args)."""
        return self.run(key if key is not None else (name, *args), name, self.handle, *args)

    def run(self, key: Hashable, name: str, *args: Any) -> Any:
        """nvml.<name>(*args) under this GPU's NotSupported cache entry `key`."""
        if key in self.unsupported:
            return None
        fn: Callable[..., Any] | None = getattr(self._nvml, name, None)
        if fn is None:  # the binding is older than the call
            self.unsupported.add(key)
            return None
        try:
            value = fn(*args)
        except self._nvml.NVMLError as error:
            self.check(key, error.value)
            return None
        self._unknown_in_a_row = 0
        return value

    def check(self, key: Hashable, code: int) -> None:
        """Act on a failed call's return code: cache, ignore, or raise DeviceLostError / NvmlDownError."""
        kinds = self._kinds
        if code in kinds.unanswerable:
            log.debug("NVML call %s unsupported (code %d); not asked again", key, code)
            self.unsupported.add(key)
        elif code in kinds.device_lost:
            raise DeviceLostError(f"{key}: NVML error {code}")
        elif code in kinds.nvml_down:
            raise NvmlDownError(f"{key}: NVML error {code}")
        elif code not in kinds.empty:
            self._unknown_in_a_row += 1
            log.debug("NVML call %s failed with code %d", key, code)
            if self._unknown_in_a_row >= UNKNOWN_ERRORS_BEFORE_LOST:
                raise DeviceLostError(f"{self._unknown_in_a_row} failed calls in a row, last {key}: NVML error {code}")
