"""Benchmark the GPU collector on real GPUs and write the live exposition fixture.

Measures, interleaved so drift hits both sides alike, one collector poll against the six core NVML calls made
bare (utilization, memory, power, energy, temperature, SM clock) on 1 GPU and on every GPU: process CPU time
and wall time per poll, their ratios, the wall time on N GPUs over 1 GPU (target <= 1.2), and the CPU share of
one core that 8 GPUs polled every 5 s would take (target <= 1 %), with and without utilization samples. Also the CPU and
wall time of each bare NVML call the collector makes, `nvidia-smi --query-gpu` for comparable fields, the RSS of
a process running the collector (in this interpreter's environment and, with --min-site, in a site holding only
the project's dependencies), and, under a short load, the exposition written as <gpu>-live.prom.
Usage: python3 bench/gpu_poll.py --out DIR [--min-site DIR] [--fake]  (--fake: against the test fake)
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gpu_load import gpu_load  # noqa: E402
from exporter.exposition import render  # noqa: E402
from exporter.family import Family  # noqa: E402
from exporter.gpu import GpuCollector  # noqa: E402
from exporter.gpu.device import FIELD_ROWS  # noqa: E402
from exporter.gpu.gpm import GPM_METRICS  # noqa: E402

SMI_FIELDS = (
    "index,uuid,utilization.gpu,utilization.memory,memory.used,memory.free,memory.total,memory.reserved,"
    "power.draw,power.limit,temperature.gpu,temperature.memory,clocks.sm,clocks.mem,clocks.max.sm,"
    "clocks.max.mem,clocks_event_reasons.active,ecc.errors.corrected.volatile.total,"
    "ecc.errors.uncorrected.volatile.total,ecc.errors.corrected.aggregate.total,"
    "ecc.errors.uncorrected.aggregate.total,remapped_rows.correctable,remapped_rows.uncorrectable"
)
RSS_PROGRAM = """
import json, os, sys, time
sys.path.insert(0, {root!r})
from bench.procfs import largest_mappings, memory_mb
def rss_mb():
    return memory_mb(os.getpid())
stages = {{"python": rss_mb()}}
{imports}
from exporter.gpu import GpuCollector
from exporter.exposition import render
import pynvml
stages["imports"] = rss_mb()
pynvml.nvmlInit()
handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
stages["nvml_init_and_handles"] = rss_mb()
collector = GpuCollector(interval_s=0.2)
collector.poll()
stages["first_poll"] = rss_mb()
for _ in range(20):
    time.sleep(0.2)
    collector.poll()
    render(collector.families())
