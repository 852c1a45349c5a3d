"""vLLM: V1 engine names (0.8 → 0.33) and the older V0 / renamed names, read from the vLLM wheels (engines.md §1).

Counters are written without `_total`; the `engine` label is the data-parallel rank.
"""

from exporter.table import Engine, InfoEndpoint, Row

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
ENGINE = Engine(
    engine_type="vllm",
    prefixes=("vllm:", "vllm_", "ray_vllm:", "ray_vllm_", "kserve_vllm:", "kserve_vllm_"),
    labels=(("model_name", "model"), ("engine", "dp_rank"), ("finished_reason", "finish_reason")),
    rows=(
        Row("num_requests_waiting", "llm_requests_waiting"),
        Row("num_requests_running", "llm_requests_running"),
        Row("kv_cache_usage_perc", "llm_kv_cache_usage_ratio", note="0-1 despite the name; ≥ 0.9.2"),
        Row("gpu_cache_usage_perc", "llm_kv_cache_usage_ratio", fallback=True, note="≤ 0.11; V0"),
        Row("cache_config_info", "llm_kv_cache_capacity_tokens", value_from_labels=("num_gpu_blocks", "block_size")),
        Row("prefix_cache_hits", "llm_prefix_cache_hits_tokens_total", note="≥ 0.9.2"),
        Row("gpu_prefix_cache_hits", "llm_prefix_cache_hits_tokens_total", fallback=True,
            note="0.7.3-0.11; counted blocks, not tokens, before 0.9",
                uncaptured="0.7.3-0.11 V1 name; the 0.8.0 capture has only the queries half"),
        Row("prefix_cache_queries", "llm_prefix_cache_queries_tokens_total", note="≥ 0.9.2"),
        Row("gpu_prefix_cache_queries", "llm_prefix_cache_queries_tokens_total", fallback=True,
            note="0.7.3-0.11; counted blocks, not tokens, before 0.9"),
        Row("gpu_prefix_cache_hit_rate", "llm_prefix_cache_hit_ratio", note="V0 gauge, ≤ 0.9.0",
            uncaptured="V0 gauge, visible ≤ 0.8.0 (engines.md §1.3)"),
        Row("num_preemptions", "llm_preemptions_total"),
        Row("prompt_tokens", "llm_prompt_tokens_total"),
        Row("generation_tokens", "llm_generation_tokens_total", counted="per_step"),
        Row("request_success", "llm_requests_finished_total", note="stop, length, abort (+error ≥ 0.13, repetition)"),
        Row("time_to_first_token_seconds", "gen_ai_server_time_to_first_token_seconds"),
        Row("request_time_per_output_token_seconds", "gen_ai_server_time_per_output_token_seconds",
            note="per-request TPOT, ≥ 0.11"),
        Row("inter_token_latency_seconds", "llm_inter_token_latency_seconds", note="≥ 0.10.2"),
        Row("time_per_output_token_seconds", "llm_inter_token_latency_seconds", fallback=True,
            note="per-token despite the name; gone in 0.15", uncaptured='≤ 0.14 (engines.md §1.2)'),
        Row("e2e_request_latency_seconds", "gen_ai_server_request_duration_seconds"),
        Row("request_queue_time_seconds", "llm_request_queue_time_seconds"),
        Row("time_in_queue_requests", "llm_request_queue_time_seconds", fallback=True, note="V0, ≤ 0.9.0",
            uncaptured="V0 ≤ 0.9.0 (engines.md §1.3)"),
        Row("request_prefill_time_seconds", "llm_request_prefill_time_seconds"),
        Row("request_decode_time_seconds", "llm_request_decode_time_seconds"),
        Row("request_prompt_tokens", "llm_request_prompt_tokens"),
        Row("request_generation_tokens", "llm_request_generation_tokens"),
        Row("spec_decode_num_draft_tokens", "llm_spec_decode_draft_tokens_total", note="≥ 0.9, --speculative-config"),
        Row("spec_decode_num_accepted_tokens", "llm_spec_decode_accepted_tokens_total"),
        Row("num_requests_waiting_by_reason", "llm_requests_waiting_by_reason", note="capacity | deferred; ≥ 0.12"),
        Row("iteration_tokens_total", "llm_scheduler_step_tokens", note="a histogram despite its name"),
        Row("engine_sleep_state", "llm_engine_sleeping", match=(("sleep_state", "weights_offloaded"),),
            note="sleep level 1"),
        Row("engine_sleep_state", "llm_engine_sleeping", match=(("sleep_state", "discard_all"),),
            note="sleep level 2; awake is the third state"),
        Row("lora_requests_info", "llm_lora_adapters", count_label="running_lora_adapters",
            labels=(("state", "running"),), aggregate="max", note="--enable-lora"),
        Row("lora_requests_info", "llm_lora_adapters", count_label="waiting_lora_adapters",
            labels=(("state", "waiting"),), aggregate="max"),
        Row("admission_rejections", "llm_requests_rejected_total", note="reason = max_num_queued_reqs|_tokens"),
        Row("nixl_num_failed_transfers", "llm_kv_transfer_failures_total", note="NixlConnector (P/D)",
            uncaptured="P/D only: no disaggregated capture"),
        Row("mooncake_num_failed_transfers", "llm_kv_transfer_failures_total", note="MooncakeConnector, 0.33",
            uncaptured="P/D only: no disaggregated capture"),
        Row("umbp_transfer_failed", "llm_kv_transfer_failures_total", note="UMBP connector, 0.33",
            uncaptured="P/D only: no disaggregated capture"),
        Row("nixl_xfer_time_seconds", "llm_kv_transfer_duration_seconds", note="NixlConnector, per transfer",
            uncaptured="P/D only: no disaggregated capture"),
        Row("mooncake_xfer_time_seconds", "llm_kv_transfer_duration_seconds", note="MooncakeConnector, 0.33",
            uncaptured="P/D only: no disaggregated capture"),
        Row("nixl_bytes_transferred", "llm_kv_transfer_bytes_total", take="sum", note="a histogram per transfer",
            uncaptured="P/D only: no disaggregated capture"),
        Row("mooncake_bytes_transferred", "llm_kv_transfer_bytes_total", take="sum", note="0.33",
            uncaptured="P/D only: no disaggregated capture"),
    ),
    ignored=(
        "num_requests_swapped", "cpu_cache_usage_perc", "cpu_prefix_cache_hit_rate",  # V0 swap, gone
        "prompt_tokens_by_source", "prompt_tokens_cached", "prompt_tokens_cached_by_source",  # = prefix-cache hits
        "external_prefix_cache_hits", "external_prefix_cache_queries", "mm_cache_hits", "mm_cache_queries",
        "request_inference_time_seconds", "request_max_num_generation_tokens", "request_params_max_tokens",
        "request_params_n", "request_prefill_kv_computed_tokens", "request_num_preemptions",
        "corrupted_requests",
        "estimated_flops_per_gpu", "estimated_read_bytes_per_gpu", "estimated_write_bytes_per_gpu",
        "avg_prompt_throughput_toks_per_s", "avg_generation_throughput_toks_per_s", "tokens",
        "model_forward_time_milliseconds", "model_execute_time_milliseconds",
        "spec_decode_*", "kv_block_*", "num_requests_kv_fetch_by_stage", "watermark_requests",
        "nixl_*", "mooncake_*", "umbp_*", "kv_offload_*", "simple_kv_offload_*", "hf3fs_*", "hisparse_*", "diffusion_*",
        "sleep_mode_*", "rl_weight_update_*", "websocket_*", "tool_call_parser_invocations",
    ),
    info=(
        InfoEndpoint("/v1/models", (("model", "data.0.id"),)),
        InfoEndpoint("/version", (("version", "version"),)),
    ),
    # vLLM ≥ 0.10 (the 0.32.0 capture).
    bounds=(
        ("gen_ai_server_time_to_first_token_seconds", (
            0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
            80.0, 160.0, 640.0, 2560.0
        )),
        ("gen_ai_server_time_per_output_token_seconds", (
            0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0
        )),
    ),
    programs=("vllm",),
    priority=10,
)
# fmt: on
