"""The generated dashboards: in sync with the generator, built only from schema metrics, and following the
conventions the issue sets (datasource variable, scoped variables, units, guarded ratios, stable uids…)."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import promql_parser
import pytest
import yaml
from grafanalib import core as g

from exporter import schema
from exporter.cli import generate
from exporter.engines import ENGINES
from exporter.mixin import dashboards, promql, rules
from exporter.mixin import settings as mixin_settings
from exporter.mixin.dashboards.panels import DATASOURCE, Query, timeseries
from exporter.mixin.dashboards.queries import quantile, selector
from exporter.mixin.promql import UnknownSeriesError, selectors, series_names
from exporter.mixin.rules import recording
from exporter.mixin.settings import Settings

ROOT = pathlib.Path(__file__).resolve().parents[3]
DASHBOARDS = ROOT / "dashboards"
CONFIGMAPS = ROOT / "deploy" / "kubernetes" / "dashboards"
UIDS = {
    "overview": "llm-overview",
    "engine": "llm-engine",
    "kv-cache": "llm-kv-cache",
    "gpu": "llm-gpu",
    "migration": "llm-migration",
}
ENGINE_DASHBOARDS = ("overview", "engine", "kv-cache")


def load(stem: str) -> dict[str, Any]:
    return json.loads((DASHBOARDS / f"{stem}.json").read_text(encoding="utf-8"))


# What Grafana puts in place of $__rate_interval, $__range and the variables when every variable is "All".
ALL_VALUES = {"__rate_interval": "1m", "__range": "5m", "__range_s": "300", "price_a": "2.5", "price_b": "2.5"} | (
    dict.fromkeys(
        ("job", "model", "instance", "gpu", "engine_type", "engine_a", "engine_b", "target", "target_a", "target_b",
         "version_a", "version_b"),
        ".*",
    )
)  # fmt: skip


def interpolate(expr: str, values: dict[str, str]) -> str:
    """The query as Grafana sends it to Prometheus: every $name and ${name} replaced by its value."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)


