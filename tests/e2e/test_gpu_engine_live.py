"""llama.cpp on real GPUs under load, the exporter with its GPU collector, and a real Prometheus (pytest -m gpu).

Run through the device tool (scripts/gpu/device-run.sh builds llama-server with CUDA first). Two layouts: the
engine on GPU 0 alone, and the engine split by layers across two GPUs (skipped where one GPU is all there is).
Under 16 concurrent requests it checks that the engine <-> GPU join agrees with nvidia-smi, that the exporter's
default (`--gpu.devices auto` = the engine's own GPUs) reports exactly the GPUs the engine holds, that Prometheus
evaluates the tokens-per-joule recording rules, that every dashboard query reading a GPU family returns data, that
the energy counter agrees with the power readings, and (split) that both GPUs export NVLink counters. With
LLM_EXPORTER_GPU_OUT set, the live expositions and figures go there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.procfs import memory_mb
from exporter.mixin import rules
from exporter.mixin.rules import recording
from tests.e2e.test_dashboards_e2e import EMPTY_BY_DESIGN, SETTINGS, family_of, finite, panel_queries, read_series
from tests.support.engines import EngineServer
from tests.support.exporter import ExporterProcess
from tests.support.llamacpp import GPU_SIZED, llamacpp_server
from tests.support.nvml import skip_without_nvml
from tests.support.prometheus import PrometheusServer
from tests.support.traffic import send_completions
from tests.unit.mixin.test_dashboards import ALL_VALUES, interpolate

pytestmark = pytest.mark.gpu

CONCURRENCY = 16  # twice the engine's slots: eight decode while eight wait
SLOTS = 8
OUT = os.environ.get("LLM_EXPORTER_GPU_OUT")
# Engine layouts: the GPUs it may use and the llama-server arguments that place its layers there.
LAYOUTS = {
    "one-gpu": ("0", ["-ngl", "99"]),
    "split-layer": ("0,1", ["-ngl", "99", "--split-mode", "layer", "--tensor-split", "1,1"]),
}
# Why the Xid panels may be empty under load.
NO_XID = "no Xid error happened during the test (the counter appears with the first one)"


def smi(query: str, what: str) -> list[list[str]]:
    """Rows of `nvidia-smi --query-<what>=<query>`, fields stripped."""
    assert shutil.which("nvidia-smi"), "nvidia-smi missing on a GPU machine"
    out = subprocess.run(
        ["nvidia-smi", f"--query-{what}={query}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [[field.strip() for field in line.split(",")] for line in out.strip().splitlines()]


def gpu_count() -> int:
    """GPUs on this machine, as nvidia-smi lists them."""
    return len(smi("uuid", "gpu"))


def engine_memory_by_smi(pid: int) -> dict[str, float]:
    """uuid -> bytes nvidia-smi lists for the engine's process (MiB as printed, times 2**20)."""
    found: dict[str, float] = {}
    for process, uuid, mib in smi("pid,gpu_uuid,used_memory", "compute-apps"):
        if int(process) == pid:
            found[uuid] = found.get(uuid, 0.0) + float(mib) * 2**20
    return found


def exposition(url: str) -> str:
    """The text of one /metrics page."""
    response = httpx.get(url, timeout=10.0)
    response.raise_for_status()
    return response.text


