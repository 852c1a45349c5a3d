"""The rule generator: committed files in sync, every series name real, settings strict and documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from exporter import schema
from exporter.mixin import promql, rules
from exporter.mixin.settings import Settings, SettingsError, load, render_defaults

ROOT = Path(__file__).resolve().parents[3]
ALERTS_DIR = ROOT / "alerts"
RUNBOOKS = ROOT / "docs" / "runbooks.md"


def _rules() -> list[dict]:
    groups = yaml.safe_load((ALERTS_DIR / rules.RULES_FILE).read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_committed_files_match_a_fresh_generation(tmp_path: Path) -> None:
    written = rules.write(tmp_path)
    assert [p.name for p in written] == [rules.RULES_FILE, rules.PROMETHEUS_RULE_FILE, rules.SETTINGS_FILE]
    for path in written:
        assert path.read_bytes() == (ALERTS_DIR / path.name).read_bytes(), f"{path.name}: run generate alerts"


def test_prometheus_rule_wraps_the_same_groups() -> None:
    plain = yaml.safe_load((ALERTS_DIR / rules.RULES_FILE).read_text())
    wrapped = yaml.safe_load((ALERTS_DIR / rules.PROMETHEUS_RULE_FILE).read_text())
    assert wrapped["apiVersion"] == "monitoring.coreos.com/v1"
    assert wrapped["kind"] == "PrometheusRule"
    assert wrapped["metadata"] == {"name": "llm-exporter", "labels": {"app.kubernetes.io/name": "llm-exporter"}}
    assert wrapped["spec"]["groups"] == plain["groups"]


def test_generation_fails_on_a_series_the_schema_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "SAMPLE_NAMES", schema.SAMPLE_NAMES - {"llm_requests_waiting"})
    with pytest.raises(promql.UnknownSeriesError, match="llm_requests_waiting"):
        rules.build(Settings())


def test_name_check_rejects_unknown_and_unrecorded_names() -> None:
    with pytest.raises(promql.UnknownSeriesError, match="llm_num_preemptions, model:nothing:rate5m"):
        promql.check_names(['rate(llm_num_preemptions{job="x"}[5m]) > model:nothing:rate5m'], [])
    promql.check_names(
        ['up{job="a"} == 0 and model:x:rate5m > 1 and llm_requests_waiting{reason="llm_x"}'], ["model:x:rate5m"]
    )


def test_every_series_the_committed_rules_read_is_in_the_schema_or_recorded() -> None:
    committed = _rules()
    recorded = {rule["record"] for rule in committed if "record" in rule}
    names = {name for rule in committed for name in promql.series_names(rule["expr"])}
    assert names - recorded - schema.SAMPLE_NAMES == {"up"} | promql.KUBE_STATE_METRICS_SERIES
    assert {"llm_exporter_target_up", "llm_requests_waiting", "llm_gpu_xid_errors_total"} <= names


def test_recording_rules_follow_level_metric_operations() -> None:
    for rule in _rules():
        if "record" in rule:
            level, metric, operations = rule["record"].split(":")
            assert level in ("model", "model_le", "model_finish_reason", "instance"), rule["record"]
            assert not metric.endswith("_total") and operations, rule["record"]


def test_slo_error_ratios_cover_every_burn_window() -> None:
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    for metric in ("llm_ttft_slo_errors", "llm_tpot_slo_errors", "llm_request_errors"):
        for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
            assert f"model:{metric}:ratio_rate{window}" in recorded


def test_every_alert_has_severity_summary_description_and_a_runbook_section() -> None:
    anchors = {line[4:].strip().lower() for line in RUNBOOKS.read_text().splitlines() if line.startswith("### ")}
    names = set()
    for rule in _rules():
        if "alert" not in rule:
            continue
        names.add(rule["alert"])
        assert re.fullmatch(r"(LLM|GPU)[A-Za-z]+", rule["alert"])
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"].endswith(".")
        assert rule["annotations"]["description"]
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchor == rule["alert"].lower() and anchor in anchors, rule["alert"]
    assert {name.lower() for name in names} == anchors, "docs/runbooks.md sections and alerts differ"


def test_every_alert_family_has_a_promtool_test_file() -> None:
    tested = set()
    for path in (ALERTS_DIR / "tests").glob("*.yaml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            tested |= {t["alertname"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
            # A firing ALERTS sample asserted by a PromQL test counts too.
            firing = [s["labels"] for t in case.get("promql_expr_test", []) for s in t.get("exp_samples", [])]
            tested |= {m.group(1) for labels in firing if (m := re.search(r'alertname="(\w+)"', labels))}
    assert tested == {rule["alert"] for rule in _rules() if "alert" in rule}


def test_settings_file_overrides_and_shapes_the_rules(tmp_path: Path) -> None:
    custom = tmp_path / "settings.yaml"
    custom.write_text(
        "selectors: {engine: 'namespace=\"llm\"'}\nqueue: {waiting: 8, for: 1m}\n"
        "output: {alert_labels: {team: inference}}\n"
    )
    written = rules.write(tmp_path / "out", custom)
    # The original queue rule; the ones labelled `signal` are the issue-15 additions.
    queue = next(
        r
        for g in yaml.safe_load(written[0].read_text())["groups"]
        for r in g["rules"]
        if r.get("alert") == "LLMQueuePressure" and "signal" not in r["labels"]
    )
    assert "> 8)" in queue["expr"] and 'llm_requests_waiting{namespace="llm"}' in queue["expr"]
    assert queue["for"] == "1m" and queue["labels"] == {"severity": "warning", "team": "inference"}
    assert load(written[2]) == load(custom)


def test_default_settings_file_round_trips_and_explains_every_key() -> None:
    text = (ALERTS_DIR / rules.SETTINGS_FILE).read_text()
    assert load(ALERTS_DIR / rules.SETTINGS_FILE) == Settings()
    keys = [line for line in text.splitlines() if re.match(r"  \w+:", line)]
    comments = [line for line in text.splitlines() if line.startswith("  # ")]
    assert len(keys) == len(comments) > 40
    assert render_defaults() == text


def test_bad_settings_are_all_reported_with_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "queue: {waitng: 3, window: soon}\nslo: {ttft_seconds: 2.0, burn_windows: [{long: 1h}]}\n"
        "gpu:\n  xid_critical: [48,\n    x]\n"
    )
    with pytest.raises(SettingsError) as error:
        rules.write(tmp_path / "out", bad)
    assert str(error.value).splitlines() == [
        f"{bad}:1: queue.waitng: unknown setting (known: waiting, queue_time_seconds, queue_time_quantile, window, "
        "for, sustained_waiting, sustained_for, p99_seconds, min_dequeues)",
        f"{bad}:1: queue.window: must be a duration like \"5m\", got 'soon'",
        f"{bad}:2: slo.burn_windows[0]: missing severity, short, factor, for",
        f"{bad}:5: gpu.xid_critical[1]: must be int, got str",
    ]


def test_settings_that_are_not_yaml_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("queue:\n  waiting: 8\n  window: [5m\n")
    with pytest.raises(SettingsError, match=rf"^{re.escape(str(bad))}:4: not valid YAML: "):
        load(bad)


def test_slo_threshold_must_be_a_bucket_bound(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("slo: {ttft_seconds: 2.2}\n")
    with pytest.raises(SettingsError, match=r"slo.ttft_seconds: 2.2 is not a bucket bound"):
        rules.write(tmp_path / "out", bad)


@pytest.mark.parametrize(("bound", "matcher"), [(2.5, 'le="2.5"'), (5.0, 'le=~"5|5\\\\.0"'), (0.1, 'le="0.1"')])
def test_bucket_matcher_holds_for_either_spelling_of_a_whole_bound(bound: float, matcher: str) -> None:
    assert promql.le_matcher(bound) == matcher


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('{"llm.requests.waiting", job="x"} > 1', {"llm.requests.waiting"}),  # Prometheus 3 UTF-8 names
        ("max_over_time(llm_requests_waiting[1h:1m] @ end())", {"llm_requests_waiting"}),
        ('count(up{job="a"} == 0) unless on (job) model:x:rate5m offset -1d', {"up", "model:x:rate5m"}),
        ('label_replace(llm_requests_waiting, "model", "$1", "target", "(.*)")', {"llm_requests_waiting"}),
    ],
)
def test_name_check_reads_names_from_the_ast(expr: str, names: set[str]) -> None:
    assert promql.series_names(expr) == names


def test_name_check_rejects_what_is_not_promql() -> None:
    with pytest.raises(promql.UnknownSeriesError, match=r"not PromQL .*: rate\(llm_requests_waiting\[5m\]"):
        promql.check_names(["rate(llm_requests_waiting[5m]"], [])
