# ruff: noqa: N802 - the fake mirrors pynvml's function names
"""A fake of the small pynvml surface the GPU collector calls, seeded from real H100/H200 captures.

Errors are the real pynvml.NVMLError_* classes (pynvml.NVMLError(code) builds the subclass without a driver);
constants and ctypes structs come from the real binding, so units, value types and struct layouts are NVML's.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pynvml

CAPTURES = Path(__file__).resolve().parents[2] / "fixtures" / "gpu"
H100_CAPTURE = CAPTURES / "nvml-bench__h100-80gb-hbm3__580.159.04.json"
H200_CAPTURE = CAPTURES / "nvml-bench__2x-h200__580.159.04.json"

# Getters whose captured return value the fake answers as is (FakeGpu.values).
_CAPTURED_GETTERS = (
    "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetEnforcedPowerLimit",
    "nvmlDeviceGetCurrentClocksEventReasons",
    "nvmlDeviceGetSupportedClocksEventReasons",
    "nvmlDeviceGetRemappedRows",
)
_GPM_NAMES = ("SM_UTIL", "SM_OCCUPANCY", "ANY_TENSOR_UTIL", "DRAM_BW_UTIL")
SAMPLE_PERIOD_US = 200_000  # the H100/H200 driver's utilization sample spacing (capture timestamps)


@dataclass(frozen=True)
class FakeHandle:
    """A device handle: hashable, not a ctypes pointer (like an opaque nvmlDevice_t)."""

    index: int


@dataclass
class FakeGpu:
    """One GPU's answers. Tests mutate these to change what the next call returns."""

    uuid: str
    name: str
    pci_bus_id: str
    compute_capability: tuple[int, int]
    values: dict[str, Any]
    memory: dict[str, int]
    temperature: int
    slowdown: int
    clocks: dict[str, int]  # "sm"/"memory" -> MHz
    max_clocks: dict[str, int]
    utilization: tuple[int, int]  # gpu %, memory %
    fields: dict[int, tuple[int, float] | int]  # field id -> (value type, value) or an NVML error code
    gpm_percent: dict[str, float]
    gpm_supported: bool = True
    event_types: int = 0xFF9F
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, usedGpuMemory)
    samples: dict[int, list[tuple[int, int]]] | None = None  # explicit (timestamp us, percent) lists
    errors: dict[str, int] = field(default_factory=dict)  # call name -> NVML error code it raises
    fail_all: int | None = None  # an NVML error code every device call raises
    lost: bool = False
    block: threading.Event | None = None  # calls named in blocking wait until this is set
    blocking: frozenset[str] = frozenset()

    @classmethod
    def from_capture(cls, path: Path = H100_CAPTURE, *, loaded: bool = False, uuid: str | None = None) -> FakeGpu:
        """A GPU answering like the captured one (idle, or under the capture's matmul load)."""
        capture = json.loads(path.read_text())
        meta, calls = capture["meta"], capture["calls"]
        load = capture.get("load", {}) if loaded else {}
        load_calls = load.get("calls", {})

        def value(name: str) -> Any:
            return (load_calls.get(name) or calls[name])["value"]

        fields: dict[int, tuple[int, float] | int] = {}
        for name, row in capture["fields"]["per_field"].items():
            loaded_value = load.get("fields", {}).get(name, [None])[0]
            if row["error"]:
                fields[row["id"]] = _error_code(row["error"])
            else:
                fields[row["id"]] = (row["valueType"], loaded_value if loaded_value is not None else row["value"])
        nvlink = capture["fields"].get("nvlink_throughput", {})
        for fid, key in (
            (pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, "TX"),
            (pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, "RX"),
        ):
            answers = nvlink.get(f"NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_{key}[scope=UINT_MAX]", [[None, "NS"]])
            got, error = answers[0]
            fields[fid] = (
                (pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, got) if error is None else pynvml.NVML_ERROR_NOT_SUPPORTED
            )
        utilization = value("nvmlDeviceGetUtilizationRates")
        memory = value("nvmlDeviceGetMemoryInfo(v2)")
        gpm = (load.get("gpm") or capture["gpm"].get("idle") or {}).get("values", {})
        processes = [(495, memory["used"])] if loaded else []  # the capture's load PID held all used memory
        return cls(
            uuid=uuid or meta["dev0_uuid"],
            name=meta["dev0_name"],
            pci_bus_id=meta["dev0_pci"]["busId"],
            compute_capability=tuple(meta["dev0_cuda_cc"]),  # type: ignore[arg-type]
            values={name: value(name) for name in _CAPTURED_GETTERS}
            | {"nvmlDeviceGetVbiosVersion": meta["dev0_vbios"]},
            memory={k: memory[k] for k in ("total", "reserved", "free", "used")},
            temperature=value("nvmlDeviceGetTemperature(GPU)"),
            slowdown=value("nvmlDeviceGetTemperatureThreshold(SLOWDOWN)"),
            clocks={"sm": value("nvmlDeviceGetClockInfo(SM)"), "memory": value("nvmlDeviceGetClockInfo(MEM)")},
            max_clocks={
                "sm": value("nvmlDeviceGetMaxClockInfo(SM)"),
                "memory": value("nvmlDeviceGetMaxClockInfo(MEM)"),
            },
            utilization=(utilization["gpu"], utilization["memory"]),
            fields=fields,
            gpm_percent={name: gpm.get(name, 0.0) for name in _GPM_NAMES},
            gpm_supported=bool(capture["gpm"].get("supported")),
            event_types=int(capture["events"]["supported_event_types_dev0"], 16),
            processes=processes,
        )


