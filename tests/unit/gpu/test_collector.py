"""GPU collector behaviour on the NVML fake (real pynvml error classes, values from the H100/H200 captures)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pynvml
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter import schema
from exporter.exposition import render
from exporter.family import Family
from exporter.gpu import GpuCollector
from exporter.gpu.calls import UNKNOWN_ERRORS_BEFORE_LOST
from exporter.schema import GPU_SPECS
from tests.support.fakes.nvml import H200_CAPTURE, FakeGpu, FakeNvml

H100_UUID = "GPU-f9a02833-d56a-03e3-329e-049d9caff784"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def values(families: list[Family], name: str, /) -> dict[tuple[tuple[str, str], ...], float]:
    """Sorted label pairs -> value for one family."""
    return {tuple(sorted(s.labels.items())): s.value for f in families if f.name == name for s in f.samples}


def value(families: list[Family], name: str, /, **labels: str) -> float:
    """The one sample of `name` whose labels include `labels`."""
    found = [v for key, v in values(families, name).items() if set(labels.items()) <= set(key)]
    assert len(found) == 1, (name, labels, values(families, name))
    return found[0]


def names(families: list[Family]) -> set[str]:
    return {f.name for f in families}


def two_gpus() -> list[FakeGpu]:
    return [FakeGpu.from_capture(H200_CAPTURE), FakeGpu.from_capture(H200_CAPTURE, uuid="GPU-second-h200")]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_h100_capture_becomes_base_unit_families() -> None:
    nvml = FakeNvml([FakeGpu.from_capture()])
    collector = GpuCollector(nvml=nvml)
    collector.poll()
    families = collector.families()
    labels = {"gpu": "0", "uuid": H100_UUID}
    assert collector.up
    assert value(families, "llm_gpu_memory_total_bytes", **labels) == 85520809984
    assert value(families, "llm_gpu_memory_used_bytes", **labels) == 0  # v2: the 480 MiB reservation is apart
    assert value(families, "llm_gpu_memory_reserved_bytes", **labels) == 503316480
    assert value(families, "llm_gpu_power_watts", **labels) == pytest.approx(70.82)
    assert value(families, "llm_gpu_power_limit_watts", **labels) == 700
    assert value(families, "llm_gpu_energy_joules_total", **labels) == 2625.891  # mJ / 1000, no float noise
    assert value(families, "llm_gpu_temperature_celsius", sensor="gpu") == 38
    assert value(families, "llm_gpu_temperature_celsius", sensor="memory") == 41
    assert value(families, "llm_gpu_temperature_slowdown_celsius") == 89
    assert value(families, "llm_gpu_clock_hertz", clock="sm") == 900e6
    assert value(families, "llm_gpu_clock_max_hertz", clock="sm") == 1980e6
    assert value(families, "llm_gpu_clock_event_active", reason="gpu_idle") == 1
    assert len(values(families, "llm_gpu_clock_event_active")) == 9  # supported mask 511 = nine reasons
    assert len(values(families, "llm_gpu_ecc_errors_total")) == 4
    assert value(families, "llm_gpu_remapped_rows_total", type="uncorrected") == 0
    assert value(families, "llm_gpu_nvml_up") == 1
    info = value(
        families,
        "llm_gpu_info",
        name="NVIDIA H100 80GB HBM3",
        pci_bus_id="00000000:00:06.0",
        driver_version="580.159.04",
        cuda_driver_version="13.0",
        compute_capability="9.0",
    )
    assert info == 1
    # NVLink fields are NotSupported on the single PCIe H100: absent, not zero.
    assert "llm_gpu_nvlink_transmit_bytes_total" not in names(families)


def poll(collector: GpuCollector) -> list[Family]:
    collector.poll()
    return collector.families()


def wait_for(condition, timeout_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_not_supported_call_is_asked_once_and_its_series_is_absent() -> None:
    nvml = FakeNvml([FakeGpu.from_capture()])
    nvml.gpus[0].errors["nvmlDeviceGetPowerUsage"] = pynvml.NVML_ERROR_NOT_SUPPORTED
    collector = GpuCollector(nvml=nvml)
    for _ in range(3):
        collector.poll()
    assert nvml.calls["nvmlDeviceGetPowerUsage"] == 1
    assert "llm_gpu_power_watts" not in names(collector.families())
    assert collector.up


def test_not_supported_fields_leave_the_batch_after_the_first_poll(clock: Clock) -> None:
    nvml = FakeNvml([FakeGpu.from_capture()])
    collector = GpuCollector(nvml=nvml, clock=clock)
    collector.poll()
    clock.now += 15.0  # the counter batch (energy, NVLink bytes) is due again
    collector.poll()
    energy = pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION
    per_poll = [{field for field, _ in request} for request in nvml.field_requests]
    first, second = (fields for fields in per_poll if energy in fields)
    nvlink_tx = pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX
    assert nvlink_tx in first and nvlink_tx not in second
    assert pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION in second


def test_utilization_is_the_mean_of_the_samples_since_the_last_poll() -> None:
    now_s = 1_800_000_000.0
    gpu = FakeGpu.from_capture(loaded=True)
    us = int(now_s * 1e6)
    gpu.samples = {
        pynvml.NVML_GPU_UTILIZATION_SAMPLES: [(us - 6_000_000, 99), (us - 400_000, 10), (us - 200_000, 30), (us, 50)]
    }
    nvml = FakeNvml([gpu])
    collector = GpuCollector(interval_s=5.0, nvml=nvml, wall_clock=lambda: now_s)
    families = poll(collector)
    assert value(families, "llm_gpu_utilization_ratio") == pytest.approx(0.30)  # the 6 s old sample is out
    assert value(families, "llm_gpu_memory_bandwidth_utilization_ratio") == pytest.approx(0.29)  # the rates
    gpu.samples[pynvml.NVML_GPU_UTILIZATION_SAMPLES] += [(us + 200_000, 90), (us + 400_000, 70)]
    families = poll(collector)
    assert value(families, "llm_gpu_utilization_ratio") == pytest.approx(0.80)  # only the two new samples


def test_utilization_falls_back_to_the_rates_without_samples() -> None:
    gpu = FakeGpu.from_capture(loaded=True)
    gpu.errors["nvmlDeviceGetSamples"] = pynvml.NVML_ERROR_NOT_SUPPORTED
    families = poll(GpuCollector(nvml=FakeNvml([gpu])))
    assert value(families, "llm_gpu_utilization_ratio") == 1.0
    assert value(families, "llm_gpu_memory_bandwidth_utilization_ratio") == pytest.approx(0.29)


def test_without_sampled_utilization_the_rates_answer_and_no_samples_are_asked() -> None:
    nvml = FakeNvml([FakeGpu.from_capture(loaded=True)])
    families = poll(GpuCollector(nvml=nvml, sampled_utilization=False))
    assert value(families, "llm_gpu_utilization_ratio") == 1.0
    assert nvml.calls["nvmlDeviceGetSamples"] == 0


def test_gpm_ratios_appear_from_the_second_poll_on_hopper_only() -> None:
    hopper = FakeGpu.from_capture(loaded=True)
    older = FakeGpu.from_capture(loaded=True, uuid="GPU-ampere")
    older.gpm_supported = False
    collector = GpuCollector(nvml=FakeNvml([hopper, older]))
    assert "llm_gpu_sm_active_ratio" not in names(poll(collector))
    families = poll(collector)
    assert values(families, "llm_gpu_sm_active_ratio") == {(("gpu", "0"), ("uuid", H100_UUID)): 0.81976}
    assert value(families, "llm_gpu_sm_occupancy_ratio") == pytest.approx(0.12115)
    assert value(families, "llm_gpu_tensor_active_ratio") == pytest.approx(0.79564)
    assert value(families, "llm_gpu_dram_active_ratio") == pytest.approx(0.22059)


def test_xid_events_become_counters_per_gpu_and_xid() -> None:
    nvml = FakeNvml(two_gpus())
    collector = GpuCollector(nvml=nvml)
    collector.poll()
    for index, xid in ((1, 79), (1, 79), (0, 13)):
        nvml.raise_xid(index, xid)
    wait_for(lambda: len(values(poll(collector), "llm_gpu_xid_errors_total")) == 2)
    wait_for(lambda: value(poll(collector), "llm_gpu_xid_errors_total", xid="79") == 2)
    families = collector.families()
    assert value(families, "llm_gpu_xid_errors_total", gpu="1", uuid="GPU-second-h200", xid="79") == 2
    assert value(families, "llm_gpu_xid_errors_total", gpu="0", xid="13") == 1
    collector.close()
    assert nvml.free_event_sets == 1 and nvml.initialised == 0


def test_no_driver_means_collector_down_and_nvml_up_zero(clock: Clock) -> None:
    nvml = FakeNvml([FakeGpu.from_capture()])
    nvml.init_error = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
    collector = GpuCollector(nvml=nvml, clock=clock)
    collector.poll()
    families = collector.families()
    assert not collector.up
    assert value(families, "llm_gpu_nvml_up") == 0
    assert names(families) == {"llm_gpu_nvml_up", "llm_gpu_collect_duration_seconds"}


def test_without_nvidia_ml_py_installed_the_collector_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("exporter.gpu.collector._load_pynvml", lambda: None)
    collector = GpuCollector()
    collector.poll()
    assert not collector.up
    assert value(collector.families(), "llm_gpu_nvml_up") == 0


def test_no_gpu_means_collector_down_with_nvml_up() -> None:
    collector = GpuCollector(nvml=FakeNvml([]))
    collector.poll()
    assert not collector.up
    assert value(collector.families(), "llm_gpu_nvml_up") == 1
    assert "llm_gpu_up" not in names(collector.families())


def test_nvml_init_is_retried_with_exponential_backoff(clock: Clock) -> None:
    nvml = FakeNvml([FakeGpu.from_capture()])
    nvml.init_error = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    collector = GpuCollector(interval_s=5.0, nvml=nvml, clock=clock)
    attempts_at = []
    for _ in range(40):  # 40 s of 1 s polls
        before = nvml.calls["nvmlInit"]
        collector.poll()
        if nvml.calls["nvmlInit"] > before:
            attempts_at.append(clock.now - 1000.0)
        clock.now += 1.0
    assert attempts_at == [0.0, 5.0, 15.0, 35.0]  # waits of 5, 10, 20 s
    nvml.init_error = None
    clock.now = 1000.0 + 75.0
    collector.poll()
    assert collector.up
    assert value(collector.families(), "llm_gpu_nvml_up") == 1


def test_a_lost_gpu_drops_its_series_and_keeps_the_others(clock: Clock) -> None:
    nvml = FakeNvml(two_gpus())
    collector = GpuCollector(interval_s=5.0, nvml=nvml, clock=clock)
    collector.poll()
    nvml.raise_xid(1, 79)
    wait_for(lambda: "llm_gpu_xid_errors_total" in names(poll(collector)))
    nvml.gpus[1].lost = True
    families = poll(collector)
    assert collector.up
    assert value(families, "llm_gpu_up", uuid="GPU-second-h200") == 0
    assert value(families, "llm_gpu_up", gpu="0") == 1
    assert set(values(families, "llm_gpu_power_watts")) == {(("gpu", "0"), ("uuid", nvml.gpus[0].uuid))}
    assert "GPU-second-h200" not in render(
        f for f in families if f.name not in {"llm_gpu_up", "llm_gpu_xid_errors_total"}
    )
    assert value(families, "llm_gpu_xid_errors_total", uuid="GPU-second-h200", xid="79") == 1  # counters survive
    # Re-initialisation is attempted after the backoff; once the GPU answers again it is back.
    inits = nvml.calls["nvmlInit"]
    clock.now += 5.0
    collector.poll()
    assert nvml.calls["nvmlInit"] == inits + 1 and nvml.calls["nvmlShutdown"] == 1
    assert value(collector.families(), "llm_gpu_up", uuid="GPU-second-h200") == 0
    nvml.gpus[1].lost = False
    clock.now += 10.0
    families = poll(collector)
    assert value(families, "llm_gpu_up", uuid="GPU-second-h200") == 1
    assert value(families, "llm_gpu_power_watts", uuid="GPU-second-h200") > 0
    assert value(families, "llm_gpu_xid_errors_total", uuid="GPU-second-h200", xid="79") == 1
    collector.close()
    assert nvml.initialised == 0


def test_unknown_errors_count_as_a_lost_gpu_only_when_nothing_answers() -> None:
    nvml = FakeNvml([FakeGpu.from_capture()])
    collector = GpuCollector(nvml=nvml)
    collector.poll()
    for call in (
        "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetEnforcedPowerLimit",
        "nvmlDeviceGetTemperatureV",
        "nvmlDeviceGetClockInfo",
        "nvmlDeviceGetCurrentClocksEventReasons",
    ):
        nvml.gpus[0].errors[call] = pynvml.NVML_ERROR_UNKNOWN
    for _ in range(3):  # six failing calls a poll between answering ones: a flaky GPU, not a lost one
        collector.poll()
    assert value(collector.families(), "llm_gpu_up") == 1
    assert "llm_gpu_power_watts" not in names(collector.families())
    nvml.gpus[0].fail_all = pynvml.NVML_ERROR_UNKNOWN
    collector.poll()
    assert nvml.calls["nvmlDeviceGetPowerUsage"] == 5  # asked every poll: Unknown is not cached like NotSupported
    assert value(collector.families(), "llm_gpu_up") == 0
    assert UNKNOWN_ERRORS_BEFORE_LOST <= 14  # calls in one poll
    assert not collector.up


def test_nvml_going_away_mid_run_drops_every_gpu_series_and_recovers(clock: Clock) -> None:
    nvml = FakeNvml(two_gpus())
    collector = GpuCollector(interval_s=5.0, nvml=nvml, clock=clock)
    collector.poll()
    nvml.gpus[1].errors["nvmlDeviceGetPowerUsage"] = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    nvml.init_error = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    families = poll(collector)
    assert not collector.up
    assert names(families) == {
        "llm_gpu_nvml_up",
        "llm_gpu_collect_duration_seconds",
        "llm_gpu_last_collect_success_timestamp_seconds",
    }
    assert value(families, "llm_gpu_nvml_up") == 0
    del nvml.gpus[1].errors["nvmlDeviceGetPowerUsage"]
    nvml.init_error = None
    clock.now += 5.0
    families = poll(collector)
    assert collector.up and len(values(families, "llm_gpu_power_watts")) == 2


def test_a_wedged_call_does_not_stall_families_and_marks_the_collector_down(clock: Clock) -> None:
    nvml = FakeNvml([FakeGpu.from_capture()])
    collector = GpuCollector(interval_s=5.0, nvml=nvml, clock=clock, stall_after_s=15.0)
    collector.poll()
    good = collector.families()
    release = threading.Event()
    nvml.gpus[0].block, nvml.gpus[0].blocking = (
        release,
        frozenset({"nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetFieldValues"}),
    )
    stuck = threading.Thread(target=collector.poll)
    stuck.start()
    try:
        wait_for(lambda: nvml.calls["nvmlDeviceGetFieldValues"] == 4)  # the first poll's three batches, then stuck
        started = time.monotonic()
        assert collector.families() == good
        collector.poll()  # the scheduler's next run returns at once instead of queueing behind the stuck one
        assert time.monotonic() - started < 0.5
        assert collector.up
        clock.now += 16.0
        assert not collector.up
        assert collector.families() == good
    finally:
        release.set()
        stuck.join(timeout=5)
    assert collector.up


def test_engine_memory_is_the_sum_over_the_engine_processes_on_each_gpu() -> None:
    nvml = FakeNvml(two_gpus())
    nvml.gpus[0].processes = [(100, 2**30), (200, 2 * 2**30), (300, 5 * 2**30)]
    nvml.gpus[1].processes = [(101, 3 * 2**30), (400, None)]
    collector = GpuCollector(nvml=nvml, engine_pids=lambda: {"vllm": {100, 200, 101}, "sglang": {400}})
    families = poll(collector)
    assert value(families, "llm_gpu_engine_memory_used_bytes", gpu="0", engine_type="vllm") == 3 * 2**30
    assert value(families, "llm_gpu_engine_memory_used_bytes", gpu="1", engine_type="vllm") == 3 * 2**30
    assert len(values(families, "llm_gpu_engine_memory_used_bytes")) == 2  # sglang's memory is not visible
    assert value(families, "llm_gpu_processes", gpu="0") == 3


def test_engine_pids_as_a_plain_set_and_a_failing_lookup() -> None:
    nvml = FakeNvml([FakeGpu.from_capture(loaded=True)])
    labelled = poll(GpuCollector(nvml=nvml, engine_pids=lambda: {495}, engine_type="tgi"))
    assert value(labelled, "llm_gpu_engine_memory_used_bytes", engine_type="tgi") == 1596784640

    def broken() -> set[int]:
        raise OSError("no /proc")

    collector = GpuCollector(nvml=FakeNvml([FakeGpu.from_capture(loaded=True)]), engine_pids=broken)
    families = poll(collector)
    assert collector.up and "llm_gpu_engine_memory_used_bytes" not in names(families)


def test_old_drivers_fall_back_to_memory_v1_and_the_deprecated_temperature_call() -> None:
    gpu = FakeGpu.from_capture()
    gpu.errors["nvmlDeviceGetMemoryInfo_v2"] = pynvml.NVML_ERROR_FUNCTION_NOT_FOUND
    nvml = FakeNvml([gpu])
    nvml.missing.add("nvmlDeviceGetTemperatureV")  # a binding older than the call
    families = poll(GpuCollector(nvml=nvml))
    assert value(families, "llm_gpu_memory_used_bytes") == 503316480  # v1 counts the reservation
    assert "llm_gpu_memory_reserved_bytes" not in names(families)
    assert value(families, "llm_gpu_temperature_celsius", sensor="gpu") == 38


def test_close_stops_the_event_thread_and_shuts_nvml_down() -> None:
    nvml = FakeNvml([FakeGpu.from_capture()])
    collector = GpuCollector(nvml=nvml)
    before = set(threading.enumerate())
    collector.poll()
    started = [t for t in threading.enumerate() if t not in before]
    assert [t.name for t in started] == ["llm-exporter-xid"]
    collector.close()
    assert not started[0].is_alive()
    assert nvml.initialised == 0 and nvml.free_samples == 2


def test_the_live_fixtures_parse_and_use_only_schema_names() -> None:
    fixtures = sorted(Path(__file__).parents[2].glob("fixtures/gpu/*-live.prom"))
    specs = {spec.name for spec in GPU_SPECS}
    assert fixtures, "run bench/gpu_poll.py on a GPU machine to produce tests/fixtures/gpu/<gpu>-live.prom"
    for fixture in fixtures:
        lines = fixture.read_text().splitlines()
        assert lines[0].startswith("# source: ")
        assert {line.split()[2] for line in lines if line.startswith("# TYPE")} <= specs


def test_the_live_engine_and_gpu_exposition_joins_the_engine_to_each_of_its_gpus() -> None:
    """The exporter's /metrics beside llama.cpp split over 2x H200 (tests/e2e/test_gpu_engine_live.py)."""
    path = Path(__file__).parents[2] / "fixtures" / "gpu" / "exporter-llamacpp-b11434-cuda-2x-h200.prom"
    text = path.read_text()
    assert text.startswith("# source: ")
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert {name.removesuffix("_total") for name in schema.BY_NAME} >= set(families)
    tokens = [s.value for s in families["llm_generation_tokens"].samples if s.labels["engine_type"] == "llamacpp"]
    assert tokens and tokens[0] > 0

    def by_uuid(name: str) -> dict[str, float]:
        return {s.labels["uuid"]: s.value for s in families[name].samples}

    engine, used = by_uuid("llm_gpu_engine_memory_used_bytes"), by_uuid("llm_gpu_memory_used_bytes")
    assert len(engine) == 2 and set(engine) == set(by_uuid("llm_gpu_up"))  # the engine's GPUs, each once
    assert all(0 < engine[uuid] <= used[uuid] for uuid in engine)
    assert len(by_uuid("llm_gpu_nvlink_transmit_bytes")) == 2


