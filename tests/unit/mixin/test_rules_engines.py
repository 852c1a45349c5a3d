"""Issue #15 rules: per-engine decisions come from the engine tables, thresholds from the settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from exporter import engines as engine_tables
from exporter.mixin import docs, kubernetes, rules
from exporter.mixin.rules import engines
from exporter.mixin.settings import Settings, SettingsError, load

TTFT = "gen_ai_server_time_to_first_token_seconds"


def _settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    return load(path)


def _alerts(settings: Settings, name: str) -> list[rules.model.Rule]:
    return [r for g in rules.build(settings) for r in g.rules if r.alert == name]


def _record(settings: Settings, name: str) -> str:
    return next(r.expr for g in rules.build(settings) for r in g.rules if r.record == name)


def test_default_bounds_resolve_per_engine_from_the_tables() -> None:
    ttft, tpot = engines.resolve(Settings(), "ttft"), engines.resolve(Settings(), "tpot")
    # SGLang 0.5 lacks 2.5 (… 1, 2, 4): the shipped override; Dynamo's 1/10 and Triton's undeclared bounds fall back.
    assert ttft.own_bound == {"sglang": 2.0}
    assert set(ttft.fallback) == {"dynamo", "triton"} and set(ttft.not_evaluable) == {"tgi"}
    # TGI's 1.5^k TPOT bounds straddle 0.1 (0.0985, 0.1478).
    assert tpot.own_bound == {} and tpot.fallback == ("tgi",)
    assert set(tpot.not_evaluable) == {"llamacpp", "triton", "nim", "dynamo"}


def test_an_engine_bound_override_that_is_not_a_bound_fails_naming_engine_field_and_bounds(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "slo: {engine_bounds: {sglang: {ttft_seconds: 2.5}}}")
    with pytest.raises(SettingsError) as error:
        rules.build(settings)
    bounds = ", ".join(f"{b:g}" for b in engine_tables.ENGINES["sglang"].bounds_of(TTFT))
    assert str(error.value) == (
        f"slo.engine_bounds.sglang.ttft_seconds=2.5 is not a bucket bound of sglang's {TTFT} ({bounds})"
    )


def test_without_the_quantile_fallback_engines_lacking_the_bound_fail_generation(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "slo: {quantile_fallback: false}")
    with pytest.raises(SettingsError) as error:
        rules.build(settings)
    failing = [line.split("bucket bound of ")[1].split("'s")[0] for line in str(error.value).splitlines()]
    assert failing == ["triton", "dynamo", "tgi"]
    assert "slo.engine_bounds.tgi.tpot_seconds" in str(error.value)


def test_quantile_fallback_alerts_cover_exactly_the_fallback_engines() -> None:
    (ttft_slow,) = _alerts(Settings(), "LLMTTFTSlow")
    (tpot_slow,) = _alerts(Settings(), "LLMTPOTSlow")
    assert 'engine_type=~"triton|dynamo"' in ttft_slow.expr and 'engine_type=~"tgi"' in tpot_slow.expr
    ratio = _record(Settings(), "model:llm_ttft_slo_errors:ratio_rate1h")
    assert 'engine_type!~"sglang|triton|dynamo", le="2.5"' in ratio


def test_error_ratio_branches_follow_the_tables_failure_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = dataclasses.replace(engine_tables.ENGINES["vllm"], engine_type="newengine", failure_reasons=("timeout",))
    monkeypatch.setitem(engine_tables.ENGINES, "newengine", extra)
    expr = _record(Settings(), "model:llm_request_errors:ratio_rate5m")
    assert 'engine_type!~"sglang|newengine", finish_reason=~"error"' in expr
    assert 'engine_type=~"sglang", finish_reason=~"error|abort"' in expr
    assert 'engine_type=~"newengine", finish_reason=~"error|timeout"' in expr
    assert 'finish_reason!~"rejected"' in expr


def test_an_engine_failure_reasons_override_replaces_the_table(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "slo: {engine_failure_reasons: {sglang: [error]}}")
    expr = _record(settings, "model:llm_request_errors:ratio_rate5m")
    assert "abort" not in expr and "sglang" not in expr


def test_stall_branches_split_on_how_the_tables_count_tokens() -> None:
    per_step = "|".join(sorted(engine_tables.engines_counting("llm_generation_tokens_total", "per_step")))
    step, completion = _alerts(Settings(), "LLMEngineStalled")
    assert f'engine_type=~"{per_step}"' in step.expr and "token_counters" not in step.labels
    assert f'engine_type!~"{per_step}"' in completion.expr and completion.labels["token_counters"] == "per_completion"
    assert "[15m]" in completion.expr


def test_hpa_target_is_one_setting_for_the_manifest_and_the_alert(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "hpa: {waiting_per_replica: 12.5, join_labels: [namespace, model]}")
    (maxed,) = _alerts(settings, "LLMHPAMaxedOut")
    assert maxed.expr.rstrip().endswith("> 12.5\n)") and "and on (namespace, model)" in maxed.expr
    hpa = yaml.safe_load(kubernetes.render("", settings)["hpa.yaml"])
    assert hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "12.5"


def test_new_thresholds_and_severities_come_from_the_settings(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        "availability: {exporter_down_severity: critical, startup_grace: 30m}\n"
        "replicas: {page_share: 0.25, page_for: 1m}\nslo: {min_requests: 7}\n"
        "selectors: {kube_state_metrics: 'job=\"ksm\"'}\nprefix_cache: {warming_share: 0.3}",
    )
    assert _alerts(settings, "LLMExporterDown")[0].labels["severity"] == "critical"
    assert "[30m]) == 1" in _alerts(settings, "LLMEngineDown")[0].expr
    (share,) = _alerts(settings, "LLMModelReplicasDown")
    assert share.expr.endswith(">= 0.25") and share.for_ == "1m"
    assert all(r.expr.endswith(">= 7") for r in _alerts(settings, "LLMTTFTBudgetBurn"))
    (missing,) = _alerts(settings, "LLMReplicasMissing")
    assert 'kube_horizontalpodautoscaler_status_desired_replicas{job="ksm"}' in missing.expr
    assert _alerts(settings, "LLMPrefixCacheHitCollapse")[0].expr.endswith(">= 0.3)")


def test_new_settings_are_type_checked(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "slo: {quantile_fallback: 'yes', engine_bounds: {nosuch: {ttft_seconds: 1}}}\n"
        "availability: {exporter_down_severity: page}\n"
    )
    with pytest.raises(SettingsError) as error:
        load(path)
    assert str(error.value).splitlines() == [
        f"{path}:1: slo.quantile_fallback: must be bool, got str",
        f"{path}:1: slo.engine_bounds.nosuch: unknown engine type (known: {', '.join(engine_tables.ENGINES)})",
        f"{path}:2: availability.exporter_down_severity: must be one of critical, warning, info, got 'page'",
    ]


def test_the_error_taxonomy_says_what_the_error_ratio_counts() -> None:
    rows = {
        line.split("|")[1].strip(" `"): line.split("|")[3].strip()
        for line in docs.error_taxonomy()
        if line.startswith("| `")
    }
    assert rows["error"] == "bad" and rows["abort"] == "bad on sglang; good elsewhere"
    assert rows["rejected"] == "excluded (neither good nor bad)" and rows["unknown"] == "good"
    rejected = next(line for line in docs.error_taxonomy() if "`rejected`" in line)
    assert 'tgi_request_failure{err="validation"}' in rejected


def test_metrics_md_lists_how_each_engine_is_judged_per_sli() -> None:
    table = [line for line in docs.slo_bounds() if line.startswith("| ttft") or line.startswith("| tpot")]
    assert table[0].endswith(
        "| 2.5s | vllm, aphrodite, lmdeploy, llamacpp, trtllm, nim | sglang: 2s "
        "| triton, dynamo (`LLMTTFTSlow`) | tgi |"
    )
    assert "| tgi (`LLMTPOTSlow`) |" in table[1]


def test_dashboards_read_the_replica_counts_by_symbol() -> None:
    recorded = rules.recording.Recorded(Settings())
    assert recorded.replicas("down") == "model:llm_replicas_down:count"
    assert {recorded.replicas(s) for s in rules.recording.REPLICA_STATES} <= rules.recording.names(Settings())
    with pytest.raises(ValueError, match="gone is not one of known, ready, down, warming"):
        recorded.replicas("gone")
