"""Every panel query of every generated dashboard, run on a real Prometheus scraping the real exporter.

The exporter fronts a live vLLM (with real traffic), replays of the real TGI 3.3.5 and SGLang 0.5.23
captures, and a target nothing listens on. Each query is run once per target, with the dashboard variables
narrowed to it (host-wide GPU queries once). A query must return at least one finite value, unless it reads a
family the target does not export; those absences are listed below with their reason, and the test checks the
list against what Prometheus holds. On a GPU machine (`pytest -m gpu`, through the device tool) the same checks
run with NVML on, against replays of all three captures.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter import schema
from exporter.mixin import dashboards, rules
from exporter.mixin.promql import le_matcher, series_names
from exporter.mixin.rules import recording
from exporter.mixin.rules.engines import resolve
from exporter.mixin.settings import Settings
from tests.support.engines import EngineServer
from tests.support.exporter import ExporterProcess
from tests.support.nvml import skip_without_nvml
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusServer
from tests.support.replay import ReplayServer
from tests.support.traffic import send_completions
from tests.unit.mixin.test_dashboards import ALL_VALUES, interpolate

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "engines"
TGI_INFO = {"model_id": "tgi-model", "version": "3.3.5"}
TGI_CAPTURE = "tgi-3.3.5-datadog-fixture.prom"
SGLANG_CAPTURE = "sglang-0.5.23-cpu-live.prom"
VLLM_CAPTURE = "vllm-0.32.0-cpu-live.prom"
# The exporter's poll timeout is 0.8 of the interval: 2 s leaves room on a loaded 2-core CI machine.
POLL_INTERVAL = "2s"
RATE_INTERVAL = ALL_VALUES["__rate_interval"]  # Grafana's value for a 15 s scrape; 60 samples at 1 s here

# Families an engine does not export, and why. Checked both ways against Prometheus: each is really absent
# for that engine, and every family the dashboards read that is absent for an engine is listed here.
# Families only other engines (or other deployments) report, absent from all three captures.
NOT_IN_THESE_DEPLOYMENTS = {
    "llm_batch_tokens_max": "only TensorRT-LLM and Dynamo report the batch token cap",
    "llm_requests_running_max": "only TensorRT-LLM, NIM and Dynamo report the running-request cap",
    "llm_kv_transfer_bytes_total": "no disaggregated prefill/decode (KV connector) in these deployments",
    "llm_kv_transfer_duration_seconds": "no disaggregated prefill/decode (KV connector) in these deployments",
    "llm_kv_transfer_failures_total": "no disaggregated prefill/decode (KV connector) in these deployments",
    "llm_spec_decode_draft_tokens_total": "no speculative decoding configured in these captures",
    "llm_spec_decode_accepted_tokens_total": "no speculative decoding configured in these captures",
    "llm_lora_adapters": "no LoRA adapter configured in these captures (TGI reports no LoRA state)",
}
ABSENT: dict[str, dict[str, str]] = {
    "vllm": NOT_IN_THESE_DEPLOYMENTS
    | {
        "llm_prefix_cache_hit_ratio": "vLLM V1 reports prefix hits as counters only (the gauge was V0's)",
    },
    "sglang": NOT_IN_THESE_DEPLOYMENTS
    | {
        "llm_request_prefill_time_seconds": "SGLang has no per-request prefill-time histogram",
        "llm_request_decode_time_seconds": "SGLang has no per-request decode-time histogram",
        "llm_preemptions_total": "the SGLang 0.5.23 capture retracted no request, so the counter never appeared",
        "llm_engine_sleeping": "SGLang has no sleep mode metric",
        "llm_requests_rejected_total": "SGLang reports no admission rejections",
        "llm_scheduler_step_tokens": "SGLang has no tokens-per-step histogram",
    },
    "tgi": NOT_IN_THESE_DEPLOYMENTS
    | {
        "llm_engine_sleeping": "TGI has no sleep mode",
        "llm_requests_rejected_total": "TGI reports no admission rejections",
        "llm_scheduler_step_tokens": "TGI has no tokens-per-step histogram",
        "llm_requests_waiting_by_reason": "TGI reports its queue without reasons",
        "gen_ai_server_time_to_first_token_seconds": "TGI reports no TTFT (the schema never synthesizes one)",
        "llm_inter_token_latency_seconds": "TGI has no per-token latency histogram (it has per-request TPOT)",
        "llm_request_prefill_time_seconds": "TGI times prefill per batch, not per request",
        "llm_request_decode_time_seconds": "TGI times decode per batch, not per request",
        "llm_kv_cache_usage_ratio": "TGI reports no KV-cache usage",
        "llm_kv_cache_capacity_tokens": "this TGI capture has no tgi_batch_max_total_tokens gauge",
        "llm_prefix_cache_hits_tokens_total": "TGI has no prefix cache",
        "llm_prefix_cache_queries_tokens_total": "TGI has no prefix cache",
        "llm_prefix_cache_hit_ratio": "TGI has no prefix cache",
        "llm_preemptions_total": "TGI reports no preemptions",
    },
}
# Polls of a live target fail only when the machine is overloaded; the counter exists from the first failure.
ABSENT_UNLESS_A_POLL_FAILED = {
    "llm_exporter_scrape_errors_total": "no poll of this target failed (the counter appears with the first failure)"
}
# A target nothing listens on: the exporter calls its engine "unknown" and has only its poll series for it.
DOWN = "unknown"
DOWN_HAS = {
    "llm_exporter_target_up",
    "llm_exporter_target_state",
    "llm_exporter_scrape_duration_seconds",
    "llm_exporter_scrape_errors_total",
}
NEVER_ANSWERED = "the target never answered: the exporter has only its poll series for it"

# Host-wide (GPU) families the dashboards read that a host lacks, and why: with no GPU, all but two of them.
NO_GPU = "no NVIDIA GPU on this machine: the NVML collector is down (llm_gpu_nvml_up 0)"
EXPORTED_WITHOUT_GPU = {"llm_gpu_nvml_up", "llm_gpu_collect_duration_seconds"}
ABSENT_ON_GPU_HOST = {
    "llm_gpu_xid_errors_total": "no Xid error happened during the test (the counter appears with the first one)",
    "llm_gpu_engine_memory_used_bytes": "the engines are replays: no engine process runs on the GPU",
    "llm_gpu_nvlink_transmit_bytes_total": "a lone GPU has no NVLink links; the counters exist only where links do",
    "llm_gpu_nvlink_receive_bytes_total": "a lone GPU has no NVLink links; the counters exist only where links do",
}

# Queries whose families are all present yet return nothing on a healthy target or GPU, and why.
EMPTY_BY_DESIGN = {
    ("overview", "Replicas gone", "A"): "it counts replicas whose series vanished, and none did",
    ("gpu", "GPUs lost", "A"): "it counts GPUs that stopped answering NVML, and every GPU answers",
}


@dataclass(frozen=True)
class Stack:
    """Prometheus scraping one exporter, and per engine type the target name the exporter gave it."""

    prometheus: PrometheusServer
    targets: dict[str, str]
    live: EngineServer | None = None  # a live vLLM to send traffic to, when the stack has one

    def traffic(self) -> None:
        """Real completions on the live vLLM (half sharing a prefix), seen by Prometheus before returning."""
        if self.live is not None:
            # Prometheus must hold a sample from before the traffic, or the first sample already has it all.
            self.prometheus.wait_for_query(f'llm_generation_tokens_total{{target="{self.live.target}"}}', bool)
            send_completions(self.live.base_url, self.live.model, count=12, shared=6, concurrency=3)
        for engine, target in self.targets.items():
            if engine == DOWN:
                continue
            self.prometheus.wait_for_query(
                f'sum(rate(llm_generation_tokens_total{{target="{target}"}}[{RATE_INTERVAL}]))',
                lambda result: finite(result) and float(result[0]["value"][1]) > 0,
            )

    def gpu(self) -> bool:
        """Whether the exporter's NVML collector is up (a GPU host)."""
        result = self.prometheus.query("max(llm_gpu_nvml_up)")
        return finite(result) and float(result[0]["value"][1]) == 1