def test_every_sample_has_its_schema_type_and_labels() -> None:
    nvml = FakeNvml(two_gpus())
    collector = GpuCollector(nvml=nvml, engine_pids=lambda: {"vllm": {495}})
    nvml.gpus[0].processes = [(495, 2**30)]
    nvml.raise_xid(0, 79)
    collector.poll()
    wait_for(lambda: "llm_gpu_xid_errors_total" in names(poll(collector)))
    specs = {spec.name: spec for spec in GPU_SPECS}
    for family in collector.families():
        assert family.type == specs[family.name].type
        for sample in family.samples:
            assert tuple(sample.labels) == specs[family.name].labels, family.name


def test_fault_counters_are_read_once_per_slow_interval_and_repeated_between(clock: Clock) -> None:
    nvml = FakeNvml([FakeGpu.from_capture()])
    collector = GpuCollector(interval_s=5.0, nvml=nvml, clock=clock)
    collector.poll()
    ecc = pynvml.NVML_FI_DEV_ECC_DBE_VOL_TOTAL
    nvml.gpus[0].fields[ecc] = (pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, 2)
    nvml.gpus[0].values["nvmlDeviceGetRemappedRows"] = (0, 1, 1, 0)
    for _ in range(11):  # 55 s of polls at 5 s: the first poll's counts stand
        clock.now += 5.0
        families = poll(collector)
        assert value(families, "llm_gpu_ecc_errors_total", type="uncorrected", counter="volatile") == 0
        assert value(families, "llm_gpu_row_remap_pending") == 0
    assert nvml.calls["nvmlDeviceGetRemappedRows"] == 1
    assert sum(ecc in {f for f, _ in request} for request in nvml.field_requests) == 1
    clock.now += 5.0
    families = poll(collector)
    assert value(families, "llm_gpu_ecc_errors_total", type="uncorrected", counter="volatile") == 2
    assert value(families, "llm_gpu_remapped_rows_total", type="uncorrected") == 1
    assert value(families, "llm_gpu_row_remap_pending") == 1
    assert nvml.calls["nvmlDeviceGetRemappedRows"] == 2