stages["after_20_polls_and_renders"] = rss_mb()
mappings = largest_mappings(os.getpid())
figures = {{"rss_mb_by_stage": stages, "largest_mappings_mb": mappings, "collector_up": collector.up}}
print(json.dumps(figures), flush=True)
collector.close()
pynvml.nvmlShutdown()
"""


class BarePoller:
    """The same NVML calls the collector makes per GPU per poll, with nothing around them."""

    def __init__(self, nvml: ModuleType, interval_s: float) -> None:
        self.nvml = nvml
        nvml.nvmlInit()
        self.handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
        self.since = [int((time.time() - interval_s) * 1e6)] * len(self.handles)
        all_ids = [(getattr(nvml, row.field), row.scope) for row in FIELD_ROWS]
        self.field_ids = []
        self.gpm: list[list[Any] | None] = []
        for handle in self.handles:
            answers = nvml.nvmlDeviceGetFieldValues(handle, all_ids)
            self.field_ids.append([all_ids[i] for i in range(len(all_ids)) if answers[i].nvmlReturn == 0])
            supported = nvml.nvmlGpmQueryDeviceSupport(handle).isSupportedDevice
            self.gpm.append([nvml.nvmlGpmSampleAlloc(), nvml.nvmlGpmSampleAlloc()] if supported else None)
            if supported:
                nvml.nvmlGpmSampleGet(handle, self.gpm[-1][0])

    def poll(self, timings: dict[str, list[float]] | None = None) -> None:
        """One poll of every GPU; with `timings`, each call's duration is recorded under its name."""
        nvml = self.nvml

        def call(name: str, *args: Any) -> Any:
            if timings is None:
                return getattr(nvml, name)(*args)
            cpu, start = time.thread_time(), time.perf_counter()
            try:
                return getattr(nvml, name)(*args)
            finally:
                timings.setdefault(name, []).append(time.perf_counter() - start)
                timings.setdefault(f"{name} cpu", []).append(time.thread_time() - cpu)

        for index, handle in enumerate(self.handles):
            try:
                _, samples = call("nvmlDeviceGetSamples", handle, nvml.NVML_GPU_UTILIZATION_SAMPLES, self.since[index])
                self.since[index] = max(s.timeStamp for s in samples)
            except nvml.NVMLError:
                pass
            call("nvmlDeviceGetUtilizationRates", handle)
            call("nvmlDeviceGetMemoryInfo", handle, nvml.nvmlMemory_v2)
            call("nvmlDeviceGetPowerUsage", handle)
            call("nvmlDeviceGetEnforcedPowerLimit", handle)
            call("nvmlDeviceGetTemperatureV", handle, nvml.NVML_TEMPERATURE_GPU)
            call("nvmlDeviceGetClockInfo", handle, nvml.NVML_CLOCK_SM)
            call("nvmlDeviceGetClockInfo", handle, nvml.NVML_CLOCK_MEM)
            call("nvmlDeviceGetCurrentClocksEventReasons", handle)
            call("nvmlDeviceGetFieldValues", handle, self.field_ids[index])
            call("nvmlDeviceGetRemappedRows", handle)
            call("nvmlDeviceGetComputeRunningProcesses", handle)
            samples = self.gpm[index]
            if samples is not None:
                call("nvmlGpmSampleGet", handle, samples[1])
                request = nvml.c_nvmlGpmMetricsGet_t()
                request.version = nvml.NVML_GPM_METRICS_GET_VERSION
                request.numMetrics = len(GPM_METRICS)
                request.sample1, request.sample2 = samples
                for slot, (metric, _) in enumerate(GPM_METRICS):
                    request.metrics[slot].metricId = getattr(nvml, metric)
                call("nvmlGpmMetricsGet", request)
                samples.reverse()

    def close(self) -> None:
        """Free GPM samples and drop this poller's NVML reference."""
        for samples in self.gpm:
            for sample in samples or ():
                self.nvml.nvmlGpmSampleFree(sample)
        self.nvml.nvmlShutdown()


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p90/max in milliseconds."""
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1e3, 3),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1e3, 3),
        "max_ms": round(ordered[-1] * 1e3, 3),
        "n": len(ordered),
    }


SIX_CORE_CALLS = (
    ("nvmlDeviceGetUtilizationRates",),
    ("nvmlDeviceGetMemoryInfo", "nvmlMemory_v2"),
    ("nvmlDeviceGetPowerUsage",),
    ("nvmlDeviceGetTotalEnergyConsumption",),
    ("nvmlDeviceGetTemperatureV", "NVML_TEMPERATURE_GPU"),
    ("nvmlDeviceGetClockInfo", "NVML_CLOCK_SM"),
)
# The budget: a poll of 8 GPUs every 5 s may take 1 % of one core.
BUDGET_GPUS, BUDGET_INTERVAL_S, BUDGET_CORE_SHARE = 8, 5.0, 0.01


def six_core_calls(nvml: ModuleType, handles: list[Any]) -> None:
    """The six core reads of every GPU, one after another, with nothing around them."""
    for handle in handles:
        for name, *constants in SIX_CORE_CALLS:
            getattr(nvml, name)(handle, *(getattr(nvml, c) for c in constants))


def timed(poll: Any, wall: list[float], cpu: list[float]) -> None:
    """Run poll() once, appending its wall time and this process's CPU time (every thread) to the lists."""
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    poll()
    wall.append(time.perf_counter() - wall_start)
    cpu.append(time.process_time() - cpu_start)