SETTINGS = Settings()
# The fleet panels read recording rules: Prometheus evaluates them, and a recorded name stands for what it reads.
RECORDINGS = recording.exprs(SETTINGS)


def read_series(expr: str) -> set[str]:
    """The schema samples an expression reads, through any recorded series it selects."""
    names = series_names(expr)
    return {n for name in names for n in (read_series(RECORDINGS[name]) if name in RECORDINGS else {name})}


def family_of(sample: str) -> str:
    """The schema family a sample name belongs to."""
    if sample in schema.BY_NAME:
        return sample
    return re.sub(r"_(bucket|sum|count)$", "", sample)


class ReplayAsTraffic(ReplayServer):
    """Replays a capture as if its traffic went on: counters and histograms grow by the captured amounts
    once per `period` seconds (gauges stay as captured), so rates and quantiles have something to show."""

    def __init__(self, capture: bytes, json_routes: dict[str, Any] | None = None, period: float = 60.0) -> None:
        self.period = period
        self.started = time.monotonic()
        super().__init__(capture, json_routes)

    @property  # type: ignore[override]
    def metrics(self) -> bytes:
        factor = 1 + (time.monotonic() - self.started) / self.period
        text = "".join(head if value is None else f"{head}{value * factor!r}{tail}" for head, value, tail in self.lines)
        return text.encode()

    @metrics.setter
    def metrics(self, capture: bytes) -> None:
        self.lines = growing_lines(capture.decode())  # parsed once: a reply must stay well inside the poll timeout


