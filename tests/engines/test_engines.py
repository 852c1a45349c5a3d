"""Names that move, ranks that repeat, units that differ, engines nobody mapped: each on a real capture.

Inputs are the captures under tests/fixtures/engines, rewritten in the test where the point is a pipeline's
rewrite (prefixes) or a deployment the capture did not run (more ranks, priorities). Where no real capture has a
family at all, the test says so and builds the input from the engine's documented shape.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config import TargetConfig
from exporter.engines import ENGINES
from exporter.exposition import render
from exporter.family import Family, Sample
from exporter.normalize import Normalizer, detect
from exporter.parse import parse
from exporter.probe import report
from exporter.target import Target
from tests.support.http_server import LocalHTTPServer, QuietHandler

CAPTURES = Path(__file__).parents[1] / "fixtures" / "engines"


def _capture(stem: str) -> str:
    return (CAPTURES / f"{stem}.prom").read_text(encoding="utf-8")


def _normalize(text: str, engine_type: str | None = None, model: str = "") -> dict[str, list[Sample]]:
    families = parse(text)
    engine = ENGINES[engine_type] if engine_type else detect(families, ENGINES.values())
    assert engine is not None
    return {f.name: f.samples for f in Normalizer(engine, "t", model).normalize(families).families}


def _values(samples: list[Sample], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels.get(k, "") for k in labels): s.value for s in samples}


def _rename_prefix(text: str, old: str, new: str) -> str:
    """The capture as a pipeline would re-export it: `old` replaced by `new` on every metric name."""
    return re.sub(rf"(?m)^(# (?:HELP|TYPE) )?{re.escape(old)}", lambda m: (m.group(1) or "") + new, text)


# --- names that move -------------------------------------------------------------------------------------------

REWRITES = [
    ("vllm-0.32.0-cpu-live", "vllm:", "ray_vllm:"),  # Ray Serve re-export
    ("vllm-0.32.0-cpu-live", "vllm:", "kserve_vllm:"),  # KServe re-export
    ("vllm-0.32.0-cpu-live", "vllm:", "vllm_"),  # a pipeline that rewrites colons
    ("vllm-0.32.0-cpu-live", "vllm:", "ray_vllm_"),
    ("sglang-0.5.23-cpu-live", "sglang:", "sglang_"),
    ("llamacpp-b11434-cpu-live", "llamacpp:", "llamacpp_"),
]


@pytest.mark.parametrize(("stem", "old", "new"), REWRITES, ids=[f"{s}:{n}" for s, _, n in REWRITES])
def test_rewritten_prefix_is_detected_and_maps_identically(stem, old, new):
    original = parse(_capture(stem))
    rewritten = parse(_rename_prefix(_capture(stem), old, new))
    assert any(f.name.startswith(new) for f in rewritten) and not any(f.name.startswith(old) for f in rewritten)
    engine = detect(rewritten, ENGINES.values())
    assert engine is not None and engine is detect(original, ENGINES.values())
    want = Normalizer(engine, "t").normalize(original)
    got = Normalizer(engine, "t").normalize(rewritten)
    assert got.unmapped == [] and len(got.mapped) == len(want.mapped) > 0
    assert render(got.families) == render(want.families)


def test_an_unknown_prefix_is_not_taken_for_an_engine():
    rewritten = parse(_rename_prefix(_capture("vllm-0.32.0-cpu-live"), "vllm:", "myvllm:"))
    assert detect(rewritten, ENGINES.values()) is None


# --- data parallel and multi-rank ------------------------------------------------------------------------------


def test_vllm_engine_label_becomes_dp_rank():
    out = _normalize(_capture("vllm-0.10.0-pr22227-dp-partial"))
    assert {s.labels["dp_rank"] for s in out["llm_request_decode_time_seconds"]} == {"1"}


def test_vllm_dp_ranks_stay_separate_and_sum_to_the_engine_total():
    live = _capture("vllm-0.32.0-cpu-live")
    second = "\n".join(line.replace('engine="0"', 'engine="1"') for line in live.splitlines() if 'engine="0"' in line)
    out = _normalize(live + second + "\n")
    single = _normalize(live)
    for name in ("llm_prompt_tokens_total", "llm_generation_tokens_total", "llm_requests_running"):
        by_rank = _values(out[name], "dp_rank")
        assert set(by_rank) == {("0",), ("1",)}, name
        assert sum(by_rank.values()) == 2 * sum(s.value for s in single[name]), name


SGLANG_DP = _capture("sglang-0.5.3-aibrix-issue1614-dp-partial")


def _sglang_running_on_dp_ranks() -> str:
    """num_running_reqs on the label sets of the 8-way DP-attention capture (dp_rank i has tp_rank i).

    The capture's `pid` label belongs to gauges in multiprocess mode "all"; num_running_reqs has none.
    """
    lines = [line for line in SGLANG_DP.splitlines() if line.startswith("sglang:num_paused_reqs{")]
    heads = [
        re.sub(r'pid="\d+",', "", line.split("}")[0]).replace("num_paused_reqs", "num_running_reqs") for line in lines
    ]
    body = "\n".join(f"{head}}} {i + 1}" for i, head in enumerate(heads))
    return f"# TYPE sglang:num_running_reqs gauge\n{body}\n"


def test_sglang_dp_attention_ranks_each_count_once():
    out = _normalize(_sglang_running_on_dp_ranks(), "sglang")
    ranks = _values(out["llm_requests_running"], "dp_rank")
    assert len(ranks) == SGLANG_DP.count("sglang:num_paused_reqs{")
    assert sorted(ranks.values()) == list(range(1, len(ranks) + 1))


def test_sglang_all_schedulers_logging_does_not_multiply():
    # --enable-metrics-for-all-schedulers without DP: every TP rank reports the same scheduler state.
    live = _capture("sglang-0.5.23-cpu-live")
    line = next(x for x in live.splitlines() if x.startswith("sglang:num_running_reqs{"))
    copies = "\n".join(line.replace('tp_rank="0"', f'tp_rank="{rank}"') for rank in (1, 2, 3))
    out = _normalize(live + copies + "\n", "sglang")
    assert [s.value for s in out["llm_requests_running"]] == [float(line.rsplit(" ", 1)[1])]


def test_sglang_priority_total_is_not_double_counted():
    live = _capture("sglang-0.5.23-cpu-live")
    line = next(x for x in live.splitlines() if x.startswith("sglang:num_queue_reqs{"))
    head, _ = line.split("}")
    total = f'{head},priority=""}} 5.0'
    per_priority = "\n".join(f'{head},priority="{p}"}} {v}' for p, v in (("0", 2.0), ("1", 3.0)))
    out = _normalize(live.replace(line, f"{total}\n{per_priority}"), "sglang")
    assert [s.value for s in out["llm_requests_waiting"]] == [5.0]


# --- units and labels per engine -------------------------------------------------------------------------------


def test_llamacpp_prompt_tokens_include_the_cached_ones():
    text = _capture("llamacpp-b11434-cpu-live")
    raw = {s.name: s.value for f in parse(text) for s in f.samples}
    out = _normalize(text)
    cached, uncached = raw["llamacpp:prompt_tokens_cached_total"], raw["llamacpp:prompt_tokens_total"]
    assert cached > 0 and uncached > 0
    assert [s.value for s in out["llm_prompt_tokens_total"]] == [uncached + cached]
    assert [s.value for s in out["llm_prefix_cache_hits_tokens_total"]] == [cached]
    assert [s.value for s in out["llm_prefix_cache_queries_tokens_total"]] == [uncached + cached]
    assert [s.value for s in out["llm_generation_tokens_total"]] == [raw["llamacpp:tokens_predicted_total"]]


def test_llamacpp_builds_without_the_cached_counter_have_no_hits():
    out = _normalize(_capture("llamacpp-2025-06-pr13196-partial"))
    assert "llm_prefix_cache_hits_tokens_total" not in out
    assert [s.value for s in out["llm_prompt_tokens_total"]] == [143.0]


def test_llamacpp_six_significant_digit_counters_parse():
    # Above 10^6 llama-server prints counters as C++ streams do by default: 6 significant digits, exponent form.
    live = "llamacpp:prompt_tokens_total 633"
    text = _capture("llamacpp-b11434-cpu-live").replace(live, "llamacpp:prompt_tokens_total 1.87342e+06")
    out = _normalize(text)
    assert [s.value for s in out["llm_prompt_tokens_total"]] == [1873420.0 + 3353.0]


# Synthetic: no real capture holds Triton's first-response histogram (opt-in, histogram_latencies=true). Shape as
# Triton core writes it (prometheus-cpp: _count, _sum, then _bucket; default bounds 100, 500, 2000, 5000 ms).
TRITON_FIRST_RESPONSE = """# TYPE nv_inference_first_response_histogram_ms histogram
nv_inference_first_response_histogram_ms_count{model="tensorrt_llm",version="1"} 37
nv_inference_first_response_histogram_ms_sum{model="tensorrt_llm",version="1"} 10771
nv_inference_first_response_histogram_ms_bucket{model="tensorrt_llm",version="1",le="100"} 8
nv_inference_first_response_histogram_ms_bucket{model="tensorrt_llm",version="1",le="500"} 30
nv_inference_first_response_histogram_ms_bucket{model="tensorrt_llm",version="1",le="2000"} 36
nv_inference_first_response_histogram_ms_bucket{model="tensorrt_llm",version="1",le="5000"} 37
nv_inference_first_response_histogram_ms_bucket{model="tensorrt_llm",version="1",le="+Inf"} 37
"""


def test_triton_first_response_milliseconds_become_seconds():
    out = _normalize(TRITON_FIRST_RESPONSE, "triton")["gen_ai_server_time_to_first_token_seconds"]
    buckets = [(s.labels["le"], s.value) for s in out if s.name.endswith("_bucket")]
    assert buckets == [("0.1", 8.0), ("0.5", 30.0), ("2.0", 36.0), ("5.0", 37.0), ("+Inf", 37.0)]
    assert {s.name: s.value for s in out if not s.name.endswith("_bucket")} == {
        "gen_ai_server_time_to_first_token_seconds_sum": pytest.approx(10.771),
        "gen_ai_server_time_to_first_token_seconds_count": 37.0,
    }
    assert {s.labels["model"] for s in out} == {"tensorrt_llm"}


def test_triton_ensemble_stages_do_not_multiply_requests():
    text = _capture("triton-2.71-trtllm-synthetic")
    success = {
        s.labels["model"]: s.value for f in parse(text) if f.name == "nv_inference_request_success" for s in f.samples
    }
    assert len(success) == 4  # ensemble, preprocessing, tensorrt_llm, postprocessing each count every request
    finished = _normalize(text)["llm_requests_finished_total"]
    assert {s.labels["model"] for s in finished} == {"tensorrt_llm"}
    ok = [s.value for s in finished if s.labels["finish_reason"] == "unknown"]
    assert ok == [success["tensorrt_llm"]]
    assert {s.labels["reason"] for s in finished if s.labels["finish_reason"] == "error"} == {
        "BACKEND",
        "CANCELED",
        "OTHER",
        "REJECTED",
    }


def test_triton_waiting_falls_back_to_the_pending_count_before_backend_v018():
    text = _capture("triton-2.71-trtllm-synthetic")
    older = "\n".join(x for x in text.splitlines() if 'request_type="waiting"' not in x) + "\n"
    pending = {
        s.labels["model"]: s.value
        for f in parse(text)
        if f.name == "nv_inference_pending_request_count"
        for s in f.samples
    }
    assert _values(_normalize(older)["llm_requests_waiting"], "model") == {("tensorrt_llm",): pending["tensorrt_llm"]}


def test_dynamo_frontend_series_carry_the_lower_cased_model_only():
    text = _capture("dynamo-frontend-metrics-example")
    assert 'model="Qwen/Qwen3-0.6B"' in text and 'model="qwen/qwen3-0.6b"' in text
    out = _normalize(text)
    assert {s.labels["model"] for samples in out.values() for s in samples} == {"qwen/qwen3-0.6b"}
    assert [s.value for s in out["llm_generation_tokens_total"]] == [300.0]
    assert _values(out["llm_requests_finished_total"], "finish_reason") == {("unknown",): 1.0}


def test_trtllm_labels_are_the_unified_ones():
    out = _normalize(_capture("trtllm-dynamo-ce30a76-metrics-example"))
    finished = out["llm_requests_finished_total"]
    assert [(s.labels["engine_type"], s.labels["model"], s.labels["finish_reason"], s.value) for s in finished] == [
        ("trtllm", "Qwen/Qwen3-0.6B", "length", 2.0)
    ]
    tpot = {s.name: s.value for s in out["gen_ai_server_time_per_output_token_seconds"] if s.name.endswith("_count")}
    assert tpot == {"gen_ai_server_time_per_output_token_seconds_count": 2.0}  # once per request: per-request TPOT


# --- identity from the engine's API ----------------------------------------------------------------------------


class _LlamaServerShape(QuietHandler):
    """/metrics from the live llama.cpp capture; /v1/models and /props as llama-server answers them."""

    def do_GET(self) -> None:  # noqa: N802 - the base class names it so
        routes: dict[str, tuple[bytes, str]] = self.owner.routes
        body, kind = routes.get(self.path.split("?")[0], (b"not found\n", ""))
        self.send_body(200 if kind else 404, body, kind or "text/plain")


def _serve(routes: dict[str, tuple[bytes, str]]) -> LocalHTTPServer:
    server = LocalHTTPServer(_LlamaServerShape)
    server.routes = routes  # type: ignore[attr-defined]
    return server


LLAMACPP_METRICS = (_capture("llamacpp-b11434-cpu-live").encode(), "text/plain; version=0.0.4")
LLAMACPP_API = {
    "/v1/models": (
        json.dumps({"object": "list", "data": [{"id": "tiny", "object": "model"}]}).encode(),
        "application/json",
    ),
    "/props": (json.dumps({"build_info": "b11434-unknown", "model_path": "/m/tiny.gguf"}).encode(), "application/json"),
}


@pytest.mark.parametrize(
    ("api", "configured", "model", "version"),
    [
        (True, "", "tiny", "b11434-unknown"),  # the engine's API names it
        (True, "from-config", "tiny", "b11434-unknown"),  # the engine wins over config
        (False, "from-config", "from-config", ""),  # an engine without the API: config
        (False, "", "unknown", ""),
    ],
    ids=["api", "api-over-config", "config", "neither"],
)
def test_llamacpp_model_comes_from_the_api_else_config(api, configured, model, version):
    server = _serve({"/metrics": LLAMACPP_METRICS, **(LLAMACPP_API if api else {})})
    server.start()
    try:
        config = TargetConfig(url=f"{server.url}/metrics", name="llama", model=configured, timeout=5.0)
        with httpx.Client() as client:
            target = Target(config, client)
            target.poll()
    finally:
        server.stop()
    snapshot = target.snapshot
    assert snapshot.up and snapshot.engine_type == "llamacpp"
    assert {s.labels["model"] for f in snapshot.families for s in f.samples} == {model}
    info = next(f for f in snapshot.families if f.name == "llm_engine_info").samples[0]
    assert info.labels["version"] == version


# --- an engine nobody mapped -----------------------------------------------------------------------------------

# The live vLLM capture cut to its Python runtime families: what a Python server no engine table knows serves
# (Dynamo's worker families, the previous example here, are mapped since Dynamo 1.6).
UNKNOWN = "".join(
    line + "\n"
    for line in _capture("vllm-0.32.0-cpu-live").splitlines()
    if line.startswith(
        ("python_", "process_", "# HELP python_", "# TYPE python_", "# HELP process_", "# TYPE process_")
    )
)


def test_unknown_engine_is_up_unknown_and_probe_lists_its_families():
    families = parse(UNKNOWN)
    assert len(families) >= 8 and detect(families, ENGINES.values()) is None
    server = _serve({"/metrics": (UNKNOWN.encode(), "text/plain; version=0.0.4")})
    server.start()
    try:
        config = TargetConfig(url=f"{server.url}/metrics", name="worker", timeout=5.0)
        with httpx.Client() as client:
            target = Target(config, client)
            target.poll()
            text = report(client, config.url, "auto", "", 5.0)
    finally:
        server.stop()
    assert target.snapshot.up and target.snapshot.engine_type == "unknown"
    assert target.snapshot.unmapped == [f.name for f in families]
    assert "engine:   unknown" in text
    for family in families:
        assert f"\n  {family.name}" in text


_TYPES = st.sampled_from(["counter", "gauge", "histogram", "summary", "unknown", "info"])
_PREFIXES = st.sampled_from(sorted({p for e in ENGINES.values() for p in e.prefixes} | {"", "nv", "_", ":"}))
_SUFFIXES = st.sampled_from(["", "_total", "_bucket", "_sum", "_count", "_created", "_info"])
_LABELS = st.dictionaries(
    st.sampled_from(
        [
            "le",
            "model",
            "model_name",
            "engine",
            "tp_rank",
            "dp_rank",
            "priority",
            "request_type",
            "status",
            "reason",
            "quantile",
        ]
    ),
    st.sampled_from(["", "0", "1", "+Inf", "0.5", "x", "fraction", "active", "error"]),
    max_size=4,
)


@st.composite
def _families(draw: st.DrawFn) -> list[Family]:
    families = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(_PREFIXES) + draw(st.from_regex(r"[a-z_]{0,12}", fullmatch=True))
        samples = [
            Sample(name + draw(_SUFFIXES), draw(_LABELS), draw(st.floats(allow_nan=True)))
            for _ in range(draw(st.integers(0, 4)))
        ]
        families.append(Family(name, draw(_TYPES), "", samples))
    return families


@settings(max_examples=300, deadline=None)
@given(_families())
def test_detection_and_mapping_never_crash_on_foreign_families(families):
    engine = detect(families, ENGINES.values())
    for candidate in [engine] if engine else ENGINES.values():
        result = Normalizer(candidate, "t").normalize(families)
        render(result.families)
