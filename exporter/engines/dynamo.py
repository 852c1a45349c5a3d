"""NVIDIA Dynamo: its OpenAI frontend (`dynamo_frontend_`) and its workers' own gauges (`dynamo_component_`), read
from Dynamo's metric-name definitions (`dynamo/prometheus_names.py` of ai-dynamo-runtime 1.6.1) and published
scrapes (engines.md §6).

The frontend lower-cases `model` on request metrics ("qwen/qwen3-0.6b") but not on its `model_*` gauges (worker
configuration): the table lower-cases it everywhere, so every unified series of a frontend names one model. A worker's
system port serves `dynamo_component_*` beside the engine's own `vllm:`/`sglang:`/`trtllm_` families: such a
scrape is detected as that engine, whose own numbers are read; only a worker whose engine metrics are off is
detected as dynamo, and then its KV gauges are what there is (renamed in 1.6 from `kvstats_*`).
"""

from exporter.table import Engine, InfoEndpoint, Row

_ERROR = (("status", "error"),)
# requests_total{status="error"} error_type values (prometheus_names.frontend_service.error_type): a cancelled
# request is the client going away, validation and not_found are the client's mistakes; the rest are failures.
_CLIENT = ("cancelled", "validation", "not_found")
# The ≤ 1.5 captures (sglang.log, trtllm.log) carry the engine's own families too and are detected as that engine.
_BESIDE_ENGINE = "≤ 1.5 worker gauge; its captures are detected as the worker's engine"

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
ENGINE = Engine(
    engine_type="dynamo",
    prefixes=("dynamo_frontend_", "dynamo_component_"),
    secondary=("dynamo_component_",),
    labels=(("error_type", "reason"),),
    lowercase=("model",),  # request families carry the model lower-cased, the model_* gauges as served
    rows=(
        Row("queued_requests", "llm_requests_waiting", note="waiting in the frontend's HTTP queue"),
        Row("active_requests", "llm_requests_running", note="≥ 1.6: accepted by the frontend, not yet finished"),
        Row("inflight_requests", "llm_requests_running", fallback=True,
            note="frontend ≤ 1.5; on a worker, requests its handler is processing"),
        Row("input_sequence_tokens", "llm_prompt_tokens_total", take="sum"),
        Row("input_sequence_tokens", "llm_prefix_cache_queries_tokens_total", take="sum"),
        Row("kv_worker_reused_tokens", "llm_prefix_cache_hits_tokens_total", note="≥ 1.6: backend-reported hits"),
        Row("output_tokens", "llm_generation_tokens_total", note="updated while tokens stream", counted="per_step"),
        Row("requests", "llm_requests_finished_total", match=(("status", "success"),),
            labels=(("finish_reason", "unknown"),)),
        Row("requests", "llm_requests_finished_total", match=(*_ERROR, *(("error_type", f"!{t}") for t in _CLIENT)),
            labels=(("finish_reason", "error"),), note="reason = error_type"),
        Row("requests", "llm_requests_finished_total", match=(*_ERROR, ("error_type", "cancelled")),
            labels=(("finish_reason", "abort"),)),
        Row("requests", "llm_requests_finished_total", match=(*_ERROR, ("error_type", "validation")),
            labels=(("finish_reason", "rejected"),)),
        Row("requests", "llm_requests_finished_total", match=(*_ERROR, ("error_type", "not_found")),
            labels=(("finish_reason", "rejected"),)),
        Row("model_rejection", "llm_requests_rejected_total", labels=(("reason", "resource_exhausted"),),
            note="≥ 1.6"),
        Row("model_max_num_seqs", "llm_requests_running_max", aggregate="max", note="the workers' configuration"),
        Row("model_max_num_batched_tokens", "llm_batch_tokens_max", aggregate="max"),
        Row("lora_is_active", "llm_lora_adapters", labels=(("state", "running"),),
            note="≥ 1.6: 1 per adapter receiving traffic, summed"),
        Row("time_to_first_token_seconds", "gen_ai_server_time_to_first_token_seconds"),
        Row("inter_token_latency_seconds", "llm_inter_token_latency_seconds"),
        Row("request_duration_seconds", "gen_ai_server_request_duration_seconds"),
        Row("input_sequence_tokens", "llm_request_prompt_tokens"),
        Row("output_sequence_tokens", "llm_request_generation_tokens"),
        # Worker gauges (dynamo_component_), each 0-1.
        Row("gpu_cache_usage_percent", "llm_kv_cache_usage_ratio", aggregate="max", note="≥ 1.6; 0-1 despite the name"),
        Row("kvstats_gpu_cache_usage_percent", "llm_kv_cache_usage_ratio", aggregate="max", fallback=True,
            note="≤ 1.5", uncaptured=_BESIDE_ENGINE),
        Row("kv_cache_hit_rate", "llm_prefix_cache_hit_ratio", aggregate="max", note="≥ 1.6"),
        Row("kvstats_gpu_prefix_cache_hit_rate", "llm_prefix_cache_hit_ratio", aggregate="max", fallback=True,
            note="≤ 1.5", uncaptured=_BESIDE_ENGINE),
    ),
    ignored=(
        "disconnected_clients",
        "model_*",  # other worker configuration and model readiness
        "kv_hit_rate", "cached_tokens", "tokenizer_latency_ms", "worker_*",
        "requests_started",  # requests_total counts them once they finish
        "failures",  # terminal failures: requests_total{status="error"} counts the same requests by error_type
        "lora_replica_factor", "lora_estimated_load", "lora_raw_arrival_count", "lora_active_requests",
        "lora_churn_*", "lora_overflow_count",  # the placement controller's view of adapters, not the engine's
        "kv_best_eligible_cached_prefix_tokens", "kv_selected_cached_prefix_tokens",  # the router's estimates
        "kv_transfer_estimated_latency_seconds", "shared_cache_*", "non_max_overlap_selections", "overlap_blocks_lost",
        "router_*", "stage_*", "tokenize_seconds", "template_seconds", "tokenizer_cache_*", "detokenize_*",
        "event_loop_*", "embedding_latency_seconds", "images_per_request", "videos_per_request", "audio_per_request",
        "image_tokens_per_request",
        # Worker families: the handler's transport view; its engine's own families carry the serving numbers.
        "total_blocks", "kvstats_total_blocks", "kvstats_active_blocks",  # blocks: the worker names no block size
        "request_bytes", "response_bytes", "uptime_seconds", "errors", "cancellation", "network_transit_seconds",
        "time_to_first_response_seconds", "queue_depth", "queue_capacity", "enqueue_rejected", "permit_wait_seconds",
        "pool_active_tasks", "pool_capacity", "tasks_*", "cleanup_time_seconds", "drain_time_seconds",
    ),
    info=(InfoEndpoint("/v1/models", (("model", "data.0.id"),)),),
    # the Dynamo frontend example.
    bounds=(
        ("gen_ai_server_time_to_first_token_seconds", (
            0.01, 0.1, 1.0, 10.0, 100.0
        )),
    ),
    programs=("dynamo",),
    priority=70,
)
# fmt: on