_TYPE = re.compile(r"# TYPE (\S+) (\w+)")
_SAMPLE = re.compile(r"^(\S+?)(\{.*\})? (\S+)(.*)$")


def growing_lines(text: str) -> list[tuple[str, float | None, str]]:
    """Each line as (head, value, tail); value is None where the line does not grow (comments, gauges, quantiles).

    What grows: counter samples, and the _sum, _count and _bucket samples of histograms and summaries."""
    cumulative: dict[str, str] = {}
    lines: list[tuple[str, float | None, str]] = []
    for line in text.splitlines():
        declared = _TYPE.match(line)
        if declared:
            cumulative[declared.group(1)] = declared.group(2)
        sample = None if line.startswith("#") else _SAMPLE.match(line)
        grows = False
        if sample:
            name, labels, _, _ = sample.groups()
            base = re.sub(r"_(total|bucket|sum|count)$", "", name)
            kind = cumulative.get(name) or cumulative.get(base)
            grows = kind == "counter" or (kind in ("histogram", "summary") and name != base)
            grows = grows and 'quantile="' not in (labels or "")
        if sample and grows:
            lines.append((f"{sample.group(1)}{sample.group(2) or ''} ", float(sample.group(3)), sample.group(4) + "\n"))
        else:
            lines.append((line + "\n", None, ""))
    return lines


def narrowed(engine: str, target: str) -> dict[str, str]:
    """Variable values selecting one engine type and its target (the rest: All)."""
    return ALL_VALUES | {"engine_type": engine, "engine_a": engine, "engine_b": engine, "target": target}


def finite(result: list[dict[str, Any]]) -> bool:
    """Whether an instant-query result holds at least one finite number (NaN from 0/0 quantiles is no data)."""
    return any(math.isfinite(float(item["value"][1])) for item in result)


def panel_queries() -> Iterator[tuple[str, str, str, str]]:
    """(dashboard stem, panel title, refId, expr) for every panel target of the generated dashboards."""
    for stem, build in dashboards.BUILDERS.items():
        dashboard = dashboards.render(build, SETTINGS)
        for panel in dashboards.panels(dashboard):
            for target in panel["targets"]:
                yield stem, panel["title"], target["refId"], target["expr"]


def start_stack(workdir: Path, engines: dict[str, Any], live: EngineServer | None) -> Iterator[Stack]:
    """Start the replays, one exporter polling every engine and a Prometheus scraping the exporter each second."""
    started: list[Any] = []
    try:
        for server in engines.values():
            if server is not live:
                server.start()
                started.append(server)
        dead = f"127.0.0.1:{free_port()}"
        urls = [server.url if server is not live else live.base_url for server in engines.values()]
        # Every GPU: the engines are replays, so no engine process holds a GPU for the default (engine) to find.
        exporter = ExporterProcess(
            [*urls, f"http://{dead}"], workdir, interval=POLL_INTERVAL, extra_args=["--gpu.devices", "all"]
        )
        exporter.start()
        started.append(exporter)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [rules.RULES_FILE],
            "scrape_configs": [
                {"job_name": "llm-exporter", "static_configs": [{"targets": [exporter.url.removeprefix("http://")]}]}
            ],
        }
        recordings = rules.render_rules(recording.groups(SETTINGS))
        prometheus = PrometheusServer(workdir / "prometheus", config, rule_files={rules.RULES_FILE: recordings})
        prometheus.start()
        started.append(prometheus)
        targets = {engine: server.target for engine, server in engines.items()} | {DOWN: dead}
        stack = Stack(prometheus, targets, live)
        stack.traffic()
        yield stack
    finally:
        for server in reversed(started):
            server.stop()