def test_energy_and_other_counters_are_read_every_15_s_and_held_between(clock: Clock) -> None:
    nvml = FakeNvml([FakeGpu.from_capture()])
    collector = GpuCollector(interval_s=5.0, nvml=nvml, clock=clock)
    collector.poll()
    assert value(collector.families(), "llm_gpu_energy_joules_total") == 2625.891
    energy = pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION
    nvml.gpus[0].fields[energy] = (pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, 2_700_000)  # 74 J later
    for _ in range(2):
        clock.now += 5.0
        assert value(poll(collector), "llm_gpu_energy_joules_total") == 2625.891
        assert value(collector.families(), "llm_gpu_power_watts") == pytest.approx(70.82)  # gauges: every poll
    clock.now += 5.0
    assert value(poll(collector), "llm_gpu_energy_joules_total") == 2700


@pytest.mark.parametrize("chosen", [["1"], ["GPU-second-h200"]])
def test_a_device_list_keeps_the_gpus_named_by_index_or_uuid(chosen: list[str]) -> None:
    nvml = FakeNvml(two_gpus())
    collector = GpuCollector(nvml=nvml, devices=chosen)
    families = poll(collector)
    assert set(values(families, "llm_gpu_up")) == {(("gpu", "1"), ("uuid", "GPU-second-h200"))}
    assert nvml.calls["nvmlDeviceGetPowerUsage"] == 1  # the other GPU is not polled