def poll_cost(nvml: ModuleType, devices: list[str], polls: int, gap_s: float, sampled: bool = True) -> dict[str, Any]:
    """Collector poll against the bare six core calls on `devices`, interleaved: CPU and wall per poll and ratios.

    The collector's clock moves BUDGET_INTERVAL_S per poll, so values read on slower cadences (CADENCE_S) come
    due as often as they would at that interval; means, not medians, then carry their share of the cost."""
    simulated = [0.0]
    collector = GpuCollector(
        interval_s=BUDGET_INTERVAL_S,
        nvml=nvml,
        devices=devices,
        sampled_utilization=sampled,
        clock=lambda: simulated[0],
    )
    collector.poll()  # NVML init, identity and static values: once per collector, not per poll
    handles = [nvml.nvmlDeviceGetHandleByIndex(int(index)) for index in devices]
    ours: dict[str, list[float]] = {"wall": [], "cpu": []}
    bare: dict[str, list[float]] = {"wall": [], "cpu": []}
    for _ in range(polls):
        simulated[0] += BUDGET_INTERVAL_S
        time.sleep(gap_s)
        timed(collector.poll, ours["wall"], ours["cpu"])
        time.sleep(gap_s)
        timed(lambda: six_core_calls(nvml, handles), bare["wall"], bare["cpu"])
    collector.close()
    figures = {
        f"{who}_{what}_{stat}_ms": round(reduce(values) * 1e3, 3)
        for who, measured in (("collector", ours), ("bare6", bare))
        for what, values in measured.items()
        for stat, reduce in (("mean", statistics.mean), ("p50", statistics.median))
    }
    return {
        "gpus": len(devices),
        "polls": polls,
        **figures,
        "collector_wall": percentiles(ours["wall"]),
        "collector_cpu_over_bare6_cpu": round(figures["collector_cpu_mean_ms"] / figures["bare6_cpu_mean_ms"], 2),
        "collector_wall_over_bare6_wall": round(figures["collector_wall_mean_ms"] / figures["bare6_wall_mean_ms"], 2),
    }


def scaling(one: dict[str, Any], every: dict[str, Any]) -> dict[str, Any]:
    """Wall time on every GPU over 1 GPU, and the CPU share of one core 8 GPUs every 5 s would take."""
    gpus = every["gpus"]
    per_gpu = (every["collector_cpu_mean_ms"] - one["collector_cpu_mean_ms"]) / max(gpus - 1, 1)
    fixed = max(one["collector_cpu_mean_ms"] - per_gpu, 0.0)
    estimate_ms = fixed + BUDGET_GPUS * per_gpu if gpus > 1 else BUDGET_GPUS * one["collector_cpu_mean_ms"]
    share = estimate_ms / 1e3 / BUDGET_INTERVAL_S
    return {
        "wall_every_over_one": round(every["collector_wall_mean_ms"] / one["collector_wall_mean_ms"], 2),
        "cpu_ms_per_extra_gpu": round(per_gpu, 3),
        "cpu_ms_fixed": round(fixed, 3),
        "estimate_8_gpus_cpu_ms_per_poll": round(estimate_ms, 2),
        "estimate_8_gpus_core_share_at_5s": round(share, 5),
        "within_budget": share <= BUDGET_CORE_SHARE,
    }


def time_smi(runs: int) -> dict[str, Any]:
    """nvidia-smi --query-gpu for the fields the collector exports (fewer if this driver lacks some)."""
    if shutil.which("nvidia-smi") is None:
        return {"skipped": "no nvidia-smi"}
    fields = SMI_FIELDS
    probe = subprocess.run(
        ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        fields = "index,uuid,utilization.gpu,memory.used,memory.total,power.draw,temperature.gpu,clocks.sm"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"], capture_output=True, check=True
        )
        times.append(time.perf_counter() - start)
    return {
        "fields": fields,
        "field_count": fields.count(",") + 1,
        "first_output": probe.stdout.strip()[:400],
        **percentiles(times),
    }