def replay(capture: str, json_routes: dict[str, Any] | None = None) -> ReplayAsTraffic:
    return ReplayAsTraffic((FIXTURES / capture).read_bytes(), json_routes)


@pytest.fixture(scope="module")
def stack(vllm_engine: EngineServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The live vLLM plus the TGI and SGLang replays."""
    engines = {"vllm": vllm_engine, "tgi": replay(TGI_CAPTURE, {"/info": TGI_INFO}), "sglang": replay(SGLANG_CAPTURE)}
    yield from start_stack(tmp_path_factory.mktemp("dashboards-e2e"), engines, vllm_engine)


@pytest.fixture(scope="module")
def replayed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Replays of all three captures (vLLM's too), for machines with a GPU but no vLLM install."""
    skip_without_nvml()
    engines = {
        "vllm": replay(VLLM_CAPTURE),
        "tgi": replay(TGI_CAPTURE, {"/info": TGI_INFO}),
        "sglang": replay(SGLANG_CAPTURE),
    }
    yield from start_stack(tmp_path_factory.mktemp("dashboards-gpu-e2e"), engines, None)


def present_families(prometheus: PrometheusServer, target: str | None) -> set[str]:
    """Schema families Prometheus holds series for, for one target (engine and poll series) or host-wide."""
    matcher = f'target="{target}"' if target else 'target=""'
    names = prometheus.query(f'count by (__name__) ({{__name__=~"(llm|gen_ai)_.+", {matcher}}})')
    return {family_of(item["metric"]["__name__"]) for item in names}


def host_absent(stack: Stack) -> dict[str, str]:
    """GPU families the dashboards read that this host lacks, with the reason."""
    if stack.gpu():
        return ABSENT_ON_GPU_HOST
    gpu_families = {f for f in dashboard_families() if f.startswith("llm_gpu_")} - EXPORTED_WITHOUT_GPU
    return dict.fromkeys(gpu_families, NO_GPU)


def dashboard_families() -> set[str]:
    """Every schema family some panel query reads."""
    return {family_of(name) for *_, expr in panel_queries() for name in read_series(expr)}


def missing_families(stack: Stack, engine: str) -> set[str]:
    """Engine and poll families the dashboards read that Prometheus lacks for one engine's target."""
    read = {f for f in dashboard_families() if not f.startswith("llm_gpu_")}
    return read - present_families(stack.prometheus, stack.targets[engine]) - present_families(stack.prometheus, None)


def engine_absent(stack: Stack, engine: str) -> dict[str, str]:
    """Families listed absent for one engine, with the reason."""
    if engine == DOWN:
        read = {f for f in dashboard_families() if not f.startswith("llm_gpu_")}
        return dict.fromkeys(read - DOWN_HAS, NEVER_ANSWERED)
    missing = missing_families(stack, engine)
    return ABSENT[engine] | {f: why for f, why in ABSENT_UNLESS_A_POLL_FAILED.items() if f in missing}


def check_absences(stack: Stack) -> None:
    """The families listed absent are exactly those Prometheus lacks, per engine target and host-wide."""
    read = dashboard_families()
    host = present_families(stack.prometheus, None)
    assert {f for f in read - host if f.startswith("llm_gpu_")} == set(host_absent(stack)), "update ABSENT_ON_GPU_HOST"
    for engine in stack.targets:
        assert missing_families(stack, engine) == set(engine_absent(stack, engine)), f"{engine}: update ABSENT"


def no_slo_bound(stack: Stack, engine: str, expr: str) -> list[str]:
    """Why an SLO recording an expression reads is empty for an engine: the quantile fallback judges that engine,
    or its buckets lack the bound the rules resolved for it (the objective's, or its own from slo.engine_bounds)."""
    reasons = []
    for sli in ("ttft", "tpot"):
        if not any(name.startswith(recording.slo_name(sli, "")) for name in series_names(expr)):
            continue
        resolution = resolve(SETTINGS, sli)
        if engine in resolution.fallback:
            reasons.append(f"{engine} has no {sli.upper()} bucket at the SLO bound: the p99 fallback judges it")
            continue
        bounds = [resolution.bound, *([resolution.own_bound[engine]] if engine in resolution.own_bound else [])]
        target = stack.targets[engine]
        histogram = resolution.histogram
        present = stack.prometheus.query(f'count({histogram}_bucket{{target="{target}"}})')
        at_bound = any(
            stack.prometheus.query(f'count({histogram}_bucket{{target="{target}", {le_matcher(b)}}})') for b in bounds
        )
        if present and not at_bound:
            reasons.append(f"{engine} exposes no {sli.upper()} bucket at the SLO bounds {bounds} s (issue 15 item 5)")
    return reasons


def top_level_alternatives(expr: str) -> list[str]:
    """The operands of `or` outside parentheses (the whole expression when there is none)."""
    parts, depth, start = [], 0, 0
    for match in re.finditer(r"[()]| or ", expr):
        token = match.group(0)
        depth += {"(": 1, ")": -1}.get(token, 0)
        if token == " or " and depth == 0:
            parts.append(expr[start : match.start()])
            start = match.end()
    return [*parts, expr[start:]]


def check_panel_queries(stack: Stack, report: Path) -> None:
    """Run every panel query per engine (host-wide ones once); data unless listed empty, empty only if listed."""
    stack.traffic()  # fresh rates for the live engine: the queries below take a while
    host = host_absent(stack)
    absent_by_engine = {engine: engine_absent(stack, engine) | host for engine in stack.targets}
    rows: list[dict[str, str]] = []
    failures = []
    for stem, title, ref, expr in panel_queries():
        # A report table joins its rows with `or`: it has data unless every row reads a family that is absent.
        rows_families = [{family_of(name) for name in read_series(row)} for row in top_level_alternatives(expr)]
        engine_scoped = re.search(r"\$\{?(engine_type|engine_a|engine_b|target)\b", expr)
        for engine in stack.targets if engine_scoped else ["vllm"]:
            column = engine if engine_scoped else "host"
            absent = absent_by_engine[engine]
            by_row = [[absent[f] for f in sorted(families) if f in absent] for families in rows_families]
            reasons = list(dict.fromkeys(r for row in by_row for r in row)) if all(by_row) else []
            if (stem, title, ref) in EMPTY_BY_DESIGN:
                reasons.append(EMPTY_BY_DESIGN[(stem, title, ref)])
            if engine != DOWN:
                reasons += no_slo_bound(stack, engine, expr)
            got = finite(stack.prometheus.query(interpolate(expr, narrowed(engine, stack.targets[engine]))))
            rows.append(
                {
                    "dashboard": stem,
                    "panel": title,
                    "ref": ref,
                    "engine": column,
                    "result": "data" if got else "empty: " + "; ".join(reasons),
                }
            )
            if got == bool(reasons):
                failures.append(
                    f"{stem} / {title} / {ref} on {column}: "
                    + ("returned data but is listed empty" if got else f"empty: {expr}")
                )
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(rows, indent=1))
    assert not failures, "\n".join(failures)


