"""The normalizer's capabilities, each tested once on small real-shaped input."""

from __future__ import annotations

from exporter.engines import ENGINES
from exporter.exposition import render
from exporter.normalize import Normalizer, detect
from exporter.parse import parse

VLLM_HIST = """# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="m"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.005",model_name="m"} 3.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.007",model_name="m"} 4.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 5.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 5.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 0.1
# TYPE vllm:time_to_first_token_seconds_created gauge
vllm:time_to_first_token_seconds_created{engine="0",model_name="m"} 1.7e9
"""


def _run(text: str, engine: str, buckets: str = "canonical", model: str = "") -> dict[str, list]:
    result = Normalizer(ENGINES[engine], "t", model, buckets).normalize(parse(text))
    return {f.name: [(s.name, s.labels, s.value) for s in f.samples] for f in result.families}


def test_rebucketing_keeps_only_canonical_bounds_exactly():
    samples = _run(VLLM_HIST, "vllm")["gen_ai_server_time_to_first_token_seconds"]
    buckets = [(s[1]["le"], s[2]) for s in samples if s[0].endswith("_bucket")]
    assert buckets == [("0.001", 0.0), ("0.005", 3.0), ("+Inf", 5.0)]  # 0.007 is no canonical bound: dropped
    assert (
        "gen_ai_server_time_to_first_token_seconds_count",
        {"engine_type": "vllm", "model": "m", "target": "t", "dp_rank": "0"},
        5.0,
    ) in samples


def test_native_buckets_pass_the_engines_bounds_through():
    samples = _run(VLLM_HIST, "vllm", "native")["gen_ai_server_time_to_first_token_seconds"]
    assert [s[1]["le"] for s in samples if s[0].endswith("_bucket")] == ["0.001", "0.005", "0.007", "+Inf"]


def test_created_samples_are_dropped():
    text = render(Normalizer(ENGINES["vllm"], "t").normalize(parse(VLLM_HIST)).families)
    assert "_created" not in text and "1.7e9" not in text


def test_source_sharing_no_canonical_bound_keeps_its_own():
    text = """# TYPE tgi_request_duration histogram
tgi_request_duration_bucket{le="0.00015000000000000001"} 1
tgi_request_duration_bucket{le="0.00022500000000000002"} 2
tgi_request_duration_bucket{le="+Inf"} 3
tgi_request_duration_sum 0.5
tgi_request_duration_count 3
"""
    samples = _run(text, "tgi")["gen_ai_server_request_duration_seconds"]
    assert [s[1]["le"] for s in samples if s[0].endswith("_bucket")] == [
        "0.00015000000000000001",
        "0.00022500000000000002",
        "+Inf",
    ]


def test_older_name_is_a_fallback_only():
    old = '# TYPE vllm:gpu_cache_usage_perc gauge\nvllm:gpu_cache_usage_perc{model_name="m"} 0.25\n'
    new = '# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{model_name="m"} 0.5\n'
    assert _run(old, "vllm")["llm_kv_cache_usage_ratio"][0][2] == 0.25
    assert _run(old + new, "vllm")["llm_kv_cache_usage_ratio"] == [
        ("llm_kv_cache_usage_ratio", {"engine_type": "vllm", "model": "m", "target": "t"}, 0.5)
    ]


def test_absent_stays_absent():
    tgi = _run("# TYPE tgi_queue_size gauge\ntgi_queue_size 3\n", "tgi", model="from-info")
    assert list(tgi) == ["llm_requests_waiting"]
    assert tgi["llm_requests_waiting"][0][1]["model"] == "from-info"


def test_histogram_sum_becomes_a_token_counter():
    text = (
        '# TYPE tgi_request_input_length histogram\ntgi_request_input_length_bucket{le="+Inf"} 2\n'
        "tgi_request_input_length_sum 40\ntgi_request_input_length_count 2\n"
    )
    assert _run(text, "tgi")["llm_prompt_tokens_total"] == [
        ("llm_prompt_tokens_total", {"engine_type": "tgi", "model": "unknown", "target": "t"}, 40.0)
    ]


def test_sglang_ranks_priority_total_and_label_collision():
    text = """# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{engine_type="prefill",model_name="m",priority="",tp_rank="0"} 7
sglang:num_queue_reqs{engine_type="prefill",model_name="m",priority="1",tp_rank="0"} 4
sglang:num_queue_reqs{engine_type="prefill",model_name="m",priority="2",tp_rank="0"} 3
sglang:num_queue_reqs{engine_type="prefill",model_name="m",priority="",tp_rank="1"} 7
# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{is_streaming="true",model_name="m"} 10
sglang:prompt_tokens_total{is_streaming="false",model_name="m"} 5
"""
    out = _run(text, "sglang")
    assert out["llm_requests_waiting"] == [
        (
            "llm_requests_waiting",
            {"engine_type": "sglang", "model": "m", "target": "t", "disaggregation_mode": "prefill"},
            7.0,
        )
    ]
    assert [s[2] for s in out["llm_prompt_tokens_total"]] == [15.0]
    assert [s[2] for s in out["llm_prefix_cache_queries_tokens_total"]] == [15.0]


