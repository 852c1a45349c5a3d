"""GPU performance monitoring (GPM, Hopper and newer): activity ratios over the interval between two polls."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from exporter.gpu.calls import CallGuard

# NVML GPM metric (percent 0-100) -> unified family (ratio 0-1). notes/gpu.md §2.1, GPM row.
GPM_METRICS = (
    ("NVML_GPM_METRIC_SM_UTIL", "llm_gpu_sm_active_ratio"),
    ("NVML_GPM_METRIC_SM_OCCUPANCY", "llm_gpu_sm_occupancy_ratio"),
    ("NVML_GPM_METRIC_ANY_TENSOR_UTIL", "llm_gpu_tensor_active_ratio"),
    ("NVML_GPM_METRIC_DRAM_BW_UTIL", "llm_gpu_dram_active_ratio"),
)


def gpm_supported(nvml: ModuleType, guard: CallGuard) -> bool:
    """Whether the GPU and the binding offer GPM."""
    support = guard.call("nvmlGpmQueryDeviceSupport")
    return bool(support is not None and support.isSupportedDevice and hasattr(nvml, "c_nvmlGpmMetricsGet_t"))


class GpmSampler:
    """Keeps the previous poll's GPM sample so each poll yields ratios over the whole interval, without sleeping."""

    def __init__(self, nvml: ModuleType, guard: CallGuard) -> None:
        self._nvml = nvml
        self._guard = guard
        self._ids = [(getattr(nvml, metric), family) for metric, family in GPM_METRICS]
        self._previous: Any = guard.run("nvmlGpmSampleAlloc", "nvmlGpmSampleAlloc")
        self._current: Any = guard.run("nvmlGpmSampleAlloc", "nvmlGpmSampleAlloc")
        self._have_previous = False

    @property
    def usable(self) -> bool:
        """Whether both sample buffers were allocated."""
        return self._previous is not None and self._current is not None

    def read(self) -> list[tuple[str, float]]:
        """(family, ratio) pairs since the last read; empty on the first read or after a failed sample."""
        if not self.usable or self._guard.call("nvmlGpmSampleGet", self._current, key="nvmlGpmSampleGet") is None:
            self._have_previous = False
            return []
        ratios: list[tuple[str, float]] = []
        if self._have_previous:
            request = self._nvml.c_nvmlGpmMetricsGet_t()
            request.version = self._nvml.NVML_GPM_METRICS_GET_VERSION
            request.numMetrics = len(self._ids)
            request.sample1 = self._previous
            request.sample2 = self._current
            for slot, (metric_id, _) in enumerate(self._ids):
                request.metrics[slot].metricId = metric_id
            if self._guard.run("nvmlGpmMetricsGet", "nvmlGpmMetricsGet", request) is not None:
                ratios = [
                    (family, request.metrics[slot].value / 100.0)
                    for slot, (_, family) in enumerate(self._ids)
                    if request.metrics[slot].nvmlReturn == 0
                ]
        self._previous, self._current = self._current, self._previous
        self._have_previous = True
        return ratios

    def close(self) -> None:
        """Free the sample buffers (before nvmlShutdown)."""
        for sample in (self._previous, self._current):
            if sample is not None:
                self._guard.run(("nvmlGpmSampleFree", id(sample)), "nvmlGpmSampleFree", sample)
        self._previous = self._current = None
