"""The GPU collector: NVML lifecycle, one poll per interval, and a snapshot that /metrics reads without waiting."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from types import ModuleType

from exporter.family import Family
from exporter.gpu.calls import DeviceLostError, ErrorKinds, NvmlDownError
from exporter.gpu.device import GpuReader, Point
from exporter.gpu.exposition import build_families
from exporter.gpu.xid import XidCounts, XidWatcher, handle_key

log = logging.getLogger("llm_exporter.gpu")

# Re-initialisation backoff ceiling (notes/gpu.md §2.3: 30 s -> 5 min for a missing driver).
MAX_BACKOFF_S = 300.0
# How long close() waits for a running poll before giving up on a clean shutdown.
CLOSE_WAIT_S = 5.0

EnginePids = Callable[[], Mapping[str, Collection[int]] | Collection[int]]

# Which GPUs a collector reports (GpuCollector(devices=...)); anything else is a list of NVML indices or UUIDs.
ALL_DEVICES = "all"  # every GPU NVML lists: bare metal, or one exporter per node
ENGINE_DEVICES = "engine"  # only GPUs an engine process of this exporter has held memory on: a sidecar
Devices = str | Collection[str]


def _load_pynvml() -> ModuleType | None:
    try:
        import pynvml  # nvidia-ml-py; importing needs no driver
    except ImportError:
        log.warning("nvidia-ml-py is not installed: GPU metrics are off")
        return None
    module: ModuleType = pynvml
    return module


def _cuda_version(code: int) -> str:
    return f"{code // 1000}.{code % 1000 // 10}"


class GpuCollector:
    """Polls every visible NVIDIA GPU through NVML and keeps the last result as schema families."""

    def __init__(
        self,
        interval_s: float = 5.0,
        nvml: ModuleType | None = None,
        engine_pids: EnginePids | None = None,
        *,
        engine_type: str = "unknown",
        devices: Devices = ALL_DEVICES,
        sampled_utilization: bool = True,
        stall_after_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.interval_s = interval_s
        self._nvml = nvml if nvml is not None else _load_pynvml()
        self._engine_pids = engine_pids
        self._engine_type = engine_type  # label for engine_pids that return a bare set of PIDs
        if isinstance(devices, str) and devices not in (ALL_DEVICES, ENGINE_DEVICES):
            raise ValueError(f"devices: {devices!r} is neither {ALL_DEVICES!r}, {ENGINE_DEVICES!r} nor a list")
        self._devices = devices if isinstance(devices, str) else frozenset(devices)
        # Utilization as the mean of the driver's samples since the last poll (~2.8 ms of CPU per GPU on H200), or
        # the driver's last sample period from nvmlDeviceGetUtilizationRates (microseconds), as nvidia-smi shows.
        self._sampled_utilization = sampled_utilization
        # GPUs an engine process was seen on (ENGINE_DEVICES); kept through engine restarts so series do not flap.
        self._claimed: set[str] = set()
        # A poll running this long is wedged in a driver call: the collector reports itself down.
        self._stall_after_s = stall_after_s if stall_after_s is not None else max(3 * interval_s, 15.0)
        self._clock = clock
        self._wall_clock = wall_clock
        self._kinds = ErrorKinds(self._nvml) if self._nvml is not None else None
        self._poll_lock = threading.Lock()
        self._poll_started: float | None = None
        self._initialised = False
        self._readers: list[GpuReader] = []
        self._lost: dict[str, dict[str, str]] = {}  # uuid -> identity labels of GPUs that stopped answering
        self._driver_labels: dict[str, str] = {}
        self._xids = XidCounts()
        self._watcher: XidWatcher | None = None
        self._next_init_at = 0.0
        self._backoff_s = interval_s
        self._healthy = False
        self._last_success: float | None = None
        self._snapshot: list[Family] = []

    @property
    def up(self) -> bool:
        """True if the last poll read at least one GPU and no poll is wedged."""
        started = self._poll_started
        stalled = started is not None and self._clock() - started > self._stall_after_s
        return self._healthy and not stalled

    def families(self) -> list[Family]:
        """The last poll's families, the same list until the next poll (do not mutate it); never touches NVML."""
        return self._snapshot

    def poll(self) -> None:
        """One poll cycle: (re)initialise NVML when due, read every GPU, publish a new snapshot."""
        if not self._poll_lock.acquire(blocking=False):
            return  # the previous poll is still inside NVML; its snapshot stays
        try:
            self._poll_started = self._clock()
            self._poll_locked(self._poll_started)
        finally:
            self._poll_started = None
            self._poll_lock.release()

    def close(self) -> None:
        """Stop the Xid thread, free NVML resources and shut NVML down."""
        if not self._poll_lock.acquire(timeout=CLOSE_WAIT_S):
            log.warning("a GPU poll is stuck in NVML; closing without nvmlShutdown")
            return
        try:
            self._teardown()
        finally:
            self._poll_lock.release()

    def _poll_locked(self, started: float) -> None:
        if self._nvml is None:
            self._publish([], started)
            return
        if self._init_due(started):
            self._reinitialise()
        engine_of_pid = self._engine_of_pid()
        readers = list(self._readers)
        # One GPU after the other. A thread per GPU was measured on 2x H200 (issue 19): NVML's costly calls spin on
        # the CPU and serialise (2 GPUs took 1.93x the wall time of 1), and nvmlGpmMetricsGet crashed the process
        # when two threads called it.
        results = [self._read(reader, engine_of_pid) for reader in readers]
        points: list[Point] = []
        for reader, result in zip(readers, results, strict=True):
            if isinstance(result, NvmlDownError):
                log.warning("NVML stopped working: %s; re-initialising with backoff", result)
                self._teardown()
                self._schedule_init(success=False)
                points = []
                break
            if isinstance(result, Exception):
                self._mark_lost(reader, result)
            else:
                points.extend(result)
        self._healthy = self._initialised and bool(self._readers)
        if self._healthy:
            self._last_success = self._wall_clock()
        self._publish(points, started)

    def _read(self, reader: GpuReader, engine_of_pid: Mapping[int, str]) -> list[Point] | Exception:
        """One GPU's labelled points (none for a GPU this collector does not report), or the error that ended it."""
        try:
            if self._devices == ENGINE_DEVICES and reader.identity.uuid not in self._claimed:
                if not reader.holds_engine(engine_of_pid):
                    return []
                self._claimed.add(reader.identity.uuid)
            return self._labelled(reader, reader.read(engine_of_pid))
        except (DeviceLostError, NvmlDownError) as error:
            return error

    def _labelled(self, reader: GpuReader, points: list[Point]) -> list[Point]:
        identity = reader.identity
        info = {
            **identity.labels,
            "name": identity.name,
            "pci_bus_id": identity.pci_bus_id,
            **self._driver_labels,
            "vbios_version": identity.vbios_version,
            "compute_capability": identity.compute_capability,
        }
        labelled = [Point("llm_gpu_info", info, 1.0), Point("llm_gpu_up", identity.labels, 1.0)]
        labelled.extend(Point(p.name, {**identity.labels, **p.labels}, p.value) for p in points)
        return labelled

    def _publish(self, points: list[Point], started: float) -> None:
        points.append(Point("llm_gpu_nvml_up", {}, 1.0 if self._initialised else 0.0))
        points.extend(Point("llm_gpu_up", labels, 0.0) for labels in self._lost.values())
        points.extend(
            Point("llm_gpu_xid_errors_total", {"gpu": gpu, "uuid": uuid, "xid": xid}, float(count))
            for (gpu, uuid, xid), count in self._xids.items()
        )
        points.append(Point("llm_gpu_collect_duration_seconds", {}, self._clock() - started))
        if self._last_success is not None:
            points.append(Point("llm_gpu_last_collect_success_timestamp_seconds", {}, self._last_success))
        self._snapshot = build_families(points)

    def _engine_of_pid(self) -> dict[int, str]:
        if self._engine_pids is None:
            return {}
        try:
            found = self._engine_pids()
        except Exception:  # the PID source is the daemon's; its failure must not stop GPU metrics
            log.exception("engine PID lookup failed")
            return {}
        by_engine = found if isinstance(found, Mapping) else {self._engine_type: found}
        return {pid: engine_type for engine_type, pids in by_engine.items() for pid in pids}

    def _init_due(self, now: float) -> bool:
        incomplete = not self._initialised or not self._readers or bool(self._lost)
        return incomplete and now >= self._next_init_at

    def _schedule_init(self, success: bool) -> None:
        if success:
            self._backoff_s = self.interval_s
        self._next_init_at = self._clock() + self._backoff_s
        if not success:
            self._backoff_s = min(self._backoff_s * 2, MAX_BACKOFF_S)

    def _reinitialise(self) -> None:
        nvml = self._nvml
        assert nvml is not None
        had_tried = self._next_init_at > 0
        self._teardown()
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as error:
            log.log(logging.INFO if had_tried else logging.WARNING, "NVML unavailable: %s", error)
            self._schedule_init(success=False)
            return
        self._initialised = True
        try:
            self._driver_labels = {
                "driver_version": str(nvml.nvmlSystemGetDriverVersion()),
                "cuda_driver_version": _cuda_version(nvml.nvmlSystemGetCudaDriverVersion()),
            }
            count = nvml.nvmlDeviceGetCount()
        except nvml.NVMLError as error:
            log.warning("NVML initialised but cannot list GPUs: %s", error)
            self._teardown()
            self._schedule_init(success=False)
            return
        for index in range(count):
            self._open(index)
        if not self._readers:
            log.warning("NVML sees no GPU (%d listed); a container sees only the GPUs injected into it", count)
        handles = {handle_key(r.guard.handle): r.identity.labels for r in self._readers}
        self._watcher = XidWatcher(nvml, handles, self._xids, [r.guard.handle for r in self._readers])
        self._schedule_init(success=bool(self._readers) and not self._lost)

    def _open(self, index: int) -> None:
        nvml = self._nvml
        assert nvml is not None and self._kinds is not None
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            reader = GpuReader(
                nvml,
                index,
                handle,
                self._kinds,
                self.interval_s,
                self._wall_clock,
                clock=self._clock,
                sampled_utilization=self._sampled_utilization,
            )
        except (nvml.NVMLError, DeviceLostError, NvmlDownError) as error:
            log.warning("GPU %d cannot be opened: %s", index, error)
            return
        self._lost.pop(reader.identity.uuid, None)
        if isinstance(self._devices, str) or {str(index), reader.identity.uuid} & self._devices:
            self._readers.append(reader)
        else:
            reader.close()

    def _mark_lost(self, reader: GpuReader, error: Exception) -> None:
        log.warning("GPU %s (%s) lost: %s", reader.identity.index, reader.identity.uuid, error)
        self._lost[reader.identity.uuid] = reader.identity.labels
        self._readers.remove(reader)
        reader.close()
        self._schedule_init(success=False)

    def _teardown(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        for reader in self._readers:
            reader.close()
        self._readers = []
        if self._initialised and self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError as error:
                log.debug("nvmlShutdown: %s", error)
        self._initialised = False
