"""promtool, of every Prometheus release the project supports, accepts what the project generates: the PromQL of
the dashboards, of the PrometheusRule and of the adapter rule, and the exposition of every golden and of the GPU
collector."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.exposition import render
from exporter.gpu import GpuCollector
from tests.support.deps import PROMETHEUS_RELEASES
from tests.support.fakes.nvml import FakeNvml
from tests.support.fixture_set import FIXTURES, golden_text
from tests.support.tools import promtool
from tests.unit.gpu.test_collector import names, poll, two_gpus, wait_for
from tests.unit.mixin.test_dashboards import ALL_VALUES, UIDS, all_targets, interpolate, load
from tests.unit.mixin.test_kubernetes import DEPLOY, _documents, _expand, _one

release = pytest.mark.parametrize("release", PROMETHEUS_RELEASES, ids=lambda r: f"prometheus{r}")


def _promtool(release: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(release), *args], input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


def _check_rules(release: str, path: Path, records: dict[str, str]) -> None:
    """promtool check rules on one group recording each expression, so every expression is parsed."""
    rules = [{"record": name, "expr": expr} for name, expr in records.items()]
    path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
    result = _promtool(release, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


@release
@pytest.mark.parametrize("stem", UIDS)
def test_every_dashboard_query_is_valid_promql(release: str, stem: str, tmp_path: Path) -> None:
    exprs = [interpolate(target["expr"], ALL_VALUES) for _, target in all_targets(load(stem))]
    _check_rules(release, tmp_path / "queries.yaml", {f"dashboard:query_{i}:check": e for i, e in enumerate(exprs)})


@release
def test_prometheus_rule_content_passes_promtool(release: str, tmp_path: Path) -> None:
    groups: list[dict[str, Any]] = _one("prometheusrule.yaml", "PrometheusRule")["spec"]["groups"]
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": groups}))
    result = _promtool(release, "check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(group['rules']) for group in groups)} rules found" in result.stdout


@release
def test_adapter_queries_are_valid_promql(release: str, tmp_path: Path) -> None:
    (rule,) = _documents(DEPLOY / "prometheus-adapter-values.yaml")[0]["rules"]["custom"]
    series = rule["name"]["as"]
    assert rule["seriesQuery"].startswith(series + "{")
    queries = {"series": rule["seriesQuery"], "metrics": _expand(rule["metricsQuery"], series)}
    assert "<<" not in queries["metrics"]
    _check_rules(release, tmp_path / "adapter.yaml", {f"adapter:{name}": expr for name, expr in queries.items()})


@release
@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_golden_exposition_passes_check_metrics(release: str, path: Path) -> None:
    done = _promtool(release, "check", "metrics", stdin=golden_text(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "" and done.stderr.strip() == "", done.stdout + done.stderr


@release
def test_gpu_exposition_passes_check_metrics(release: str) -> None:
    nvml = FakeNvml(two_gpus())
    collector = GpuCollector(nvml=nvml, engine_pids=lambda: {"vllm": {495}})
    nvml.gpus[0].processes = [(495, 2**30)]
    nvml.raise_xid(0, 79)
    collector.poll()
    wait_for(lambda: "llm_gpu_xid_errors_total" in names(poll(collector)))
    check = _promtool(release, "check", "metrics", stdin=render(collector.families()))
    assert check.returncode == 0, check.stdout + check.stderr
