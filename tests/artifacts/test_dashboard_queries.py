"""Dashboard queries evaluated by promtool, of every supported Prometheus release, on input series shaped like
a real fleet: replicas that go down, load, vanish; a GPU's first Xid; two models sharing an engine type."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from exporter.mixin import dashboards
from tests.support.deps import PROMETHEUS_RELEASES
from tests.support.tools import promtool
from tests.unit.mixin.test_dashboards import ALL_VALUES, interpolate, load

release = pytest.mark.parametrize("release", PROMETHEUS_RELEASES, ids=lambda r: f"prometheus{r}")


def _promtool_expect(
    release: str,
    tmp_path: Path,
    queries: dict[str, str],
    series: dict[str, str],
    at: str,
    expected: dict[str, list[str]],
) -> None:
    """Evaluate dashboard queries (variables at All, $__range 1h) on input series; each must give exactly
    `expected[name]`, written as promtool's `labels value` lines, after rounding (extrapolation differs by release)."""
    # Five one-minute samples per rate interval: Prometheus 3's left-open windows hold one sample fewer than 2's.
    values = ALL_VALUES | {"__range": "1h", "__rate_interval": "5m"}
    exprs = {name: f"round({interpolate(expr, values)}, 0.001)" for name, expr in queries.items()}
    group = {"name": "dashboard", "rules": [{"record": f"dashboard:{n}", "expr": e} for n, e in exprs.items()]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [group]}))

    def sample(name: str, line: str) -> dict[str, object]:
        labels, value = line.rsplit(" ", 1)
        return {"labels": f"dashboard:{name}{labels}", "value": float(value)}

    checks = [
        {"expr": f"dashboard:{name}", "eval_time": at, "exp_samples": [sample(name, s) for s in expected[name]]}
        for name in queries
    ]
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "promql_expr_test": checks,
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    run = subprocess.run(
        [promtool(release), "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _expr(stem: str, title: str, ref: str = "A") -> str:
    panel = next(p for p in dashboards.panels(load(stem)) if p["title"] == title)
    return next(t["expr"] for t in panel["targets"] if t["refId"] == ref)


@release
def test_models_table_counts_replicas_ready_down_loading_and_gone(release: str, tmp_path: Path) -> None:
    # Four pods of one model: vllm-0 ready, vllm-1 down since minute 30, vllm-2 deleted at minute 40 (its
    # exporter's series vanish with it), vllm-3 ready again after a reload (loading minutes 20-35).
    common = 'job="llm-exporter", namespace="serving", engine_type="vllm"'
    states = {
        0: {"ready": "1x60", "loading": "0x60", "down": "0x60"},
        1: {"ready": "1x30 0x30", "loading": "0x60", "down": "0x30 1x30"},
        2: {"ready": "1x40", "loading": "0x40", "down": "0x40"},
        3: {"ready": "1x20 0x15 1x25", "loading": "0x20 1x15 0x25", "down": "0x60"},
    }
    info = {0: "1x60", 1: "1x30", 2: "1x40", 3: "1x20 _x15 1x25"}
    series = {}
    for i, by_state in states.items():
        replica = f'{common}, target="vllm-{i}", instance="10.0.0.{i}:9400", pod="vllm-{i}"'
        for state, values in by_state.items():
            series[f'llm_exporter_target_state{{{replica}, state="{state}"}}'] = values
        series[f"llm_exporter_target_up{{{replica}}}"] = by_state["ready"]
        series[f'llm_engine_info{{{replica}, model="m", version="0.11.0"}}'] = info[i]
    model = '{engine_type="vllm", model="m"}'
    table = {ref: _expr("overview", "Models", ref) for ref in "ABCDE"}
    expected = {"A": [f"{model} 2"], "B": [f"{model} 0"], "C": [f"{model} 1"], "D": [f"{model} 4"], "E": [f"{model} 1"]}
    stats = {"ready": "Replicas ready", "down": "Replicas down", "gone": "Replicas gone", "state": "Replica state"}
    queries = table | {name: _expr("overview", title) for name, title in stats.items()}
    expected |= {"ready": ["{} 2"], "down": ["{} 1"], "gone": ["{} 1"]}
    expected["state"] = [f'{{target="vllm-{i}", instance="10.0.0.{i}:9400"}} {v}' for i, v in ((0, 1), (1, 0), (3, 1))]
    _promtool_expect(release, tmp_path, queries, series, "55m", expected)


@release
def test_xid_panels_count_a_gpus_first_error(release: str, tmp_path: Path) -> None:
    # The collector creates an Xid series at the GPU's first Xid 79 (minute 60), with value 1; another GPU's Xid 94
    # series is older than the range and grows by 2 at minute 70.
    gpu = 'job="llm-exporter", instance="10.0.0.1:9400", pod="vllm-0", gpu="{}", uuid="GPU-{}"'
    series = {
        f"llm_gpu_up{{{gpu.format(0, 'a')}}}": "1x90",
        f"llm_gpu_up{{{gpu.format(1, 'b')}}}": "1x90",
        f'llm_gpu_xid_errors_total{{{gpu.format(0, "a")}, xid="79"}}': "_x60 1x30",
        f'llm_gpu_xid_errors_total{{{gpu.format(1, "b")}, xid="94"}}': "1x70 3x20",
    }
    # What the stat showed before, increase() alone, misses the first Xid of GPU 0.
    queries = {
        "range": _expr("gpu", "Xid errors (range)"),
        "before": "round(sum(increase(llm_gpu_xid_errors_total[1h])))",
    }
    _promtool_expect(release, tmp_path, queries, series, "89m", {"range": ["{} 3"], "before": ["{} 2"]})
    # Per rate interval (1m), the minute the series is born shows its first Xid.
    by_code = {"by_code": _expr("gpu", "Xid errors by code")}
    born = ['{instance="10.0.0.1:9400", gpu="0", xid="79"} 1', '{instance="10.0.0.1:9400", gpu="1", xid="94"} 0']
    _promtool_expect(release, tmp_path, by_code, series, "60m", {"by_code": born})


@release
def test_migration_divides_a_models_throughput_by_that_models_replicas(release: str, tmp_path: Path) -> None:
    # Two models on vLLM, two replicas each, each replica generating 100 tokens/s.
    series = {}
    for model, pods in (("small", (0, 1)), ("large", (2, 3))):
        for i in pods:
            replica = f'job="llm-exporter", instance="10.0.0.{i}:9400", target="vllm-{i}", engine_type="vllm"'
            series[f"llm_exporter_target_up{{{replica}}}"] = "1x20"
            series[f'llm_engine_info{{{replica}, model="{model}", version="0.11.0"}}'] = "1x20"
            series[f'llm_generation_tokens_total{{{replica}, model="{model}"}}'] = "0+6000x20"
    expr = _expr("migration", "Output tokens / s per replica")
    narrowed = expr.replace("$engine_a", "vllm").replace("$model", "small")
    _promtool_expect(release, tmp_path, {"per_replica": narrowed}, series, "15m", {"per_replica": ["{} 100"]})