def samples_of(text: str, name: str) -> dict[str, float]:
    """uuid -> value of the samples of `name` in an exposition (GPU families only)."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) + 1 :].rsplit("} ", 1)
            uuid = next(part.split("=", 1)[1].strip('"') for part in labels.split(",") if part.startswith("uuid="))
            found[uuid] = float(value)
    return found


@dataclass
class Stack:
    """The engine under load, the exporter polling it and its GPUs, Prometheus scraping the exporter."""

    layout: str
    engine: EngineServer
    exporter: ExporterProcess
    prometheus: PrometheusServer
    workdir: Path

    def query_value(self, expr: str) -> float:
        """The single value of an instant query (summed over series); fails on no data."""
        result = self.prometheus.query(expr)
        assert finite(result), f"{expr}: no data ({result})"
        return sum(float(item["value"][1]) for item in result)


def keep_loaded(engine: EngineServer, stop: threading.Event, errors: list[BaseException]) -> None:
    """Send rounds of CONCURRENCY completions until `stop` is set."""
    while not stop.is_set():
        try:
            send_completions(
                engine.base_url, engine.model, count=CONCURRENCY, shared=4, concurrency=CONCURRENCY, max_tokens=96
            )
        except Exception as error:  # the test reads the engine's state; a failed round is reported there
            errors.append(error)
            return


def write_out(name: str, text: str) -> None:
    """Write a figure or exposition under LLM_EXPORTER_GPU_OUT (if set)."""
    if OUT:
        Path(OUT).mkdir(parents=True, exist_ok=True)
        (Path(OUT) / name).write_text(text)


@pytest.fixture(scope="module", params=list(LAYOUTS))
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """llama-server in one layout, the exporter and Prometheus, under load for a minute before the tests read."""
    skip_without_nvml()
    layout = request.param
    visible, placement = LAYOUTS[layout]
    if len(visible.split(",")) > gpu_count():
        pytest.skip(f"{layout} needs {visible.count(',') + 1} GPUs; this machine has {gpu_count()}")
    workdir = tmp_path_factory.mktemp(f"gpu-engine-{layout}")
    engine = llamacpp_server(
        workdir, extra_args=placement, shape=GPU_SIZED, slots=SLOTS, env={"CUDA_VISIBLE_DEVICES": visible}
    )
    config = workdir / "exporter.yml"
    config.write_text("gpu:\n  enabled: 'true'\n  interval: 1s\n")  # devices stays auto: the engine's GPUs
    exporter = ExporterProcess([engine.base_url], workdir, interval="1s", extra_args=["--config.file", str(config)])
    prometheus = PrometheusServer(
        workdir / "prometheus",
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [rules.RULES_FILE],
            "scrape_configs": [
                {"job_name": "llm-exporter", "static_configs": [{"targets": [exporter.url.removeprefix("http://")]}]}
            ],
        },
        rule_files={rules.RULES_FILE: rules.render_rules(recording.groups(SETTINGS))},
    )
    stop, errors = threading.Event(), []
    load = threading.Thread(target=keep_loaded, args=(engine, stop, errors), daemon=True)
    started: list[Any] = []
    try:
        for server in (engine, exporter, prometheus):
            server.start()
            started.append(server)
        load.start()
        stack = Stack(layout, engine, exporter, prometheus, workdir)
        # Rates need two samples inside their window on both sides of the ratio.
        prometheus.wait_for_query(recording.Recorded(SETTINGS).tokens_per_joule, finite, timeout=90.0)
        time.sleep(35.0)  # three energy readings 15 s apart (CADENCE_S) and a minute of load for 1m rates
        assert not errors, f"load failed: {errors[0]!r}"
        yield stack
    finally:
        stop.set()
        if load.ident is not None:
            load.join(timeout=120)
        for server in reversed(started):
            server.stop()


def test_engine_memory_agrees_with_nvidia_smi_on_exactly_the_engines_gpus(stack: Stack) -> None:
    pid = stack.engine.process.pid
    assert pid is not None
    text = exposition(stack.exporter.metrics_url)
    by_smi = engine_memory_by_smi(pid)
    joined = samples_of(text, "llm_gpu_engine_memory_used_bytes")
    expected_gpus = len(LAYOUTS[stack.layout][0].split(","))
    assert len(by_smi) == expected_gpus, f"nvidia-smi lists the engine on {by_smi}"
    # nvidia-smi prints whole MiB; the engine's allocations are static once it serves, so one reading matches.
    assert {uuid: round(used / 2**20) for uuid, used in joined.items()} == {
        uuid: round(used / 2**20) for uuid, used in by_smi.items()
    }
    # The sidecar default reports the engine's GPUs and no other: each GPU of the node is reported once.
    assert set(samples_of(text, "llm_gpu_up")) == set(by_smi)
    used = samples_of(text, "llm_gpu_memory_used_bytes")
    assert all(joined[uuid] <= used[uuid] for uuid in joined)
    figures = {
        "layout": stack.layout,
        "engine_memory_exporter_bytes": joined,
        "engine_memory_nvidia_smi_bytes": by_smi,
        "gpu_memory_used_bytes": used,
        "exporter_rss_mb": memory_mb(stack.exporter.process.pid or 0),
    }
    write_out(f"join-{stack.layout}.json", json.dumps(figures, indent=1))
    write_out(f"exporter-{stack.layout}.prom", text)
    write_out(f"engine-{stack.layout}.prom", exposition(stack.engine.metrics_url))


def raw_samples(stack: Stack, name: str, window: str = "3m") -> dict[str, list[tuple[float, float]]]:
    """uuid -> (timestamp, value) samples Prometheus holds for one GPU family over the window."""
    return {
        item["metric"]["uuid"]: [(float(t), float(v)) for t, v in item["values"]]
        for item in stack.prometheus.query(f"{name}[{window}]")
    }


def energy_and_power(stack: Stack) -> dict[str, tuple[float, float]]:
    """uuid -> (energy counter's rate between its first and last change, mean power over that span), in watts.

    The counter is read every 15 s (CADENCE_S) and scraped every second: each new value is first seen within a
    second of its reading, so the span between the first and last change is known to about 2 s."""
    powers = raw_samples(stack, "llm_gpu_power_watts")
    found = {}
    for uuid, samples in raw_samples(stack, "llm_gpu_energy_joules_total").items():
        changes = [(t, v) for (t, v), (_, before) in zip(samples[1:], samples, strict=False) if v != before]
        assert len(changes) >= 2, f"{uuid}: the energy counter changed {len(changes)} times under load"
        (start, first), (end, last) = changes[0], changes[-1]
        during = [watts for t, watts in powers[uuid] if start <= t <= end]
        found[uuid] = ((last - first) / (end - start), sum(during) / len(during))
    return found


def test_tokens_per_joule_is_recorded_and_energy_matches_power(stack: Stack) -> None:
    window = SETTINGS.aggregation.rate_window
    tokens = stack.query_value(recording.rate_name("instance", "llm_generation_tokens_total", window))
    watts = stack.query_value(recording.rate_name("instance", "llm_gpu_energy_joules_total", window))
    ratio = stack.query_value(recording.Recorded(SETTINGS).tokens_per_joule)
    assert tokens > 0 and watts > 0
    assert ratio == pytest.approx(tokens / watts, rel=0.05)
    busy = stack.query_value("avg(avg_over_time(llm_gpu_utilization_ratio[30s]))")
    measured = energy_and_power(stack)
    write_out(
        f"prometheus-{stack.layout}.json",
        json.dumps(
            {
                "tokens_per_s": tokens,
                "energy_j_per_s": watts,
                "tokens_per_joule": ratio,
                "utilization": busy,
                "energy_rate_and_mean_power_w": measured,
            },
            indent=1,
        ),
    )
    assert busy > 0.2, f"the GPUs were {busy:.0%} busy under load"
    for uuid, (energy, power) in measured.items():
        assert 0.8 * power < energy < 1.2 * power, (uuid, energy, power)


def test_every_dashboard_query_reading_a_gpu_family_returns_data(stack: Stack) -> None:
    absent = {"llm_gpu_xid_errors_total": NO_XID}
    values = ALL_VALUES | {"engine_type": "llamacpp", "engine_a": "llamacpp", "engine_b": "llamacpp"}
    rows, failures = [], []
    for stem, title, ref, expr in panel_queries():
        families = {family_of(name) for name in read_series(expr)}
        if not any(f.startswith("llm_gpu_") for f in families):
            continue
        reasons = [absent[f] for f in sorted(families) if f in absent]
        if (stem, title, ref) in EMPTY_BY_DESIGN:
            reasons.append(EMPTY_BY_DESIGN[(stem, title, ref)])
        got = finite(stack.prometheus.query(interpolate(expr, values)))
        rows.append({"dashboard": stem, "panel": title, "ref": ref, "result": "data" if got else "; ".join(reasons)})
        if got == bool(reasons):
            failures.append(f"{stem} / {title} / {ref}: " + ("data, but listed empty" if got else f"empty: {expr}"))
    write_out(f"dashboard-queries-{stack.layout}.json", json.dumps(rows, indent=1))
    assert len(rows) > 20
    assert not failures, "\n".join(failures)


def test_a_split_engine_has_nvlink_counters_on_both_gpus(stack: Stack) -> None:
    if stack.layout != "split-layer":
        pytest.skip("NVLink between the engine's GPUs needs two of them")
    moved = {
        direction: {
            item["metric"]["uuid"]: float(item["value"][1])
            for item in stack.prometheus.query(f"increase(llm_gpu_nvlink_{direction}_bytes_total[1m])")
        }
        for direction in ("transmit", "receive")
    }
    # What moves is reported, not asserted: llama.cpp's layer split sent nothing over NVLink on 2x H200 (the
    # counters rise with peer copies: tests/e2e/test_gpu_live.py).
    write_out(f"nvlink-{stack.layout}.json", json.dumps(moved, indent=1))
    assert all(len(by_gpu) == 2 for by_gpu in moved.values()), moved