def test_dp_ranks_stay_separate_series():
    text = (
        '# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine="0",model_name="m"} 1\n'
        'vllm:num_requests_running{engine="1",model_name="m"} 2\n'
    )
    assert [(s[1]["dp_rank"], s[2]) for s in _run(text, "vllm")["llm_requests_running"]] == [("0", 1.0), ("1", 2.0)]


def test_headerless_histogram_samples_are_regrouped():
    text = (
        'vllm:request_decode_time_seconds_bucket{engine="1",le="0.3",model_name="m"} 2\n'
        'vllm:request_decode_time_seconds_bucket{engine="1",le="+Inf",model_name="m"} 3\n'
    )
    samples = _run(text, "vllm")["llm_request_decode_time_seconds"]
    assert [(s[1]["le"], s[2]) for s in samples] == [("0.3", 2.0), ("+Inf", 3.0)]


def test_capacity_from_info_labels_inherits_the_model():
    text = (
        "# TYPE vllm:cache_config_info gauge\n"
        'vllm:cache_config_info{block_size="16",engine="0",num_gpu_blocks="100"} 1\n'
        '# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine="0",model_name="m"} 1\n'
    )
    assert _run(text, "vllm")["llm_kv_cache_capacity_tokens"] == [
        ("llm_kv_cache_capacity_tokens", {"engine_type": "vllm", "model": "m", "target": "t", "dp_rank": "0"}, 1600.0)
    ]


def test_detection_follows_rewritten_prefixes():
    text = "# TYPE vllm_num_requests_running gauge\nvllm_num_requests_running 1\n"
    assert detect(parse(text), ENGINES.values()).engine_type == "vllm"
    assert detect(parse("# TYPE foo gauge\nfoo 1\n"), ENGINES.values()) is None


TRTLLM_ITERATION = """# TYPE trtllm_kv_cache_max_blocks gauge
trtllm_kv_cache_max_blocks{engine_type="trtllm",model_name="Qwen/Qwen3-8B"} 4096.0
# TYPE trtllm_kv_cache_tokens_per_block gauge
trtllm_kv_cache_tokens_per_block{engine_type="trtllm",model_name="Qwen/Qwen3-8B"} 32.0
# TYPE trtllm_request_error_total counter
trtllm_request_error_total{engine_type="trtllm",http_code="400",model_name="Qwen/Qwen3-8B"} 3.0
trtllm_request_error_total{engine_type="trtllm",http_code="429",model_name="Qwen/Qwen3-8B"} 2.0
trtllm_request_error_total{engine_type="trtllm",http_code="500",model_name="Qwen/Qwen3-8B"} 1.0
trtllm_request_error_total{engine_type="trtllm",http_code="503",model_name="Qwen/Qwen3-8B"} 4.0
"""


def test_times_multiplies_by_another_family_of_the_same_labels():
    capacity = _run(TRTLLM_ITERATION, "trtllm")["llm_kv_cache_capacity_tokens"]
    assert [s[2] for s in capacity] == [4096.0 * 32.0]


def test_times_without_its_factor_in_the_scrape_produces_nothing():
    without = "\n".join(TRTLLM_ITERATION.splitlines()[:2]) + "\n"
    assert "llm_kv_cache_capacity_tokens" not in _run(without, "trtllm")


def test_match_with_a_trailing_star_takes_a_label_value_prefix():
    out = _run(TRTLLM_ITERATION, "trtllm")
    assert [(s[1]["finish_reason"], s[2]) for s in out["llm_requests_finished_total"]] == [("error", 5.0)]
    assert [(s[1]["reason"], s[2]) for s in out["llm_requests_rejected_total"]] == [("client_error", 5.0)]


BARE_TRTLLM = """# TYPE e2e_request_latency_seconds histogram
e2e_request_latency_seconds_bucket{engine_type="undefined",le="0.3",model_name="undefined"} 0.0
e2e_request_latency_seconds_bucket{engine_type="undefined",le="+Inf",model_name="undefined"} 2.0
e2e_request_latency_seconds_count{engine_type="undefined",model_name="undefined"} 2.0
e2e_request_latency_seconds_sum{engine_type="undefined",model_name="undefined"} 3.5
# TYPE request_success_total counter
request_success_total{engine_type="undefined",finished_reason="stop",model_name="undefined"} 2.0
"""


def test_unprefixed_families_count_for_an_engine_only_with_its_marking_label():
    assert detect(parse(BARE_TRTLLM), ENGINES.values()).engine_type == "trtllm"
    unmarked = BARE_TRTLLM.replace('engine_type="undefined",', "")
    detected = detect(parse(unmarked), ENGINES.values())
    assert detected is None or detected.engine_type != "trtllm"