def measure_rss(root: Path, min_site: Path | None) -> dict[str, Any]:
    """RSS and high-water mark (MB) of a fresh process running the collector, by stage: alone and with the daemon's
    other heavy imports, in this interpreter's environment and (given min_site) with only the project's deps."""
    environments: dict[str, tuple[list[str], dict[str, str]]] = {"this_environment": ([sys.executable], {})}
    if min_site is not None:  # -S: no site-packages; the dependencies come from min_site alone
        environments["project_deps_only"] = ([sys.executable, "-S"], {"PYTHONPATH": str(min_site)})
    result: dict[str, Any] = {}
    for environment, (python, extra) in environments.items():
        for label, imports in (
            ("collector_only", ""),
            ("with_daemon_imports", "import httpx, yaml, prometheus_client"),
        ):
            run = subprocess.run(
                [*python, "-X", "faulthandler", "-c", RSS_PROGRAM.format(root=str(root), imports=imports)],
                capture_output=True,
                text=True,
                env={**os.environ, **extra},
            )
            figures = json.loads(run.stdout) if run.stdout.strip() else {}
            if run.returncode != 0:  # the figures print before shutdown; keep them and say how it ended
                figures |= {"returncode": run.returncode, "stderr_tail": run.stderr[-3000:]}
            result[f"{environment}/{label}"] = figures
    return result


def value_of(families: list[Family], name: str) -> dict[str, float]:
    """uuid -> value of one family's samples."""
    return {s.labels["uuid"]: s.value for f in families if f.name == name for s in f.samples}


def slug(names: list[str]) -> str:
    """Fixture stem from the GPU model(s): 'h100-80gb-hbm3', '2x-h200'."""
    model = re.sub(r"[^a-z0-9]+", "-", names[0].lower().replace("nvidia", "")).strip("-")
    return model if len(names) == 1 else f"{len(names)}x-{model}"


def poll_through(collector: GpuCollector, seconds: float) -> tuple[list[Family], list[Family], float, list[float]]:
    """Poll every second for `seconds`: first and last families, the time between them, the powers seen."""
    collector.poll()
    first = collector.families()
    started = time.time()
    powers: list[float] = []
    while time.time() - started < seconds:
        time.sleep(1.0)
        collector.poll()
        powers.extend(value_of(collector.families(), "llm_gpu_power_watts").values())
    return first, collector.families(), time.time() - started, powers


def live_exposition(load_s: float, nvml: ModuleType | None) -> tuple[str, dict[str, Any]]:
    """Poll every second through a short load (none with the fake); the last exposition and the energy seen."""
    if nvml is not None:
        collector = GpuCollector(interval_s=1.0, nvml=nvml)
        first, last, elapsed, powers = poll_through(collector, load_s - 1.0)
    else:
        with gpu_load(load_s) as process:
            collector = GpuCollector(interval_s=1.0, engine_pids=lambda: {"bench-load": {process.pid}})
            first, last, elapsed, powers = poll_through(collector, load_s - 1.0)
    collector.close()
    energy = {
        uuid: value_of(last, "llm_gpu_energy_joules_total")[uuid] - before
        for uuid, before in value_of(first, "llm_gpu_energy_joules_total").items()
    }
    summary = {
        "energy_delta_j": energy,
        "window_s": round(elapsed, 2),
        "mean_power_w": round(statistics.mean(powers), 1) if powers else None,
        "energy_rate_w": {u: round(j / elapsed, 1) for u, j in energy.items()},
    }
    return render(last), summary


def direct_energy_rate(nvml: ModuleType, seconds: float) -> dict[str, Any]:
    """Energy rate from nvmlDeviceGetTotalEnergyConsumption over `seconds`, beside nvmlDeviceGetPowerUsage's mean:
    a cross-check of the field batch's energy under the same load."""
    nvml.nvmlInit()
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
    start, before = time.perf_counter(), [nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in handles]
    powers: list[list[float]] = [[] for _ in handles]
    while time.perf_counter() - start < seconds:
        time.sleep(0.25)
        for samples, handle in zip(powers, handles, strict=True):
            samples.append(nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0)
    after = [nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in handles]
    elapsed = time.perf_counter() - start
    nvml.nvmlShutdown()
    return {
        "energy_rate_w": [round((b - a) / 1000.0 / elapsed, 1) for a, b in zip(before, after, strict=True)],
        "mean_power_w": [round(statistics.mean(samples), 1) for samples in powers],
    }


