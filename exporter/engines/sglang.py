"""SGLang 0.3 → 0.5.23 (`sglang:` and pipeline-rewritten `sglang_`), read from the SGLang wheels (engines.md §2).

Per-rank series: ranks that report the same numbers (--enable-metrics-for-all-schedulers) collapse to the
lowest tp_rank; DP-attention ranks, which differ in dp_rank, each count once. With priority scheduling the
queue gauges carry the total at priority="" beside per-priority series: only the total is taken. SGLang's own
engine_type (unified | prefill | decode) becomes disaggregation_mode. The prefix-cache counters are derived:
hits = cached_tokens_total, queries = prompt_tokens_total.
"""

from exporter.table import Engine, InfoEndpoint, Row

_TOTAL_ONLY = (("priority", ""),)

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
ENGINE = Engine(
    engine_type="sglang",
    prefixes=("sglang:", "sglang_"),
    labels=(("model_name", "model"), ("name", "model"), ("engine_type", "disaggregation_mode"),
            ("cache_source", "source")),
    replicas=("tp_rank",),
    rows=(
        Row("num_queue_reqs", "llm_requests_waiting", match=_TOTAL_ONLY),
        Row("num_running_reqs", "llm_requests_running", match=_TOTAL_ONLY),
        # token_usage is the max over every pool, the Mamba state pool of hybrid models included (sglang#5979):
        # the KV pools' own gauges are preferred, and the larger of the two is the KV cache's usage.
        Row("full_token_usage", "llm_kv_cache_usage_ratio", aggregate="max", note="0-1, full-attention pool ≥ 0.5.10"),
        Row("swa_token_usage", "llm_kv_cache_usage_ratio", aggregate="max", note="0-1, sliding-window pool ≥ 0.5.10"),
        Row("token_usage", "llm_kv_cache_usage_ratio", aggregate="max", fallback=True, note="0-1; ≤ 0.5.9"),
        Row("max_total_num_tokens", "llm_kv_cache_capacity_tokens", aggregate="max", note="≥ 0.5.8"),
        Row("cached_tokens", "llm_prefix_cache_hits_tokens_total", note="source=device|host|storage ≥ 0.5.10"),
        Row("prompt_tokens", "llm_prefix_cache_queries_tokens_total", note="every prompt token is looked up"),
        Row("cache_hit_rate", "llm_prefix_cache_hit_ratio", aggregate="max", note="last prefill batch only"),
        Row("num_retracted_requests", "llm_preemptions_total", note="≥ 0.5.8",
            uncaptured="≥ 0.5.8 counter, present only after a retraction"),
        Row("prompt_tokens", "llm_prompt_tokens_total", note="includes cached tokens"),
        Row("generation_tokens", "llm_generation_tokens_total", counted="per_completion"),
        Row("num_requests", "llm_requests_finished_total", labels=(("finish_reason", "unknown"),),
            note="every finished request, aborted ones included; SGLang does not split by reason"),
        # Aborted requests are counted in num_requests too: moved from `unknown` to `abort` (same scrape, so the
        # difference never goes down).
        Row("num_aborted_requests", "llm_requests_finished_total", labels=(("finish_reason", "unknown"),),
            scale=-1.0, note="≥ 0.4.9"),
        Row("num_aborted_requests", "llm_requests_finished_total", labels=(("finish_reason", "abort"),),
            note="≥ 0.4.9; client disconnects and server-side aborts alike"),
        Row("time_to_first_token_seconds", "gen_ai_server_time_to_first_token_seconds"),
        Row("request_time_per_output_token_seconds", "gen_ai_server_time_per_output_token_seconds",
            note="per-request TPOT, 0.5.23"),
        Row("time_per_output_token_seconds", "gen_ai_server_time_per_output_token_seconds", fallback=True,
            note="≤ 0.4.3"),
        Row("inter_token_latency_seconds", "llm_inter_token_latency_seconds"),
        Row("e2e_request_latency_seconds", "gen_ai_server_request_duration_seconds"),
        Row("queue_time_seconds", "llm_request_queue_time_seconds", note="≥ 0.5.3"),
        Row("prompt_tokens_histogram", "llm_request_prompt_tokens"),
        Row("generation_tokens_histogram", "llm_request_generation_tokens"),
        # Disaggregated serving's queues in front of the scheduler's own: what those requests wait for.
        Row("num_decode_prealloc_queue_reqs", "llm_requests_waiting_by_reason", labels=(("reason", "kv_prealloc"),),
            note="decode: waiting for KV space"),
        Row("num_decode_transfer_queue_reqs", "llm_requests_waiting_by_reason", labels=(("reason", "kv_transfer"),),
            note="decode: waiting for the prefill worker's KV"),
        Row("num_prefill_bootstrap_queue_reqs", "llm_requests_waiting_by_reason", labels=(("reason", "bootstrap"),),
            note="prefill: waiting for the decode worker's handshake"),
        Row("num_transfer_failed_reqs", "llm_kv_transfer_failures_total", note="P/D: KV transfers that failed",
            uncaptured="P/D only: no disaggregated capture"),
        Row("lora_pool_slots_used", "llm_lora_adapters", labels=(("state", "loaded"),), aggregate="max",
            note="adapters in the GPU LoRA pool", uncaptured="--enable-lora only: no capture serves adapters"),
    ),
    ignored=(
        "num_retracted_reqs", "total_retracted_reqs", "num_retractions",  # per-interval; the counter is mapped
        "num_retracted_input_tokens", "num_retracted_output_tokens", "num_paused_reqs",
        "num_used_tokens", "kv_available_tokens", "kv_evictable_tokens", "kv_used_tokens",
        "max_total_num_tokens_swa", "pending_prealloc_token_usage", "uncached_prompt_tokens_histogram",
        "prefill_effective_tokens", "realtime_tokens", "gen_throughput", "avg_request_queue_latency",
        "per_stage_req_latency_seconds", "cache_config_info", "context_len", "page_size", "num_pages",
        "cuda_graph_passes", "is_cuda_graph", "decode_sum_seq_lens", "new_token_ratio", "utilization",
        "fwd_occupancy", "max_running_requests_under_SLO", "num_running_reqs_offline_batch", "num_so_requests",
        "num_unique_running_routing_keys", "num_streaming_sessions", "streaming_session_held_tokens",
        "num_bootstrap_failed_reqs",
        "engine_startup_time", "engine_load_weights_time", "weight_load_duration_seconds",
        "weight_memory_usage_gb", "kv_cache_memory_usage_gb", "graph_memory_usage_gb",
        "estimated_flops_per_gpu", "estimated_read_bytes_per_gpu", "estimated_write_bytes_per_gpu",
        "forward_execution_seconds", "gpu_execution_seconds", "gpu_overlap_wait_seconds", "get_loads_duration_seconds",
        "process_cpu_seconds", "scheduler_idle_seconds", "scheduler_process_cpu_seconds", "scheduler_stage_seconds",
        "func_latency_seconds",
        "spec_*", "kv_transfer_*", "num_decode_*", "num_prefill_*", "dp_attention_*", "dp_cooperation_*",
        "routing_key*", "startup_*", "swa_*", "mamba_*", "prealloc_*", "hicache_*", "storage_prefetch_*",
        "encoder_*", "grammar_*", "num_grammar*", "lora_pool_*", "prefill_delayer_*", "decode_deferred_*", "eplb_*",
        "http_*", "prefetch*", "backup*", "load_back*", "eviction*", "evicted*",
        "diffusion_*",  # the image-generation server (multimodal_gen): jobs labelled role/replica, not LLM requests
        "failed_session_recoveries",  # Mooncake P/D: recoveries of a broken session that failed, not transfers
    ),
    info=(
        InfoEndpoint("/get_model_info", (("model", "model_path"),)),
        InfoEndpoint("/get_server_info", (("version", "version"),)),
    ),
    # SGLang reports no server error as such: its aborts (scheduler errors, out-of-memory, over-long input, and
    # client disconnects alike) are its only failure signal, so the availability SLO counts them.
    failure_reasons=("error", "abort"),
    # SGLang ≥ 0.5 (the 0.5.23 capture); 0.4 had vLLM-like bounds with 2.5.
    bounds=(
        ("gen_ai_server_time_to_first_token_seconds", (
            0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 200.0, 400.0
        )),
        ("gen_ai_server_time_per_output_token_seconds", (
            0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.06, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0,
            2.0, 4.0, 6.0, 8.0
        )),
    ),
    programs=("sglang",),
    priority=20,
)
# fmt: on