def test_unset_label_values_leave_the_model_to_the_target():
    out = _run(BARE_TRTLLM, "trtllm", model="Qwen/Qwen3-8B")
    assert {s[1]["model"] for s in out["llm_requests_finished_total"]} == {"Qwen/Qwen3-8B"}


DYNAMO_WORKER_BESIDE_SGLANG = """# TYPE dynamo_component_gpu_cache_usage_percent gauge
dynamo_component_gpu_cache_usage_percent{dp_rank="0",model="Qwen/Qwen3-0.6B"} 0.25
# TYPE dynamo_component_kv_cache_hit_rate gauge
dynamo_component_kv_cache_hit_rate{dp_rank="0",model="Qwen/Qwen3-0.6B"} 0.5
# TYPE dynamo_component_total_blocks gauge
dynamo_component_total_blocks{dp_rank="0",model="Qwen/Qwen3-0.6B"} 2185
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="Qwen/Qwen3-0.6B"} 0.25
"""


def test_secondary_prefixes_only_break_ties():
    # One SGLang family beats three Dynamo worker gauges: the worker's engine is what the scrape is.
    assert detect(parse(DYNAMO_WORKER_BESIDE_SGLANG), ENGINES.values()).engine_type == "sglang"
    alone = DYNAMO_WORKER_BESIDE_SGLANG.split("# TYPE sglang:")[0]
    assert detect(parse(alone), ENGINES.values()).engine_type == "dynamo"


def test_match_with_a_bang_excludes_one_value():
    text = """# TYPE dynamo_frontend_requests_total counter
dynamo_frontend_requests_total{error_type="internal",model="m",status="error"} 1
dynamo_frontend_requests_total{error_type="cancelled",model="m",status="error"} 2
dynamo_frontend_requests_total{error_type="",model="m",status="success"} 5
"""
    out = _run(text, "dynamo")["llm_requests_finished_total"]
    assert sorted((s[1]["finish_reason"], s[2]) for s in out) == [("abort", 2.0), ("error", 1.0), ("unknown", 5.0)]


SGLANG_HYBRID = """# TYPE sglang:token_usage gauge
sglang:token_usage{engine_type="unified",model_name="Qwen/Qwen3-Next-80B-A3B",tp_rank="0"} 0.92
# TYPE sglang:full_token_usage gauge
sglang:full_token_usage{engine_type="unified",model_name="Qwen/Qwen3-Next-80B-A3B",tp_rank="0"} 0.31
# TYPE sglang:swa_token_usage gauge
sglang:swa_token_usage{engine_type="unified",model_name="Qwen/Qwen3-Next-80B-A3B",tp_rank="0"} 0.44
"""


def test_sglang_kv_usage_on_a_hybrid_model_is_its_kv_pools_not_the_mamba_pool():
    # token_usage is max(full, swa, mamba) (sglang#5979): 0.92 here is the Mamba state pool.
    usage = _run(SGLANG_HYBRID, "sglang")["llm_kv_cache_usage_ratio"]
    assert [s[2] for s in usage] == [0.44]
    older = SGLANG_HYBRID.split("# TYPE sglang:full_token_usage")[0]
    assert [s[2] for s in _run(older, "sglang")["llm_kv_cache_usage_ratio"]] == [0.92]


VLLM_LORA = """# TYPE vllm:lora_requests_info gauge
vllm:lora_requests_info{max_lora="2",running_lora_adapters="",waiting_lora_adapters=""} 1.7960780205e+09
vllm:lora_requests_info{max_lora="2",running_lora_adapters="sql,chat",waiting_lora_adapters="sql"} 1.7960780301e+09
vllm:lora_requests_info{max_lora="2",running_lora_adapters="sql-lora",waiting_lora_adapters=""} 1.7960780107e+09
"""


def test_count_label_counts_the_names_of_the_newest_series():
    states = {s[1]["state"]: s[2] for s in _run(VLLM_LORA, "vllm", model="tiny")["llm_lora_adapters"]}
    assert states == {"running": 2.0, "waiting": 1.0}


def test_lowercase_labels_agree_across_families_that_spell_them_differently():
    text = """# TYPE dynamo_frontend_model_max_num_seqs gauge
dynamo_frontend_model_max_num_seqs{model="Qwen/Qwen3-0.6B"} 256
# TYPE dynamo_frontend_inflight_requests gauge
dynamo_frontend_inflight_requests{model="qwen/qwen3-0.6b"} 3
"""
    out = _run(text, "dynamo")
    assert {s[1]["model"] for name in ("llm_requests_running_max", "llm_requests_running") for s in out[name]} == {
        "qwen/qwen3-0.6b"
    }