def test_engine_devices_report_the_gpus_the_engine_has_held_memory_on() -> None:
    nvml = FakeNvml(two_gpus())
    engine: set[int] = set()
    collector = GpuCollector(nvml=nvml, engine_pids=lambda: {"llamacpp": engine}, devices="engine")
    families = poll(collector)
    assert collector.up and "llm_gpu_up" not in names(families)  # the engine has not loaded yet
    assert value(families, "llm_gpu_nvml_up") == 1
    nvml.gpus[1].processes = [(4242, 6 * 2**30)]
    nvml.gpus[0].processes = [(999, 2**30)]  # another pod's process on a GPU this exporter can see
    engine.add(4242)
    families = poll(collector)
    assert {dict(key)["gpu"] for key in values(families, "llm_gpu_up")} == {"1"}
    assert value(families, "llm_gpu_engine_memory_used_bytes", gpu="1", engine_type="llamacpp") == 6 * 2**30
    nvml.gpus[1].processes, engine = [], {4343}  # the engine restarts: its GPU keeps reporting meanwhile
    families = poll(collector)
    assert {dict(key)["gpu"] for key in values(families, "llm_gpu_up")} == {"1"}
    assert "llm_gpu_engine_memory_used_bytes" not in names(families)


def test_an_unknown_device_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="neither 'all', 'engine' nor a list"):
        GpuCollector(nvml=FakeNvml(two_gpus()), devices="node")