def main() -> None:
    """Run every measurement and write bench.json (+ the live fixture) under --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--polls", type=int, default=60, help="polls per configuration (5 s of simulated time each)")
    parser.add_argument("--gap", type=float, default=0.15, help="seconds between polls")
    parser.add_argument("--smi-runs", type=int, default=20)
    parser.add_argument("--load-s", type=float, default=20.0, help="longer than the 15 s counter cadence")
    parser.add_argument("--fake", action="store_true", help="run against tests/support/fakes (no GPU needed)")
    parser.add_argument("--min-site", type=Path, help="a --target site holding only the project's dependencies")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parent.parent
    nvml = None
    if args.fake:
        from tests.support.fakes.nvml import H200_CAPTURE, FakeGpu, FakeNvml

        nvml = FakeNvml([FakeGpu.from_capture(H200_CAPTURE), FakeGpu.from_capture(H200_CAPTURE, uuid="GPU-fake-2")])
    import pynvml

    module: Any = nvml if nvml is not None else pynvml
    collector = GpuCollector(interval_s=args.gap * 2, nvml=module)
    collector.poll()
    collector.close()
    info = [s.labels for f in collector.families() if f.name == "llm_gpu_info" for s in f.samples]
    names = [labels["name"] for labels in info]
    indices = [labels["gpu"] for labels in info]
    one = poll_cost(module, indices[:1], args.polls, args.gap)
    every = poll_cost(module, indices, args.polls, args.gap)
    # The same without the utilization samples (nvmlDeviceGetUtilizationRates alone), to price them.
    one_rates = poll_cost(module, indices[:1], args.polls, args.gap, sampled=False)
    every_rates = poll_cost(module, indices, args.polls, args.gap, sampled=False)
    bare = BarePoller(module, args.gap * 2)
    timings: dict[str, list[float]] = {}
    for _ in range(20):
        time.sleep(args.gap)
        bare.poll(timings)
    bare.close()
    gpus = len(names)
    result: dict[str, Any] = {
        "gpus": names,
        "driver": info[0]["driver_version"] if info else None,
        "python": platform.python_version(),
        "nvidia_ml_py": importlib.metadata.version("nvidia-ml-py"),
        "cpu_count": os.cpu_count(),
        "one_gpu": one,
        "every_gpu": every,
        "scaling": scaling(one, every),
        "one_gpu_without_samples": one_rates,
        "every_gpu_without_samples": every_rates,
        "scaling_without_samples": scaling(one_rates, every_rates),
        "bare_call_p50_us_per_poll": {
            name: round(statistics.median(t) * 1e6 * len(t) / 20, 1) for name, t in sorted(timings.items())
        },
    }

    def save() -> None:  # after each step: a step that fails or runs out of time leaves the earlier figures
        (args.out / "bench.json").write_text(json.dumps(result, indent=1))

    save()
    if not args.fake:
        result["nvidia_smi"] = time_smi(args.smi_runs)
        result["speedup_over_nvidia_smi_p50"] = round(
            result["nvidia_smi"]["p50_ms"] / every["collector_wall_p50_ms"], 1
        )
        save()
        result["rss_mb"] = measure_rss(root, args.min_site)
        save()
    exposition, load = live_exposition(args.load_s, nvml)
    result["load"] = load
    if not args.fake:
        with gpu_load(args.load_s):
            result["load"]["direct_nvml"] = direct_energy_rate(module, args.load_s - 2.0)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")
    stem = slug(names) if names else "none"
    source = (
        f"# source: llm-exporter GpuCollector (exporter/gpu) against real NVML on {gpus}x {names[0]}, driver "
        f"{result['driver']}, nvidia-ml-py "
        f"{result['nvidia_ml_py']}, polled every 1 s during a {args.load_s:.0f} s bf16 matmul"
        f"{' + peer-copy' if gpus > 1 else ''} load (bench/gpu_load.py); written by bench/gpu_poll.py "
        f"on a lent {os.environ.get('DEVICE_KIND', 'GPU machine')} at {stamp}"
    )
    if args.fake:
        source = f"# source: bench/gpu_poll.py --fake (tests/support/fakes/nvml.py, H100 capture) at {stamp}"
    (args.out / f"{stem}-live.prom").write_text(source + "\n" + exposition)
    save()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
