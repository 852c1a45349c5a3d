"""NVIDIA Dynamo's OpenAI frontend, `dynamo_frontend_` prefix, read from Dynamo's metric-name definitions and a
published frontend scrape (engines.md §6).

The frontend lower-cases `model` on request metrics ("qwen/qwen3-0.6b") but not on its `model_*` gauges, which
are worker configuration and left unmapped, so every unified series carries the lower-cased name. Engine metrics
of the workers behind it (`dynamo_component_*` plus the engine's own `vllm:`/`sglang:`/`trtllm_` families) are
served on each worker's system port and detected as that engine.
"""

from exporter.table import Engine, InfoEndpoint, Row

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
ENGINE = Engine(
    engine_type="dynamo",
    prefixes=("dynamo_frontend_",),
    labels=(("error_type", "reason"),),
    rows=(
        Row("queued_requests", "llm_requests_waiting", note="waiting in the frontend's HTTP queue"),
        Row("inflight_requests", "llm_requests_running", note="accepted by the frontend, not yet finished"),
        Row("input_sequence_tokens", "llm_prompt_tokens_total", take="sum"),
        Row("output_tokens", "llm_generation_tokens_total", note="updated while tokens stream", counted="per_step"),
        Row("requests", "llm_requests_finished_total", match=(("status", "success"),),
            labels=(("finish_reason", "unknown"),)),
        Row("requests", "llm_requests_finished_total", match=(("status", "error"),),
            labels=(("finish_reason", "error"),), note="reason = error_type"),
        Row("time_to_first_token_seconds", "gen_ai_server_time_to_first_token_seconds"),
        Row("inter_token_latency_seconds", "llm_inter_token_latency_seconds"),
        Row("request_duration_seconds", "gen_ai_server_request_duration_seconds"),
        Row("input_sequence_tokens", "llm_request_prompt_tokens"),
        Row("output_sequence_tokens", "llm_request_generation_tokens"),
    ),
    ignored=(
        "disconnected_clients", "model_*", "kv_hit_rate", "cached_tokens", "tokenizer_latency_ms", "worker_*",
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