def check_variables(stack: Stack) -> None:
    """Every label_values variable lists at least one value (the GPU ones only where there is a GPU)."""
    for stem, build in dashboards.BUILDERS.items():
        for variable in dashboards.render(build, SETTINGS)["templating"]["list"]:
            if variable["type"] != "query" or (series_names(variable["query"]) == {"llm_gpu_up"} and not stack.gpu()):
                continue
            selector_text, label = re.fullmatch(r"label_values\((.*), (\w+)\)", variable["query"]).groups()
            response = httpx.get(
                f"{stack.prometheus.url}/api/v1/label/{label}/values",
                params={"match[]": interpolate(selector_text, ALL_VALUES)},
                timeout=10.0,
            )
            assert response.json()["data"], f"{stem}: variable {variable['name']} lists nothing"


def results_path(request: pytest.FixtureRequest, name: str) -> Path:
    """Where the per-query result table goes (for the report; not an input of any test)."""
    return Path(request.config.rootpath) / ".pytest_cache" / f"{name}.json"


def test_absences_listed_are_exactly_the_families_missing(stack: Stack) -> None:
    check_absences(stack)


def test_every_panel_query_returns_data_or_is_listed(stack: Stack, request: pytest.FixtureRequest) -> None:
    check_panel_queries(stack, results_path(request, "dashboards-e2e-results"))


def test_every_variable_lists_values(stack: Stack) -> None:
    check_variables(stack)


@pytest.mark.gpu
def test_on_a_gpu_every_query_returns_data_or_is_listed(replayed_stack: Stack, request: pytest.FixtureRequest) -> None:
    assert replayed_stack.gpu(), "NVML initialised in the test but the exporter's collector is down"
    check_absences(replayed_stack)
    check_panel_queries(replayed_stack, results_path(request, "dashboards-gpu-e2e-results"))
    check_variables(replayed_stack)