def all_targets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(panel title, target) for every panel query, plus ("annotation: name", annotation) for every annotation."""
    targets = [(panel["title"], target) for panel in dashboards.panels(dashboard) for target in panel["targets"]]
    return targets + [(f"annotation: {a['name']}", a) for a in dashboard["annotations"]["list"]]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[pathlib.Path]:
    """What dashboards.write returned, writing every dashboard once for the module."""
    out = tmp_path_factory.mktemp("generated")
    dashboards.write_configmaps(out / "configmaps")
    return dashboards.write(out / "dashboards")


@pytest.fixture(scope="module")
def generated(written: list[pathlib.Path]) -> pathlib.Path:
    return written[0].parents[1]


# --- the CI sync check --------------------------------------------------------------------------------------


def test_committed_dashboards_equal_generator_output(generated: pathlib.Path) -> None:
    fresh = {p.name: p.read_bytes() for p in (generated / "dashboards").glob("*.json")}
    committed = {p.name: p.read_bytes() for p in DASHBOARDS.glob("*.json")}
    assert sorted(committed) == sorted(fresh), "dashboards/ has extra or missing files: regenerate"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"dashboards out of date, run `llm-exporter generate dashboards`: {stale}"


def test_committed_configmaps_equal_generator_output(generated: pathlib.Path) -> None:
    fresh = {p.name: p.read_bytes() for p in (generated / "configmaps").glob("*.yaml")}
    committed = {p.name: p.read_bytes() for p in CONFIGMAPS.glob("*.yaml")}
    assert sorted(committed) == sorted(fresh)
    assert [name for name in fresh if fresh[name] != committed[name]] == []


def test_write_returns_the_files_it_wrote_in_stable_form(written: list[pathlib.Path]) -> None:
    assert [p.name for p in written] == [f"{stem}.json" for stem in UIDS]
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


# --- every query names schema metrics -----------------------------------------------------------------------


@pytest.mark.parametrize("stem", UIDS)
def test_every_query_selects_only_schema_samples_or_shipped_recordings(stem: str) -> None:
    dashboard = load(stem)
    known = schema.SAMPLE_NAMES | recording.names(Settings())
    for title, target in all_targets(dashboard):
        names = series_names(target["expr"])
        assert names, f"{stem}/{title}: query selects no metric: {target['expr']}"
        assert names <= known, f"{stem}/{title}: {sorted(names - known)}"
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert len(series_names(variable["query"]) & schema.SAMPLE_NAMES) == 1, variable["query"]


TARGET_LABELS = {"job", "instance"}  # added by Prometheus, not by the exporter


def _kept_labels(recording_expr: str, recorded: dict[str, str]) -> set[str]:
    """The labels a recording keeps: its outermost `by (...)`, those of its operands, or of the recordings it reads."""

    def kept(node: promql_parser.Expr) -> set[str]:
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier.type == promql_parser.AggModifierType.By:
            return set(node.modifier.labels)
        if isinstance(node, promql_parser.BinaryExpr):
            return kept(node.lhs) | kept(node.rhs)
        if isinstance(node, promql_parser.ParenExpr):
            return kept(node.expr)
        if isinstance(node, promql_parser.VectorSelector) and node.name in recorded:
            return _kept_labels(recorded[node.name], recorded)
        return set()

    return kept(promql_parser.parse(recording_expr))


@pytest.mark.parametrize("stem", UIDS)
def test_every_matcher_uses_a_label_the_family_has(stem: str) -> None:
    recorded = recording.exprs(Settings())
    dashboard = load(stem)
    exprs = [t["expr"] for _, t in all_targets(dashboard)] + [
        v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"
    ]
    for expr in exprs:
        for sample, used in selectors(expr).items():
            if sample in recorded:
                assert used <= _kept_labels(recorded[sample], recorded), f"{stem}: {sample} keeps no {used}"
                continue
            family = re.sub(r"_(bucket|sum|count)$", "", sample) if sample not in schema.BY_NAME else sample
            allowed = set(schema.spec(family).labels) | set(schema.OPTIONAL_ENGINE_LABELS) | TARGET_LABELS
            if sample.endswith("_bucket"):
                allowed.add("le")
            assert used <= allowed, f"{stem}: {sample} has no label {sorted(used - allowed)}"


def test_generation_fails_on_a_metric_the_schema_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    def bogus(settings: Settings) -> g.Dashboard:
        panel = timeseries("Bogus", "Healthy: never.", "s", [Query("rate(vllm:num_requests_running[5m])")])
        return g.Dashboard(title="bogus", panels=[panel])

    monkeypatch.setattr(dashboards, "BUILDERS", {"bogus": bogus})  # the others need not be rendered again
    with pytest.raises(UnknownSeriesError, match="vllm:num_requests_running"):
        dashboards.write(pathlib.Path("/nonexistent-never-written"))


def test_selector_refuses_a_metric_the_schema_lacks() -> None:
    with pytest.raises(UnknownSeriesError, match="llm_made_up_total"):
        selector("llm_made_up_total", {"job": "$job"})


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum(rate(a_total{x=~"$x", y="b{c}"}[$__rate_interval]))', {"a_total"}),
        ("histogram_quantile(0.95, sum by (le, engine_type) (rate(h_bucket[5m])))", {"h_bucket"}),
        ("(x / 1e6) > 0 and on (job, instance) y", {"x", "y"}),
        ("($price_a * count(up == 1) / 3600) / (${b} > 0)", {"up"}),
        ("time() - max without (gpu) (ts) or vector(0)", {"ts"}),
        ("a offset 5m unless ignoring (le) b", {"a", "b"}),
    ],
)
def test_series_names_finds_series_and_nothing_else(expr: str, names: set[str]) -> None:
    assert series_names(expr) == names


def test_quantiles_aggregate_buckets_by_le() -> None:
    expr = quantile(0.99, "gen_ai_server_request_duration_seconds", {"target": "$target"}, ("engine_type",))
    assert expr.startswith("histogram_quantile(0.99, sum by (le, engine_type) (rate(")


# --- conventions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", UIDS)
def test_datasource_is_a_variable_never_a_hard_coded_uid(stem: str) -> None:
    dashboard = load(stem)
    first = dashboard["templating"]["list"][0]
    assert (first["name"], first["type"], first["query"]) == ("datasource", "datasource", "prometheus")
    for panel in dashboards.panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
    for title, target in all_targets(dashboard):
        assert target["datasource"] == DATASOURCE, title
    uids = re.findall(r'"uid": "([^"]*)"', (DASHBOARDS / f"{stem}.json").read_text(encoding="utf-8"))
    assert set(uids) == {"${datasource}", UIDS[stem]}


@pytest.mark.parametrize("stem", ENGINE_DASHBOARDS)
def test_engine_dashboards_have_scoped_job_engine_target_model_variables(stem: str) -> None:
    variables = {v["name"]: v for v in load(stem)["templating"]["list"]}
    assert list(variables) == ["datasource", "job", "engine_type", "target", "instance", "model"]
    assert variables["job"]["query"] == 'label_values(llm_exporter_target_up{job="llm-exporter"}, job)'
    assert variables["engine_type"]["query"] == 'label_values(llm_exporter_target_up{job=~"$job"}, engine_type)'
    assert "$engine_type" in variables["target"]["query"] and "$target" in variables["instance"]["query"]
    assert "$instance" in variables["model"]["query"]
    recorded = recording.names(Settings())
    for _, target in all_targets(load(stem)):
        # Recordings keep engine_type and model only: those panels are scoped by them, the rest by $job.
        scope = '"$engine_type"' if series_names(target["expr"]) <= recorded else '"$job"'
        assert scope in target["expr"], target["expr"]


def test_engine_detail_shows_one_replica_at_a_time() -> None:
    variables = {v["name"]: v for v in load("engine")["templating"]["list"]}
    for name in ("target", "instance"):
        assert (variables[name]["multi"], variables[name]["includeAll"]) == (False, False), name


@pytest.mark.parametrize("stem", UIDS)
def test_every_panel_has_a_unit_and_a_description_of_healthy(stem: str) -> None:
    for panel in dashboards.panels(load(stem)):
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        if panel["type"] == "heatmap":
            assert panel["options"]["yAxis"]["unit"], panel["title"]
        assert "Healthy:" in panel["description"], panel["title"]


@pytest.mark.parametrize("stem", UIDS)
def test_ranges_use_rate_interval_or_the_dashboard_range(stem: str) -> None:
    # Annotations look for restarts and rollouts over the lifecycle window: a model load outlasts a rate interval.
    lifecycle = Settings().dashboards.lifecycle_window
    for title, target in all_targets(load(stem)):
        windows = set(re.findall(r"\[([^\]]+)\]", target["expr"]))
        # "$__range:" is a subquery over the range (the Migration report's average replica count).
        allowed = {"$__rate_interval", "$__range", "$__range:"} | (
            {lifecycle} if title.startswith("annotation:") else set()
        )
        assert windows <= allowed, f"{title}: {windows}"


def _denominators(expr: str) -> list[str]:
    """The operand right of each top-level or nested division, up to its closing parenthesis."""
    found = []
    for match in re.finditer(r"/\s*", expr):
        rest = expr[match.end() :]
        if rest[0] != "(":
            found.append(re.match(r"[^\s)]+(\([^)]*\))?", rest).group(0))
            continue
        depth = 0
        for i, char in enumerate(rest):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                found.append(rest[: i + 1])
                break
    return found


@pytest.mark.parametrize("stem", UIDS)
def test_ratios_are_guarded_against_division_by_zero(stem: str) -> None:
    for title, target in all_targets(load(stem)):
        for denominator in _denominators(target["expr"]):
            safe = (
                re.fullmatch(r"[\d.e]+|\(\$__range_s\)", denominator)  # the range's seconds, never 0
                or denominator.endswith("> 0)")
                or denominator.startswith("count(")
            )  # count() is absent, never 0, when nothing matches
            assert safe, f"{stem}/{title}: unguarded denominator {denominator}"


@pytest.mark.parametrize("stem", UIDS)
def test_quantiles_come_from_buckets_summed_by_le(stem: str) -> None:
    for title, target in all_targets(load(stem)):
        for call in re.findall(r"histogram_quantile\([^,]+, (\w+ by \([^)]*\))", target["expr"]):
            assert re.fullmatch(r"sum by \(le(, \w+)*\)", call), f"{title}: {call}"


@pytest.mark.parametrize("stem", UIDS)
def test_modern_schema_and_panels(stem: str) -> None:
    dashboard = load(stem)
    assert dashboard["uid"] == UIDS[stem]
    assert dashboard["schemaVersion"] >= 39
    assert "rows" not in dashboard
    types = {panel["type"] for panel in dashboard["panels"]}
    assert types <= {"row", "stat", "timeseries", "heatmap", "table"}, types
    # A collapsed row holds its panels: they are numbered right after it.
    ids = [id_ for panel in dashboard["panels"] for id_ in (panel["id"], *(p["id"] for p in panel.get("panels", [])))]
    assert ids == list(range(1, len(ids) + 1))
    for panel in dashboard["panels"]:
        assert panel.get("panels", []) == [] or panel["collapsed"], panel["title"]


@pytest.mark.parametrize("stem", UIDS)
def test_panels_fit_the_grid_without_overlapping(stem: str) -> None:
    taken: set[tuple[int, int]] = set()
    for panel in load(stem)["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & taken, panel["title"]
        taken |= cells


@pytest.mark.parametrize("stem", UIDS)
def test_heatmaps_read_prebucketed_rates(stem: str) -> None:
    for panel in dashboards.panels(load(stem)):
        if panel["type"] == "heatmap":
            assert panel["options"]["calculate"] is False
            (target,) = panel["targets"]
            assert (target["format"], target["legendFormat"]) == ("heatmap", "{{le}}")
            assert target["expr"].startswith("sum by (le) (rate(") and "_bucket{" in target["expr"]


@pytest.mark.parametrize("stem", UIDS)
def test_dashboards_link_to_each_other(stem: str) -> None:
    dashboard = load(stem)
    assert "llm-exporter" in dashboard["tags"]
    (link,) = dashboard["links"]
    assert (link["type"], link["tags"], link["includeVars"], link["keepTime"]) == (
        "dashboards",
        ["llm-exporter"],
        True,
        True,
    )
    for panel in dashboards.panels(dashboard):
        for data_link in panel["fieldConfig"]["defaults"].get("links", []):
            uid = re.match(r"/d/([\w-]+)\?", data_link["url"]).group(1)
            assert uid in UIDS.values() and "${__url_time_range}" in data_link["url"]


# --- what each dashboard must show (the issue's list) -------------------------------------------------------


REQUIRED = {
    "overview": {
        "llm_requests_finished_total",
        "llm_prompt_tokens_total",
        "llm_generation_tokens_total",
        "gen_ai_server_time_to_first_token_seconds_bucket",
        "gen_ai_server_time_per_output_token_seconds_bucket",
        "gen_ai_server_request_duration_seconds_bucket",
        "llm_requests_waiting",
        "llm_kv_cache_usage_ratio",
        "llm_prefix_cache_hits_tokens_total",
        "llm_prefix_cache_queries_tokens_total",
        "llm_gpu_utilization_ratio",
        "llm_gpu_memory_used_bytes",
        "llm_gpu_power_watts",
        "llm_exporter_target_up",
    },
    "engine": {
        "llm_requests_running",
        "llm_requests_waiting",
        "llm_preemptions_total",
        "gen_ai_server_time_to_first_token_seconds_bucket",
        "llm_inter_token_latency_seconds_bucket",
        "llm_request_prompt_tokens_bucket",
        "llm_request_generation_tokens_bucket",
        "llm_engine_info",
    },
    "kv-cache": {
        "llm_kv_cache_usage_ratio",
        "llm_kv_cache_capacity_tokens",
        "llm_prefix_cache_hits_tokens_total",
        "llm_prefix_cache_queries_tokens_total",
        "llm_prefix_cache_hit_ratio",
        "llm_preemptions_total",
    },
    "gpu": {
        "llm_gpu_xid_errors_total",
        "llm_gpu_ecc_errors_total",
        "llm_gpu_remapped_rows_total",
        "llm_gpu_clock_event_active",
        "llm_gpu_clock_event_seconds_total",
        "llm_gpu_temperature_celsius",
        "llm_gpu_temperature_slowdown_celsius",
        "llm_gpu_sm_active_ratio",
        "llm_gpu_tensor_active_ratio",
        "llm_gpu_dram_active_ratio",
        "llm_gpu_energy_joules_total",
        "llm_generation_tokens_total",
    },
    "migration": {
        "gen_ai_server_time_to_first_token_seconds_bucket",
        "llm_inter_token_latency_seconds_bucket",
        "llm_generation_tokens_total",
        "llm_gpu_utilization_ratio",
    },
}


@pytest.mark.parametrize("stem", UIDS)
def test_dashboard_shows_what_the_issue_asks_for(stem: str) -> None:
    missing = REQUIRED[stem] - dashboards.sample_names(load(stem))
    assert not missing, missing


def test_migration_compares_two_engine_types_and_prices_tokens() -> None:
    dashboard = load("migration")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["engine_a"]["multi"] is False and variables["engine_b"]["multi"] is False
    assert variables["price_a"]["type"] == variables["price_b"]["type"] == "textbox"
    for panel in dashboards.panels(dashboard):
        exprs = " ".join(t["expr"] for t in panel["targets"])
        if panel["type"] == "timeseries":
            assert "$engine_a" in exprs and "$engine_b" in exprs, panel["title"]
    costs = [t["expr"] for _, t in all_targets(dashboard) if "$price_a" in t["expr"]]
    assert costs and all("/ 3600" in c and "/ 1e6" in c for c in costs)


# --- provisioning and Kubernetes ----------------------------------------------------------------------------


def test_one_configmap_per_dashboard_labelled_for_the_grafana_sidecar() -> None:
    for stem in UIDS:
        manifest = yaml.safe_load((CONFIGMAPS / f"{stem}.yaml").read_text(encoding="utf-8"))
        assert manifest["kind"] == "ConfigMap"
        assert manifest["metadata"]["labels"]["grafana_dashboard"] == "1"
        (content,) = manifest["data"].values()
        assert content == (DASHBOARDS / f"{stem}.json").read_text(encoding="utf-8")
        assert len(content.encode()) < 1024 * 1024  # the ConfigMap size limit


def test_provisioning_example_points_grafana_at_the_dashboards() -> None:
    config = yaml.safe_load((DASHBOARDS / "provisioning" / "dashboards.yaml").read_text(encoding="utf-8"))
    (provider,) = config["providers"]
    assert config["apiVersion"] == 1 and provider["type"] == "file" and provider["options"]["path"]
    sources = yaml.safe_load((DASHBOARDS / "provisioning" / "datasources.yaml").read_text(encoding="utf-8"))
    assert sources["datasources"][0]["type"] == "prometheus"


@pytest.mark.parametrize("stem", UIDS)
def test_panel_titles_are_unique_within_a_dashboard(stem: str) -> None:
    titles = [panel["title"] for panel in dashboards.panels(load(stem))]
    assert len(titles) == len(set(titles))


# --- one settings object, recordings read by what ships ----------------------------------------------------


def test_every_recorded_series_is_read_by_an_alert_or_a_dashboard(written: list[pathlib.Path]) -> None:
    settings = Settings()
    recorded = recording.exprs(settings)
    groups = rules.build(settings)
    readers = [rule.expr for group in groups for rule in group.rules if rule.alert]
    boards = [json.loads(path.read_text(encoding="utf-8")) for path in written]  # rendered with these settings
    readers += [query for board in boards for query in dashboards.queries(board)]
    read: set[str] = set()
    pending = {name for expr in readers for name in series_names(expr)} & set(recorded)
    while pending:  # a recording read by a read recording is read too (tokens per joule reads two rates)
        name = pending.pop()
        read.add(name)
        pending |= (series_names(recorded[name]) & set(recorded)) - read
    assert set(recorded) - read == set()


def test_settings_shape_the_dashboards_as_they_shape_the_rules(tmp_path: pathlib.Path) -> None:
    custom = tmp_path / "settings.yaml"
    custom.write_text(
        "selectors: {engine: 'job=\"inference\"', gpu: 'job=\"dcgm\"'}\nqueue: {waiting: 8}\n"
        "kv_cache: {usage_ratio: 0.97, warning_ratio: 0.8}\n"
        "slo: {availability_objective: 0.99, ttft_objective: 0.95}\n"
        "aggregation: {rate_window: 2m}\navailability: {engine_down_for: 1m30s}\n"
    )
    settings = mixin_settings.load(custom)
    overview = dashboards.render(dashboards.BUILDERS["overview"], settings)
    stats = {panel["title"]: panel for panel in dashboards.panels(overview)}

    def marks(title: str) -> list[object]:
        return [step["value"] for step in stats[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    assert marks("Requests waiting") == [None, 1, 8]
    assert marks("KV cache used (max)") == [None, 0.8, 0.97]
    assert "Healthy: below 80 %;" in stats["KV cache used (max)"]["description"]
    # Orange at the availability budget, red where the slowest page (6x over 6h and 30m) fires.
    assert marks("Error ratio") == [None, 0.01, 0.06]
    assert marks("TTFT p95 (worst model)") == [None, 2.5]
    assert marks("Availability SLI (1h, worst model)") == [None, 0.99]
    requests = stats["Requests / s"]["targets"][0]["expr"]
    assert requests.startswith("sum(model_finish_reason:llm_requests_finished:rate2m{")
    job = next(v for v in overview["templating"]["list"] if v["name"] == "job")
    assert job["query"] == 'label_values(llm_exporter_target_up{job="inference"}, job)'
    engine = dashboards.render(dashboards.BUILDERS["engine"], settings)
    age = next(p for p in dashboards.panels(engine) if p["title"] == "Data age")
    assert age["fieldConfig"]["defaults"]["thresholds"]["steps"][-1] == {"color": "red", "value": 90.0}
    gpu = dashboards.render(dashboards.BUILDERS["gpu"], settings)
    assert next(v for v in gpu["templating"]["list"] if v["name"] == "job")["query"] == (
        'label_values(llm_gpu_up{job="dcgm"}, job)'
    )


def test_recorded_registry_refuses_a_series_no_rule_records() -> None:
    with pytest.raises(ValueError, match="llm_requests_running has no per-model sum recording"):
        recording.Recorded(Settings()).summed("llm_requests_running")


def test_generate_all_applies_one_settings_file_to_rules_dashboards_and_manifests(tmp_path: pathlib.Path) -> None:
    custom = tmp_path / "settings.yaml"
    custom.write_text("queue: {waiting: 8}\n")
    assert generate(["all", "--out", str(tmp_path), "--settings", str(custom)]) == 0
    rule_file = (tmp_path / "alerts" / "llm-exporter.rules.yaml").read_text()
    manifest = (tmp_path / "deploy" / "kubernetes" / "prometheusrule.yaml").read_text()
    wrapped = (tmp_path / "alerts" / "llm-exporter.prometheusrule.yaml").read_text()
    assert "> 8)" in rule_file and manifest.endswith(wrapped) and "> 8)" in wrapped
    overview = json.loads((tmp_path / "dashboards" / "overview.json").read_text())
    waiting = next(p for p in dashboards.panels(overview) if p["title"] == "Requests waiting")
    assert waiting["fieldConfig"]["defaults"]["thresholds"]["steps"][-1] == {"color": "red", "value": 8}


# --- replicas, SLOs and lifecycle (issue 15) ---------------------------------------------------------------

UP_STYLE = {"llm_exporter_target_up", "llm_exporter_target_state", "llm_exporter_last_success_timestamp_seconds"}


def _aggregations(expr: str) -> list[tuple[str, set[str]]]:
    """(operator, series read inside) for every aggregation of an expression."""
    found: list[tuple[str, set[str]]] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.AggregateExpr):
            found.append((str(node.op), series_names(node.prettify())))

    promql_parser.walk(promql_parser.parse(interpolate(expr, ALL_VALUES)), visit)
    return found


@pytest.mark.parametrize("stem", ENGINE_DASHBOARDS)
def test_up_style_signals_take_the_lowest_replica_never_the_highest(stem: str) -> None:
    checked = 0
    for title, target in all_targets(load(stem)):
        for op, read in _aggregations(target["expr"]):
            if read & UP_STYLE:
                checked += 1
                assert op in {"min", "sum", "count"}, f"{stem}/{title}: {op} hides a dead replica"
    assert checked


def test_per_replica_panels_split_by_target_and_instance() -> None:
    for stem in ENGINE_DASHBOARDS:
        for panel in dashboards.panels(load(stem)):
            for target in panel["targets"]:
                if "{{target}}" in target["legendFormat"]:
                    assert (
                        "by (target, instance)" in target["expr"] or "by (job, target, instance)" in target["expr"]
                    ), f"{stem}/{panel['title']}"
                    assert "{{instance}}" in target["legendFormat"]


def test_data_links_carry_the_replica() -> None:
    links = [link for stem in ENGINE_DASHBOARDS for p in dashboards.panels(load(stem))
             for link in p["fieldConfig"]["defaults"].get("links", [])]  # fmt: skip
    assert links and all("var-instance=${__field.labels.instance}" in link["url"] for link in links)


def test_overview_has_a_per_model_table_of_replicas_traffic_latency_queue_and_kv() -> None:
    (models,) = [p for p in dashboards.panels(load("overview")) if p["type"] == "table"]
    renames = models["transformations"][1]["options"]["renameByName"]
    assert list(renames.values()) == [
        "Ready", "Loading", "Down", "Seen in range", "Gone", "Requests / s", "TTFT p95", "TPOT p95", "Waiting",
        "KV used (max)",
    ]  # fmt: skip
    order = models["transformations"][1]["options"]["indexByName"]
    assert (order["model"], order["engine_type"]) == (0, 1)
    for target in models["targets"]:
        assert (target["format"], target["instant"]) == ("table", True)
        assert re.match(
            r"(sum|count|max|histogram_quantile\(0.95, sum) by \((le, )?engine_type, model\)", target["expr"]
        )
    states = [t["expr"] for t in models["targets"][:3]]
    assert [re.search(r'state=~"(\w+)"', e).group(1) for e in states] == ["ready", "loading", "down"]
    # Replicas that vanished from discovery are found from what was seen in the range, not from up-style series.
    assert (
        "last_over_time(llm_engine_info{" in models["targets"][4]["expr"]
        and "unless on" in models["targets"][4]["expr"]
    )


def test_overview_shows_sli_attainment_and_burn_from_the_slo_recordings() -> None:
    settings = Settings()
    window = max(settings.slo.burn_windows, key=lambda w: w.factor).long
    panels = {p["title"]: p for p in dashboards.panels(load("overview"))}
    for sli, title in (("ttft", "TTFT"), ("tpot", "TPOT"), ("errors", "Availability")):
        tile = panels[f"{title} SLI ({window}, worst model)"]
        assert tile["targets"][0]["expr"].startswith(f"1 - max({recording.slo_name(sli, window)}{{")
    burn = panels[f"Error-budget burn rate ({window})"]
    assert {series_names(t["expr"]).pop() for t in burn["targets"]} == {
        recording.slo_name(sli, window) for sli in recording.SLO_SLIS
    }
    page = min(w.factor for w in settings.slo.burn_windows if w.severity == "critical")
    assert burn["fieldConfig"]["defaults"]["thresholds"]["steps"][-1] == {"color": "red", "value": page}
    queue = panels["Queue time p99 (worst model)"]["targets"][0]["expr"]
    assert queue.startswith("max(histogram_quantile(0.99, sum by (le, engine_type, model) (rate(")


def test_latency_tiles_show_the_quantile_the_slo_bounds() -> None:
    titles = {p["title"] for p in dashboards.panels(load("overview"))}
    assert {"TTFT p99 (worst model)", "TPOT p99 (worst model)"} <= titles


def test_annotations_catch_model_loads_restarts_new_replicas_and_rollouts() -> None:
    window = Settings().dashboards.lifecycle_window
    for stem in ENGINE_DASHBOARDS:
        marks = {a["name"]: a["expr"] for a in load(stem)["annotations"]["list"]}
        assert 'state=~"loading"' in marks["Model loading"]
        assert (
            "resets(llm_prompt_tokens_total{" in marks["Engine restarts"] and f"[{window}]" in marks["Engine restarts"]
        )
        assert "unless llm_exporter_target_up{" in marks["New replicas"] and f"offset {window}" in marks["New replicas"]
        assert "count by (engine_type, model, version) (llm_engine_info{" in marks["Rollouts"]
        assert 'state=~"down"' in marks["Targets down"]


def test_a_family_an_engine_does_not_report_is_named_in_the_no_value_text() -> None:
    def lacking(*families: str) -> list[str]:
        return [e for e, table in ENGINES.items() if not {row.unified for row in table.rows} >= set(families)]

    def say(engines: list[str]) -> str:
        return f"{', '.join(engines)} {'does' if len(engines) == 1 else 'do'} not report this"

    ttft = "gen_ai_server_time_to_first_token_seconds"
    assert "tgi" in lacking(ttft)  # the engine this is about: TGI reports no TTFT
    cases = {
        ("overview", "TTFT p99 (worst model)"): f"no traffic; {say(lacking(ttft))}",
        ("engine", "Time to first token"): f"No data; {say(lacking(ttft))}",
        ("kv-cache", "KV tokens in use by target"): "No data; "
        + say(lacking("llm_kv_cache_usage_ratio", "llm_kv_cache_capacity_tokens")),
    }
    for (stem, title), text in cases.items():
        panel = next(p for p in dashboards.panels(load(stem)) if p["title"] == title)
        assert panel["fieldConfig"]["defaults"]["noValue"] == text, title
    # Self-metrics are the exporter's own: every engine has them, so their panels name no engine.
    poll = next(p for p in dashboards.panels(load("engine")) if p["title"] == "Poll up")
    assert poll["fieldConfig"]["defaults"]["noValue"] == "no data"


def test_migration_report_compares_two_sides_over_the_range_scoped_by_model() -> None:
    dashboard = load("migration")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    # The guide's move by default; a target (pod) or version pattern narrows either side.
    assert (variables["engine_a"]["current"]["value"], variables["engine_b"]["current"]["value"]) == ("tgi", "vllm")
    assert all(variables[f"{kind}_{side}"]["type"] == "textbox" for kind in ("target", "version") for side in "ab")
    tables = [p for p in dashboards.panels(dashboard) if p["type"] == "table"]
    figures = set()
    for panel in tables:
        (target,) = panel["targets"]
        assert target["instant"] and "$__rate_interval" not in target["expr"], panel["title"]
        figures |= set(re.findall(r'"figure", "([^"]+)"', target["expr"]))
        for name, labels in promql.selectors(target["expr"]).items():
            # Engine series and the side's info series carry the model; GPU and poll series are joined to them.
            assert "model" in labels or name.startswith(("llm_gpu_", "llm_exporter_")), (panel["title"], name)
        assert '"side", "A"' in target["expr"] and '"side", "B"' in target["expr"]
    assert {"TTFT p99", "Queue time p95", "Error ratio: aborted", "Prefix-cache hit ratio", "Output length p95",
            "Total tokens per second", "Cost per 1M output tokens", "Output tokens per joule"} <= figures  # fmt: skip