def _error_code(class_name: str) -> int:
    """The NVML return code of a pynvml error class name such as 'NVMLError_NotSupported'."""
    for code in range(1000):
        if type(pynvml.NVMLError(code)).__name__ == class_name:
            return code
    raise KeyError(class_name)


class FakeNvml:
    """Module-like stand-in for pynvml: device functions are fakes, everything else is the real binding."""

    def __init__(
        self,
        gpus: list[FakeGpu],
        *,
        wall_clock: Callable[[], float] = time.time,
        driver: str = "580.159.04",
        cuda: int = 13000,
    ) -> None:
        self.gpus = gpus
        self.wall_clock = wall_clock
        self.driver = driver
        self.cuda = cuda
        self.init_error: int | None = None  # code nvmlInit raises
        self.calls: Counter[str] = Counter()
        self.field_requests: list[list[tuple[int, int]]] = []
        self.events: queue.Queue[SimpleNamespace] = queue.Queue()
        self.initialised = 0
        self.free_samples = 0
        self.free_event_sets = 0
        self.missing: set[str] = set()  # functions the "binding" lacks (AttributeError)
        self.last_gpm_gpu: FakeGpu | None = None

    def __getattr__(self, name: str) -> Any:
        if name in self.missing:
            raise AttributeError(name)
        real = getattr(pynvml, name)
        if callable(real) and not isinstance(real, type):
            raise AttributeError(f"FakeNvml does not fake {name}")
        return real

    # -- library
    def nvmlInit(self) -> None:
        self.calls["nvmlInit"] += 1
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.calls["nvmlShutdown"] += 1
        self.initialised -= 1

    def _library(self, name: str) -> None:
        self.calls[name] += 1
        if self.initialised <= 0:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)

    def nvmlSystemGetDriverVersion(self) -> str:
        self._library("nvmlSystemGetDriverVersion")
        return self.driver

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._library("nvmlSystemGetCudaDriverVersion")
        return self.cuda

    def nvmlDeviceGetCount(self) -> int:
        self._library("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeHandle:
        self._library("nvmlDeviceGetHandleByIndex")
        if self.gpus[index].lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        return FakeHandle(index)

    def _gpu(self, name: str, handle: FakeHandle) -> FakeGpu:
        self._library(name)
        gpu = self.gpus[handle.index]
        if gpu.block is not None and name in gpu.blocking:
            gpu.block.wait()
        if gpu.lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        if name in gpu.errors or gpu.fail_all is not None:
            raise pynvml.NVMLError(gpu.errors.get(name, gpu.fail_all))
        return gpu

    # -- identity and static values
    def nvmlDeviceGetUUID(self, handle: FakeHandle) -> str:
        return self._gpu("nvmlDeviceGetUUID", handle).uuid

    def nvmlDeviceGetName(self, handle: FakeHandle) -> str:
        return self._gpu("nvmlDeviceGetName", handle).name

    def nvmlDeviceGetPciInfo(self, handle: FakeHandle) -> Any:
        info = pynvml.nvmlPciInfo_t()
        info.busId = self._gpu("nvmlDeviceGetPciInfo", handle).pci_bus_id.encode()
        return info

    def nvmlDeviceGetVbiosVersion(self, handle: FakeHandle) -> str:
        return str(self._gpu("nvmlDeviceGetVbiosVersion", handle).values["nvmlDeviceGetVbiosVersion"])

    def nvmlDeviceGetCudaComputeCapability(self, handle: FakeHandle) -> tuple[int, int]:
        return self._gpu("nvmlDeviceGetCudaComputeCapability", handle).compute_capability

    def nvmlDeviceGetTemperatureThreshold(self, handle: FakeHandle, threshold: int) -> int:
        gpu = self._gpu("nvmlDeviceGetTemperatureThreshold", handle)
        if threshold != pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu.slowdown

    def nvmlDeviceGetMaxClockInfo(self, handle: FakeHandle, clock: int) -> int:
        return self._gpu("nvmlDeviceGetMaxClockInfo", handle).max_clocks[_clock_name(clock)]

    def nvmlDeviceGetSupportedClocksEventReasons(self, handle: FakeHandle) -> int:
        return int(
            self._gpu("nvmlDeviceGetSupportedClocksEventReasons", handle).values[
                "nvmlDeviceGetSupportedClocksEventReasons"
            ]
        )

    # -- per poll
    def nvmlDeviceGetSamples(self, handle: FakeHandle, sampling_type: int, since: int) -> tuple[int, list[Any]]:
        gpu = self._gpu("nvmlDeviceGetSamples", handle)
        if gpu.samples is not None:
            raw = gpu.samples.get(sampling_type, [])
        else:  # the driver's buffer: one sample per period at the current utilization
            now = int(self.wall_clock() * 1e6)
            percent = gpu.utilization[0 if sampling_type == pynvml.NVML_GPU_UTILIZATION_SAMPLES else 1]
            raw = [(ts, percent) for ts in range(now - 20 * SAMPLE_PERIOD_US, now + 1, SAMPLE_PERIOD_US)]
        fresh = [(ts, percent) for ts, percent in raw if ts > since]
        if not fresh:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        samples = []
        for ts, percent in fresh:
            sample = pynvml.c_nvmlSample_t()
            sample.timeStamp = ts
            sample.sampleValue.uiVal = percent
            samples.append(sample)
        return pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, samples

    def nvmlDeviceGetUtilizationRates(self, handle: FakeHandle) -> Any:
        gpu = self._gpu("nvmlDeviceGetUtilizationRates", handle)
        rates = pynvml.c_nvmlUtilization_t()
        rates.gpu, rates.memory = gpu.utilization
        return rates

    def nvmlDeviceGetMemoryInfo(self, handle: FakeHandle, version: int | None = None) -> Any:
        name = "nvmlDeviceGetMemoryInfo_v2" if version else "nvmlDeviceGetMemoryInfo"
        gpu = self._gpu(name, handle)
        if version:
            memory = pynvml.c_nvmlMemory_v2_t()
            memory.version = version
            for key, value in gpu.memory.items():
                setattr(memory, key, value)
            return memory
        v1 = pynvml.c_nvmlMemory_t()
        v1.total, v1.free = gpu.memory["total"], gpu.memory["free"]
        v1.used = gpu.memory["used"] + gpu.memory["reserved"]  # v1 counts the reservation as used
        return v1

    def nvmlDeviceGetPowerUsage(self, handle: FakeHandle) -> int:
        return int(self._gpu("nvmlDeviceGetPowerUsage", handle).values["nvmlDeviceGetPowerUsage"])

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeHandle) -> int:
        answer = self._gpu("nvmlDeviceGetTotalEnergyConsumption", handle).fields[
            pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION
        ]
        assert not isinstance(answer, int), "the capture has no energy counter"
        return int(answer[1])

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: FakeHandle) -> int:
        return int(self._gpu("nvmlDeviceGetEnforcedPowerLimit", handle).values["nvmlDeviceGetEnforcedPowerLimit"])

    def nvmlDeviceGetTemperatureV(self, handle: FakeHandle, sensor: int) -> int:
        return self._gpu("nvmlDeviceGetTemperatureV", handle).temperature

    def nvmlDeviceGetTemperature(self, handle: FakeHandle, sensor: int) -> int:
        return self._gpu("nvmlDeviceGetTemperature", handle).temperature

    def nvmlDeviceGetClockInfo(self, handle: FakeHandle, clock: int) -> int:
        return self._gpu("nvmlDeviceGetClockInfo", handle).clocks[_clock_name(clock)]

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: FakeHandle) -> int:
        return int(
            self._gpu("nvmlDeviceGetCurrentClocksEventReasons", handle).values["nvmlDeviceGetCurrentClocksEventReasons"]
        )

    def nvmlDeviceGetFieldValues(self, handle: FakeHandle, ids: list[tuple[int, int]]) -> Any:
        gpu = self._gpu("nvmlDeviceGetFieldValues", handle)
        self.field_requests.append(list(ids))
        values = (pynvml.c_nvmlFieldValue_t * len(ids))()
        for slot, (field_id, scope) in enumerate(ids):
            values[slot].fieldId, values[slot].scopeId = field_id, scope
            answer = gpu.fields.get(field_id, pynvml.NVML_ERROR_NOT_SUPPORTED)
            if isinstance(answer, int):
                values[slot].nvmlReturn = answer
                continue
            value_type, value = answer
            values[slot].valueType = value_type
            member = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")[value_type]
            setattr(values[slot].value, member, value)
        return values

    def nvmlDeviceGetRemappedRows(self, handle: FakeHandle) -> tuple[int, int, int, int]:
        return tuple(
            self._gpu("nvmlDeviceGetRemappedRows", handle).values[  # type: ignore[return-value]
                "nvmlDeviceGetRemappedRows"
            ]
        )

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeHandle) -> list[Any]:
        gpu = self._gpu("nvmlDeviceGetComputeRunningProcesses", handle)
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.processes]

    # -- GPM
    def nvmlGpmQueryDeviceSupport(self, handle: FakeHandle) -> Any:
        support = pynvml.c_nvmlGpmSupport_t()
        support.isSupportedDevice = int(self._gpu("nvmlGpmQueryDeviceSupport", handle).gpm_supported)
        return support

    def nvmlGpmSampleAlloc(self) -> Any:
        self._library("nvmlGpmSampleAlloc")
        return pynvml.c_nvmlGpmSample_t()

    def nvmlGpmSampleFree(self, sample: Any) -> None:
        self._library("nvmlGpmSampleFree")
        self.free_samples += 1

    def nvmlGpmSampleGet(self, handle: FakeHandle, sample: Any) -> Any:
        self._gpu("nvmlGpmSampleGet", handle)
        self.last_gpm_gpu = self.gpus[handle.index]
        return sample

    def nvmlGpmMetricsGet(self, request: Any) -> Any:
        self._library("nvmlGpmMetricsGet")
        assert self.last_gpm_gpu is not None, "nvmlGpmMetricsGet before any nvmlGpmSampleGet"
        by_id = {getattr(pynvml, f"NVML_GPM_METRIC_{name}"): name for name in _GPM_NAMES}
        for slot in range(request.numMetrics):
            metric = request.metrics[slot]
            metric.value = self.last_gpm_gpu.gpm_percent[by_id[metric.metricId]]
            metric.nvmlReturn = 0
        return request

    # -- events
    def nvmlEventSetCreate(self) -> object:
        self._library("nvmlEventSetCreate")
        return object()

    def nvmlEventSetFree(self, event_set: object) -> None:
        self._library("nvmlEventSetFree")
        self.free_event_sets += 1

    def nvmlDeviceGetSupportedEventTypes(self, handle: FakeHandle) -> int:
        return self._gpu("nvmlDeviceGetSupportedEventTypes", handle).event_types

    def nvmlDeviceRegisterEvents(self, handle: FakeHandle, mask: int, event_set: object) -> None:
        self._gpu("nvmlDeviceRegisterEvents", handle)

    def nvmlEventSetWait_v2(self, event_set: object, timeout_ms: int) -> SimpleNamespace:
        self.calls["nvmlEventSetWait_v2"] += 1
        try:
            # At most 50 ms: the waiting thread loops the same on a timeout, and a test closing the collector
            # would otherwise wait out the real 500 ms.
            return self.events.get(timeout=min(timeout_ms, 50) / 1000.0)
        except queue.Empty:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT) from None

    def raise_xid(self, index: int, xid: int) -> None:
        """Deliver an Xid critical-error event for GPU `index`, as the driver would."""
        self.events.put(
            SimpleNamespace(
                device=FakeHandle(index),
                eventType=pynvml.nvmlEventTypeXidCriticalError,
                eventData=xid,
                gpuInstanceId=0xFFFFFFFF,
                computeInstanceId=0xFFFFFFFF,
            )
        )


def _clock_name(clock: int) -> str:
    return {pynvml.NVML_CLOCK_SM: "sm", pynvml.NVML_CLOCK_MEM: "memory"}[clock]
