"""TensorRT-LLM's own Python metrics (`trtllm-serve`, also passed through by Dynamo workers), read from
`tensorrt_llm/metrics/collector.py` @050f80de (the 2026 collector: 65 families) and real scrapes (engines.md §5.1).

trtllm-serve serves them at /prometheus/metrics; its /metrics answers a JSON array of iteration stats. Builds from
before spring 2026 (TensorRT-LLM PR #12545) emit the per-request families without the `trtllm_` prefix and tag every
series `engine_type="undefined"`, which is how they are told apart from NVIDIA NIM's un-prefixed names.
Labels `model_name` and `finished_reason` as in vLLM; the engine's own `engine_type` is replaced by the exporter's.
`time_per_output_token_seconds` is observed once per request, so it is per-request TPOT. The per-request families
and token counters need `return_perf_metrics: true`, the iteration gauges `enable_iter_perf_stats: true`.
"""

from exporter.engines.vllm import ENGINE as VLLM
from exporter.table import Engine, InfoEndpoint, Row

VLLM_BOUNDS = VLLM.bounds

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
ENGINE = Engine(
    engine_type="trtllm",
    prefixes=("trtllm_", ""),
    bare_label="engine_type",
    unset=("undefined",),  # model_name of builds before PR #12545: the model then comes from /v1/models
    labels=(("model_name", "model"), ("finished_reason", "finish_reason")),
    rows=(
        Row("num_requests_waiting", "llm_requests_waiting", note="numQueuedRequests of the iteration stats"),
        Row("num_requests_running", "llm_requests_running", note="numActiveRequests"),
        Row("kv_cache_utilization", "llm_kv_cache_usage_ratio", note="used / max blocks, 0-1"),
        Row("kv_cache_max_blocks", "llm_kv_cache_capacity_tokens", times="kv_cache_tokens_per_block"),
        Row("kv_cache_hit_rate", "llm_prefix_cache_hit_ratio", note="the last iteration's cacheHitRate"),
        Row("prompt_cached_tokens", "llm_prefix_cache_hits_tokens_total", note="counted when a request finishes"),
        Row("prompt_tokens", "llm_prefix_cache_queries_tokens_total", note="input length per request: cached included"),
        Row("prompt_tokens", "llm_prompt_tokens_total"),
        Row("generation_tokens", "llm_generation_tokens_total", counted="per_completion",
            note="output length, counted when a request finishes"),
        Row("request_success", "llm_requests_finished_total", note="every finished request, by finished_reason"),
        Row("request_error", "llm_requests_finished_total", match=(("http_code", "5*"),),
            labels=(("finish_reason", "error"),), note="HTTP 5xx answers"),
        Row("request_error", "llm_requests_rejected_total", match=(("http_code", "4*"),),
            labels=(("reason", "client_error"),), note="HTTP 4xx answers (bad request, too long, unknown model)"),
        Row("time_to_first_token_seconds", "gen_ai_server_time_to_first_token_seconds"),
        Row("time_per_output_token_seconds", "gen_ai_server_time_per_output_token_seconds", note="per request"),
        Row("e2e_request_latency_seconds", "gen_ai_server_request_duration_seconds"),
        Row("request_queue_time_seconds", "llm_request_queue_time_seconds"),
        Row("request_prefill_time_seconds", "llm_request_prefill_time_seconds"),
        Row("request_decode_time_seconds", "llm_request_decode_time_seconds"),
        Row("spec_decode_num_draft_tokens", "llm_spec_decode_draft_tokens_total"),
        Row("spec_decode_num_accepted_tokens", "llm_spec_decode_accepted_tokens_total"),
        Row("max_num_active_requests", "llm_requests_running_max", note="maxNumActiveRequests"),
        Row("max_num_tokens_runtime", "llm_batch_tokens_max", note="maxNumTokensRuntime"),
        # Dynamo's additions on its TensorRT-LLM workers (dynamo/trtllm/metrics.py): one transfer per request.
        Row("kv_transfer_latency_seconds", "llm_kv_transfer_duration_seconds", note="Dynamo ≥ 1.3, disaggregated"),
        Row("kv_transfer_bytes", "llm_kv_transfer_bytes_total", take="sum", note="a histogram of bytes per request"),
    ),
    ignored=(
        "num_aborted_requests",  # Dynamo's addition; unknown whether request_success also counts them
        "request_type_image", "request_type_structured_output", "kv_event_*",  # Dynamo's additions
        "kv_transfer_success", "kv_transfer_speed_gb_s",  # bytes over time: the mapped pair says it
        "dynamo_component_*",  # Dynamo's worker gauges beside them: the same numbers, read from the engine here
        "kv_cache_tokens_per_block",  # read through the capacity row
        "kv_cache_free_blocks", "kv_cache_used_blocks",  # the utilization row is their ratio
        "kv_cache_reused_blocks", "kv_cache_missed_blocks",  # blocks, not tokens: prompt_cached_tokens is mapped
        "kv_cache_host_utilization", "kv_cache_iter_*", "kv_cache_gen_alloc_blocks", "kv_cache_onboard_bytes",
        "kv_cache_offload_bytes", "kv_cache_disk_prefetch_blocks", "kv_cache_intra_device_copy_bytes",
        "prompt_cache_hit_tokens",  # prompt_cached_tokens split by cache tier; no tier label in the schema yet
        "prompt_cached_tokens_per_request", "request_inference_time_seconds",
        "num_requests_completed",  # iteration-stats count of request_success
        "num_context_requests", "num_generation_requests", "num_scheduled_requests", "total_context_tokens",
        "num_paused_requests",  # a gauge of paused requests, not a count of preemptions
        "avg_decoded_tokens_per_iter", "iteration_latency_seconds", "prefill_batch_occupancy", "prefill_batch_tokens",
        "scheduled_batch_size", "max_batch_size_static", "max_batch_size_runtime",
        "gpu_memory_usage_bytes", "cpu_memory_usage_bytes", "pinned_memory_usage_bytes",
        "spec_decode_drafted_tokens", "spec_decode_accepted_tokens",  # per token_position: the totals are mapped
        "spec_decode_acceptance_length", "spec_decode_draft_overhead",
        "prefill_perplexity", "generation_perplexity",
        "model_config_info", "parallel_config_info", "speculative_config_info", "kv_cache_config_info",
    ),
    info=(InfoEndpoint("/v1/models", (("model", "data.0.id"),)),),
    bounds=VLLM_BOUNDS,  # trtllm-serve observes with vLLM's bucket bounds (collector.py defaults)
    programs=("trtllm-serve",),
    metrics_path="/prometheus/metrics",
    priority=60,
)
# fmt: on
