"""The GPU collector against real NVML on a real GPU (run through the device tool: pytest -m gpu)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from bench.gpu_load import gpu_load
from exporter.family import Family
from exporter.gpu import GpuCollector
from exporter.gpu.device import CADENCE_S
from tests.support.nvml import skip_without_nvml

pytestmark = pytest.mark.gpu

LOAD_S = 8.0
# Energy and NVLink bytes are read every CADENCE_S["counter"] seconds: a window for their rates spans one reading.
COUNTER_WINDOW_S = CADENCE_S["counter"] + 1.0


@pytest.fixture(scope="module")
def collector() -> Iterator[GpuCollector]:
    skip_without_nvml()
    collector = GpuCollector(interval_s=1.0)
    collector.poll()
    time.sleep(1.0)
    collector.poll()
    yield collector
    collector.close()


def by_uuid(families: list[Family], name: str, **labels: str) -> dict[str, float]:
    """uuid -> value for the samples of `name` whose labels include `labels`."""
    return {
        s.labels["uuid"]: s.value
        for f in families
        if f.name == name
        for s in f.samples
        if all(s.labels.get(k) == v for k, v in labels.items())
    }


def smi_memory_total_bytes() -> dict[str, float]:
    """uuid -> memory.total as nvidia-smi reports it (MiB)."""
    assert shutil.which("nvidia-smi"), "nvidia-smi missing on a GPU machine"
    out = subprocess.run(
        ["nvidia-smi", "--query-gpu=uuid,memory.total", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {uuid.strip(): float(mib) * 2**20 for uuid, mib in (line.split(",") for line in out.strip().splitlines())}


def test_idle_values_are_plausible(collector: GpuCollector) -> None:
    families = collector.families()
    assert collector.up
    totals = by_uuid(families, "llm_gpu_memory_total_bytes")
    assert totals == smi_memory_total_bytes()
    assert set(by_uuid(families, "llm_gpu_up").values()) == {1.0}
    slowdown = by_uuid(families, "llm_gpu_temperature_slowdown_celsius")
    limits = by_uuid(families, "llm_gpu_power_limit_watts")
    max_sm = by_uuid(families, "llm_gpu_clock_max_hertz", clock="sm")
    for uuid in totals:
        assert 0 < by_uuid(families, "llm_gpu_power_watts")[uuid] <= limits[uuid] * 1.1
        assert 10 <= by_uuid(families, "llm_gpu_temperature_celsius", sensor="gpu")[uuid] < slowdown[uuid]
        assert 0 < by_uuid(families, "llm_gpu_clock_hertz", clock="sm")[uuid] <= max_sm[uuid]
        assert by_uuid(families, "llm_gpu_energy_joules_total")[uuid] > 0
        used = by_uuid(families, "llm_gpu_memory_used_bytes")[uuid]
        free = by_uuid(families, "llm_gpu_memory_free_bytes")[uuid]
        reserved = by_uuid(families, "llm_gpu_memory_reserved_bytes")[uuid]
        assert used + free + reserved == totals[uuid]
    assert {s.labels["compute_capability"] for f in families if f.name == "llm_gpu_info" for s in f.samples}


def test_load_moves_energy_utilization_gpm_and_engine_memory(collector: GpuCollector) -> None:
    with gpu_load(COUNTER_WINDOW_S + 2.0) as load:
        attributed = GpuCollector(interval_s=1.0, engine_pids=lambda: {"bench-load": {load.pid}})
        try:
            attributed.poll()
            before = attributed.families()
            started = time.monotonic()
            time.sleep(COUNTER_WINDOW_S)
            attributed.poll()
            during = attributed.families()
            elapsed = time.monotonic() - started
        finally:
            attributed.close()
    energy_before = by_uuid(before, "llm_gpu_energy_joules_total")
    energy_during = by_uuid(during, "llm_gpu_energy_joules_total")
    power = by_uuid(during, "llm_gpu_power_watts")
    for uuid, joules in energy_before.items():
        rate = (energy_during[uuid] - joules) / elapsed
        assert rate > 100, f"{uuid}: {rate:.0f} W of energy, {power[uuid]:.0f} W of power under a matmul load"
        assert 0.5 * power[uuid] < rate < 1.5 * power[uuid]
        assert by_uuid(during, "llm_gpu_utilization_ratio")[uuid] > 0.5
        assert by_uuid(during, "llm_gpu_sm_active_ratio")[uuid] > 0.3  # Hopper: GPM is on
        assert by_uuid(during, "llm_gpu_tensor_active_ratio")[uuid] > 0.1
        assert by_uuid(during, "llm_gpu_processes")[uuid] >= 1
        assert by_uuid(during, "llm_gpu_engine_memory_used_bytes", engine_type="bench-load")[uuid] > 2**28


def test_nvlink_counters_rise_with_peer_copies(collector: GpuCollector) -> None:
    families = collector.families()
    if len(by_uuid(families, "llm_gpu_up")) < 2:
        pytest.skip("one GPU: no NVLink peer")
    before = by_uuid(families, "llm_gpu_nvlink_transmit_bytes_total")
    assert len(before) >= 2, "NVLink throughput fields missing on a multi-GPU machine"
    with gpu_load(LOAD_S / 2):
        pass  # leaving waits for the load to finish
    time.sleep(COUNTER_WINDOW_S)  # the next poll reads the NVLink counters again
    collector.poll()
    after = by_uuid(collector.families(), "llm_gpu_nvlink_transmit_bytes_total")
    assert all(after[uuid] - sent > 2**30 for uuid, sent in before.items()), (before, after)
