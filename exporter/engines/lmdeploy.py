"""LMDeploy (`lmdeploy serve api_server`, metrics on by default since 0.10), `lmdeploy:` prefix, read from
`lmdeploy/metrics/loggers.py` of the lmdeploy 0.18.0 wheel (a vLLM-V1-shaped logger).

Labels `model_name` and `engine` (the data-parallel rank) as in vLLM. `request_success_total` counts every finished
request by `finished_reason`, whose values are the engine's ResponseType names ("ResponseType.FINISH"): the rows
below turn them into the unified finish reasons. Prompt tokens are counted at a request's first step, cached ones
included; `cached_tokens_total` at its end. Generation tokens are counted every step.
"""

from exporter.engines.vllm import ENGINE as VLLM
from exporter.table import Engine, InfoEndpoint, Row

_REASON = "finished_reason"

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
ENGINE = Engine(
    engine_type="lmdeploy",
    prefixes=("lmdeploy:",),
    labels=(("model_name", "model"), ("engine", "dp_rank")),
    rows=(
        Row("num_requests_waiting", "llm_requests_waiting"),
        Row("num_requests_running", "llm_requests_running"),
        Row("gpu_cache_usage_perc", "llm_kv_cache_usage_ratio", note="0-1 despite the name"),
        Row("cached_tokens", "llm_prefix_cache_hits_tokens_total", note="counted when a request finishes"),
        Row("prompt_tokens", "llm_prefix_cache_queries_tokens_total", note="every prompt token, cached ones included"),
        Row("prefix_cache_hit_rate", "llm_prefix_cache_hit_ratio"),
        Row("prompt_tokens", "llm_prompt_tokens_total"),
        Row("generation_tokens", "llm_generation_tokens_total", counted="per_step"),
        Row("request_success", "llm_requests_finished_total", match=((_REASON, "ResponseType.FINISH"),),
            labels=(("finish_reason", "unknown"),), note="finished normally (stop and length alike)"),
        Row("request_success", "llm_requests_finished_total", match=((_REASON, "ResponseType.CANCEL"),),
            labels=(("finish_reason", "abort"),)),
        Row("request_success", "llm_requests_finished_total", match=((_REASON, "ResponseType.INPUT_LENGTH_ERROR"),),
            labels=(("finish_reason", "rejected"),)),
        Row("request_success", "llm_requests_finished_total", match=((_REASON, "ResponseType.INTERNAL_ENGINE_ERROR"),),
            labels=(("finish_reason", "error"),)),
        Row("request_success", "llm_requests_finished_total", match=((_REASON, "ResponseType.ENGINE_STOP_ERROR"),),
            labels=(("finish_reason", "error"),)),
        Row("spec_decode_num_draft_tokens", "llm_spec_decode_draft_tokens_total"),
        Row("spec_decode_num_accepted_tokens", "llm_spec_decode_accepted_tokens_total"),
        Row("time_to_first_token_seconds", "gen_ai_server_time_to_first_token_seconds"),
        Row("time_per_output_token_seconds", "gen_ai_server_time_per_output_token_seconds", note="per request"),
        Row("iter_token_latency", "llm_inter_token_latency_seconds"),
        Row("e2e_request_latency_seconds", "gen_ai_server_request_duration_seconds"),
        Row("request_queue_time_seconds", "llm_request_queue_time_seconds"),
        Row("request_prefill_time_seconds", "llm_request_prefill_time_seconds"),
        Row("request_decode_time_seconds", "llm_request_decode_time_seconds"),
        Row("iteration_tokens_total", "llm_scheduler_step_tokens", note="a histogram despite its name"),
        Row("request_prompt_tokens", "llm_request_prompt_tokens"),
        Row("request_generation_tokens", "llm_request_generation_tokens"),
    ),
    ignored=(
        "num_requests_succeeded", "num_requests_failed",  # per-interval gauges; request_success counts them
        "num_api_requests_routed", "num_api_requests_waiting",  # the API server's request handles, not the engine
        "backend_config_info",  # configuration as labels
        "spec_decode_num_drafts", "spec_decode_num_accepted_tokens_per_pos", "spec_decode_mean_accept_rate",
        "spec_decode_mean_accept_length", "spec_decode_per_position_accept_rate",
        "request_cached_tokens", "request_cache_hit_ratio", "request_inference_time_seconds",
    ),
    info=(InfoEndpoint("/v1/models", (("model", "data.0.id"),)),),
    bounds=VLLM.bounds,  # vLLM's TTFT bounds; its TPOT bounds plus 0.005, which no canonical bound keeps
    programs=("lmdeploy",),
    priority=15,
)
# fmt: on
