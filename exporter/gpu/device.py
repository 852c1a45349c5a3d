"""One GPU: its identity and limits, read once, and the metric points read on every poll."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

from exporter.gpu.calls import CallGuard, DeviceLostError, ErrorKinds, NvmlDownError
from exporter.gpu.gpm import GpmSampler, gpm_supported

# Scope id meaning "all NVLink links" in a field-value request.
ALL_LINKS = 0xFFFFFFFF
# How often the values read less often than every poll are read again, by cadence. Counters' rates are taken over
# minutes, and the energy counter alone costs ~3 ms of CPU per GPU (measured on H200, issue 19): read them every
# 15 s. Fault counts (ECC, row remapping, PCIe replays) move only on a hardware fault: every 60 s.
CADENCE_S = {"counter": 15.0, "fault": 60.0}


class Point(NamedTuple):
    """One value for a unified family, with the labels beyond gpu and uuid."""

    name: str
    labels: dict[str, str]
    value: float


class FieldRow(NamedTuple):
    """A field-value id read in a field batch, and where its value goes."""

    field: str  # pynvml constant name
    scope: int
    family: str
    labels: dict[str, str]
    raw_per_unit: float  # divide by this (division keeps mJ -> J exact in decimal: 1234/1000, not 1234*1e-3)
    cadence: str = "poll"  # "poll": every poll; else a CADENCE_S key


# The field batches, one per cadence. Field-only values (memory temperature, clock-event time, NVLink bytes) plus
# counters that ride along; units per notes/gpu.md §2.4.
FIELD_ROWS = (
    FieldRow("NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 0, "llm_gpu_energy_joules_total", {}, 1000.0, "counter"),  # mJ
    FieldRow("NVML_FI_DEV_MEMORY_TEMP", 0, "llm_gpu_temperature_celsius", {"sensor": "memory"}, 1.0),
    FieldRow(
        "NVML_FI_DEV_ECC_SBE_VOL_TOTAL",
        0,
        "llm_gpu_ecc_errors_total",
        {"type": "corrected", "counter": "volatile"},
        1.0,
        cadence="fault",
    ),
    FieldRow(
        "NVML_FI_DEV_ECC_DBE_VOL_TOTAL",
        0,
        "llm_gpu_ecc_errors_total",
        {"type": "uncorrected", "counter": "volatile"},
        1.0,
        cadence="fault",
    ),
    FieldRow(
        "NVML_FI_DEV_ECC_SBE_AGG_TOTAL",
        0,
        "llm_gpu_ecc_errors_total",
        {"type": "corrected", "counter": "aggregate"},
        1.0,
        cadence="fault",
    ),
    FieldRow(
        "NVML_FI_DEV_ECC_DBE_AGG_TOTAL",
        0,
        "llm_gpu_ecc_errors_total",
        {"type": "uncorrected", "counter": "aggregate"},
        1.0,
        cadence="fault",
    ),
    FieldRow(
        "NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_POWER_CAP",
        0,
        "llm_gpu_clock_event_seconds_total",
        {"reason": "sw_power_cap"},
        1e9,
        "counter",
    ),  # ns
    FieldRow(
        "NVML_FI_DEV_CLOCKS_EVENT_REASON_SYNC_BOOST",
        0,
        "llm_gpu_clock_event_seconds_total",
        {"reason": "sync_boost"},
        1e9,
        "counter",
    ),
    FieldRow(
        "NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_THERM_SLOWDOWN",
        0,
        "llm_gpu_clock_event_seconds_total",
        {"reason": "sw_thermal_slowdown"},
        1e9,
        "counter",
    ),
    FieldRow(
        "NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_THERM_SLOWDOWN",
        0,
        "llm_gpu_clock_event_seconds_total",
        {"reason": "hw_thermal_slowdown"},
        1e9,
        "counter",
    ),
    FieldRow(
        "NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN",
        0,
        "llm_gpu_clock_event_seconds_total",
        {"reason": "hw_power_brake_slowdown"},
        1e9,
        "counter",
    ),
    FieldRow("NVML_FI_DEV_PCIE_REPLAY_COUNTER", 0, "llm_gpu_pcie_replays_total", {}, 1.0, cadence="fault"),
    FieldRow(
        "NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX",
        ALL_LINKS,
        "llm_gpu_nvlink_transmit_bytes_total",
        {},
        1 / 1024,
        "counter",
    ),
    FieldRow(
        "NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX",
        ALL_LINKS,
        "llm_gpu_nvlink_receive_bytes_total",
        {},
        1 / 1024,
        "counter",
    ),
)

# Clock-event reason bits (nvmlClocksEventReason*) -> reason label.
CLOCK_EVENT_REASONS = (
    ("nvmlClocksEventReasonGpuIdle", "gpu_idle"),
    ("nvmlClocksEventReasonApplicationsClocksSetting", "applications_clocks_setting"),
    ("nvmlClocksEventReasonSwPowerCap", "sw_power_cap"),
    ("nvmlClocksEventReasonHwSlowdown", "hw_slowdown"),
    ("nvmlClocksEventReasonSyncBoost", "sync_boost"),
    ("nvmlClocksEventReasonSwThermalSlowdown", "sw_thermal_slowdown"),
    ("nvmlClocksEventReasonHwThermalSlowdown", "hw_thermal_slowdown"),
    ("nvmlClocksEventReasonHwPowerBrakeSlowdown", "hw_power_brake_slowdown"),
    ("nvmlClocksEventReasonDisplayClockSetting", "display_clock_setting"),
)

# c_nvmlValue_t member for each NVML_VALUE_TYPE_* (0..6).
_UNION_MEMBER = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")


def union_value(value_type: int, value: Any) -> float:
    """The number inside a c_nvmlValue_t, read through the member its value type names."""
    return float(getattr(value, _UNION_MEMBER[value_type]))


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Identity:
    """What names a GPU: index and UUID (the labels) and the facts for llm_gpu_info."""

    index: int
    uuid: str
    name: str
    pci_bus_id: str
    vbios_version: str
    compute_capability: str

    @property
    def labels(self) -> dict[str, str]:
        """The identity labels every series of this GPU carries."""
        return {"gpu": str(self.index), "uuid": self.uuid}


def read_identity(guard: CallGuard, index: int) -> Identity:
    """Identity getters, once per NVML initialisation; a GPU without a UUID counts as lost."""
    uuid = guard.call("nvmlDeviceGetUUID")
    if not uuid:
        raise DeviceLostError(f"GPU {index} has no UUID")
    pci = guard.call("nvmlDeviceGetPciInfo")
    capability = guard.call("nvmlDeviceGetCudaComputeCapability")
    return Identity(
        index=index,
        uuid=_text(uuid),
        name=_text(guard.call("nvmlDeviceGetName") or ""),
        pci_bus_id=_text(pci.busId) if pci is not None else "",
        vbios_version=_text(guard.call("nvmlDeviceGetVbiosVersion") or ""),
        compute_capability=f"{capability[0]}.{capability[1]}" if capability else "",
    )


class GpuReader:
    """Reads one GPU through NVML: static values at start, a list of points per poll."""

    def __init__(
        self,
        nvml: ModuleType,
        index: int,
        handle: Any,
        kinds: ErrorKinds,
        interval_s: float,
        wall_clock: Callable[[], float] = time.time,
        *,
        clock: Callable[[], float] = time.monotonic,
        sampled_utilization: bool = True,
    ) -> None:
        self._nvml = nvml
        self.guard = CallGuard(nvml, handle, kinds)
        self._interval_s = interval_s
        self._wall_clock = wall_clock
        self._clock = clock
        self._sampled = sampled_utilization
        self.identity = read_identity(self.guard, index)
        self._static = self._read_static()
        self._reasons = self._supported_reasons()
        known = [row for row in FIELD_ROWS if hasattr(nvml, row.field)]
        self._batches = {cadence: [row for row in known if row.cadence == cadence] for cadence in ("poll", *CADENCE_S)}
        self._held: dict[str, list[Point]] = dict.fromkeys(CADENCE_S, [])
        self._due = dict.fromkeys(CADENCE_S, 0.0)
        self._samples_since = 0
        self._gpm = GpmSampler(nvml, self.guard) if gpm_supported(nvml, self.guard) else None

    def _read_static(self) -> list[Point]:
        nvml, call = self._nvml, self.guard.call
        points = []
        slowdown = call("nvmlDeviceGetTemperatureThreshold", nvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)
        if slowdown is not None:
            points.append(Point("llm_gpu_temperature_slowdown_celsius", {}, float(slowdown)))
        for clock, domain in ((nvml.NVML_CLOCK_SM, "sm"), (nvml.NVML_CLOCK_MEM, "memory")):
            mhz = call("nvmlDeviceGetMaxClockInfo", clock)
            if mhz is not None:
                points.append(Point("llm_gpu_clock_max_hertz", {"clock": domain}, mhz * 1e6))
        return points

    def _supported_reasons(self) -> list[tuple[int, str]]:
        # Only reasons this GPU can report get a series; the rest would be constant zeros.
        supported = self.guard.call("nvmlDeviceGetSupportedClocksEventReasons") or 0
        return [
            (getattr(self._nvml, bit), reason)
            for bit, reason in CLOCK_EVENT_REASONS
            if hasattr(self._nvml, bit) and supported & getattr(self._nvml, bit)
        ]

    def read(self, engine_of_pid: Mapping[int, str]) -> list[Point]:
        """Every per-poll point of this GPU; raises DeviceLostError or NvmlDownError when it must stop."""
        points = list(self._static)
        self._read_utilization(points)
        self._read_memory(points)
        self._read_power_and_thermals(points)
        self._read_fields(points, self._batches["poll"], "poll")
        for cadence in CADENCE_S:
            points.extend(self._read_held(cadence))
        self._read_processes(points, engine_of_pid)
        if self._gpm is not None:
            points.extend(Point(family, {}, ratio) for family, ratio in self._gpm.read())
        return points

    def _sampled_utilization(self) -> float | None:
        # Mean of the driver's samples since the last poll (first poll: the last interval), not one snapshot.
        since = self._samples_since or int((self._wall_clock() - self._interval_s) * 1e6)
        answer = self.guard.call(
            "nvmlDeviceGetSamples", self._nvml.NVML_GPU_UTILIZATION_SAMPLES, since, key="nvmlDeviceGetSamples"
        )
        if not answer:
            return None
        value_type, samples = answer
        fresh = [sample for sample in samples if sample.timeStamp > since]
        if not fresh:
            return None
        self._samples_since = max(sample.timeStamp for sample in fresh)
        return sum(union_value(value_type, sample.sampleValue) for sample in fresh) / len(fresh) / 100.0

    def _read_utilization(self, points: list[Point]) -> None:
        # Memory-controller busy comes from the rates (one call, microseconds): its samples would cost another
        # ~2 ms per GPU, and on Hopper+ GPM's DRAM-active ratio is the interval average (notes/gpu.md §6.2).
        gpu = self._sampled_utilization() if self._sampled else None
        rates = self.guard.call("nvmlDeviceGetUtilizationRates")
        if gpu is None and rates is not None:
            gpu = rates.gpu / 100.0
        if gpu is not None:
            points.append(Point("llm_gpu_utilization_ratio", {}, gpu))
        if rates is not None:
            points.append(Point("llm_gpu_memory_bandwidth_utilization_ratio", {}, rates.memory / 100.0))

    def _read_memory(self, points: list[Point]) -> None:
        # v2 first: v1's "used" counts the driver's reservation (notes/gpu.md §2.1).
        memory = self.guard.call("nvmlDeviceGetMemoryInfo", getattr(self._nvml, "nvmlMemory_v2", 0x02000028))
        if memory is None:
            memory = self.guard.call("nvmlDeviceGetMemoryInfo")
        if memory is None:
            return
        points.append(Point("llm_gpu_memory_used_bytes", {}, float(memory.used)))
        points.append(Point("llm_gpu_memory_free_bytes", {}, float(memory.free)))
        points.append(Point("llm_gpu_memory_total_bytes", {}, float(memory.total)))
        if hasattr(memory, "reserved"):
            points.append(Point("llm_gpu_memory_reserved_bytes", {}, float(memory.reserved)))

    def _read_power_and_thermals(self, points: list[Point]) -> None:
        nvml, call = self._nvml, self.guard.call
        power = call("nvmlDeviceGetPowerUsage")
        if power is not None:
            points.append(Point("llm_gpu_power_watts", {}, power / 1000.0))
        limit = call("nvmlDeviceGetEnforcedPowerLimit")
        if limit is not None:
            points.append(Point("llm_gpu_power_limit_watts", {}, limit / 1000.0))
        # nvmlDeviceGetTemperature is deprecated (removed in CUDA 14); V first, the old call on older bindings.
        temperature = call("nvmlDeviceGetTemperatureV", nvml.NVML_TEMPERATURE_GPU)
        if temperature is None:
            temperature = call("nvmlDeviceGetTemperature", nvml.NVML_TEMPERATURE_GPU)
        if temperature is not None:
            points.append(Point("llm_gpu_temperature_celsius", {"sensor": "gpu"}, float(temperature)))
        for clock, domain in ((nvml.NVML_CLOCK_SM, "sm"), (nvml.NVML_CLOCK_MEM, "memory")):
            mhz = call("nvmlDeviceGetClockInfo", clock)
            if mhz is not None:
                points.append(Point("llm_gpu_clock_hertz", {"clock": domain}, mhz * 1e6))
        active = call("nvmlDeviceGetCurrentClocksEventReasons")
        if active is not None:
            points.extend(
                Point("llm_gpu_clock_event_active", {"reason": reason}, 1.0 if active & bit else 0.0)
                for bit, reason in self._reasons
            )

    def _read_held(self, cadence: str) -> list[Point]:
        # Read again once the cadence has passed; the polls in between repeat the values held.
        now = self._clock()
        if now >= self._due[cadence]:
            self._due[cadence] = now + CADENCE_S[cadence]
            fresh: list[Point] = []
            self._read_fields(fresh, self._batches[cadence], cadence)
            if cadence == "fault":
                self._read_remapped_rows(fresh)
            self._held[cadence] = fresh
        return self._held[cadence]

    def _read_fields(self, points: list[Point], batch: list[FieldRow], name: str) -> None:
        rows = [row for row in batch if ("field", row.field) not in self.guard.unsupported]
        if not rows:
            return
        ids = [(getattr(self._nvml, row.field), row.scope) for row in rows]
        values = self.guard.call("nvmlDeviceGetFieldValues", ids, key=("nvmlDeviceGetFieldValues", name))
        if values is None:
            return
        # The batch succeeds if any entry does: each entry's own return code decides (notes/gpu.md §2.2).
        for row, value in zip(rows, values, strict=True):
            if value.nvmlReturn != 0:
                self.guard.check(("field", row.field), value.nvmlReturn)
                continue
            raw = union_value(value.valueType, value.value)
            points.append(Point(row.family, dict(row.labels), raw / row.raw_per_unit))

    def _read_remapped_rows(self, points: list[Point]) -> None:
        remapped = self.guard.call("nvmlDeviceGetRemappedRows")
        if remapped is None:
            return
        corrected, uncorrected, pending, failed = remapped
        points.append(Point("llm_gpu_remapped_rows_total", {"type": "corrected"}, float(corrected)))
        points.append(Point("llm_gpu_remapped_rows_total", {"type": "uncorrected"}, float(uncorrected)))
        points.append(Point("llm_gpu_row_remap_pending", {}, float(pending)))
        points.append(Point("llm_gpu_row_remap_failed", {}, float(failed)))

    def holds_engine(self, engine_of_pid: Mapping[int, str]) -> bool:
        """Whether one of the engine's processes holds memory on this GPU now."""
        processes = self.guard.call("nvmlDeviceGetComputeRunningProcesses") or []
        return any(process.pid in engine_of_pid for process in processes)

    def _read_processes(self, points: list[Point], engine_of_pid: Mapping[int, str]) -> None:
        processes = self.guard.call("nvmlDeviceGetComputeRunningProcesses")
        if processes is None:
            return
        points.append(Point("llm_gpu_processes", {}, float(len(processes))))
        engine_bytes: dict[str, float] = {}
        for process in processes:
            engine_type = engine_of_pid.get(process.pid)
            if engine_type is not None and process.usedGpuMemory is not None:
                engine_bytes[engine_type] = engine_bytes.get(engine_type, 0.0) + process.usedGpuMemory
        points.extend(
            Point("llm_gpu_engine_memory_used_bytes", {"engine_type": engine_type}, used)
            for engine_type, used in sorted(engine_bytes.items())
        )

    def close(self) -> None:
        """Release NVML resources held for this GPU; a GPU already gone is fine."""
        if self._gpm is not None:
            with contextlib.suppress(DeviceLostError, NvmlDownError):
                self._gpm.close()
            self._gpm = None
