"""Hugging Face TGI 1.4 → 3.3.7 (archived), read from the router and v3 backend sources (engines.md §3).

TGI has no model label (it comes from /info), no TTFT and no KV-usage ratio (both stay absent), counters
without `_total`, and token totals only as the `_sum` of per-request length histograms.
"""

from exporter.table import Engine, InfoEndpoint, Row

ENGINE = Engine(
    engine_type="tgi",
    prefixes=("tgi_",),
    labels=(("err", "reason"),),
    rows=(
        Row("queue_size", "llm_requests_waiting"),
        Row("batch_current_size", "llm_requests_running"),
        Row("batch_max_total_tokens", "llm_kv_cache_capacity_tokens", note="≥ 2.3.0",
            uncaptured="≥ 2.3.0 but absent from the 3.3.5 capture (engines.md §3)"),
        Row("request_input_length", "llm_prompt_tokens_total", take="sum",
            note="recorded at validation, also for requests that fail later"),
        Row("request_generated_tokens", "llm_generation_tokens_total", take="sum", note="successful requests only",
            counted="per_completion"),
        Row("request_success", "llm_requests_finished_total", labels=(("finish_reason", "unknown"),)),
        # err: validation and template are the client's fault (HTTP 422); the rest are the server's.
        *(Row("request_failure", "llm_requests_finished_total", match=(("err", err),),
              labels=(("finish_reason", "rejected"),), note="the client's request: HTTP 422")
          for err in ("validation", "template")),
        *(Row("request_failure", "llm_requests_finished_total", match=(("err", err),),
              labels=(("finish_reason", "error"),), note="a server failure (overloaded: HTTP 429)")
          for err in ("overloaded", "incomplete", "dropped", "generation")),
        Row("request_mean_time_per_token_duration", "gen_ai_server_time_per_output_token_seconds",
            note="per-request mean"),
        Row("request_duration", "gen_ai_server_request_duration_seconds"),
        Row("request_queue_duration", "llm_request_queue_time_seconds"),
        Row("request_input_length", "llm_request_prompt_tokens"),
        Row("request_generated_tokens", "llm_request_generation_tokens"),
    ),
    ignored=(
        "request_count",  # success + failure
        "request_validation_duration", "request_inference_duration", "request_max_new_tokens",
        "request_skipped_tokens", "batch_current_max_tokens", "batch_next_size", "batch_concat",
        "batch_concat_duration", "batch_inference_count", "batch_inference_success", "batch_inference_failure",
        "batch_forward_duration", "batch_decode_duration", "batch_filter_duration", "batch_inference_duration",
    ),
    info=(InfoEndpoint("/info", (("model", "model_id"), ("version", "version"))),),
    programs=("text-generation-launcher", "text-generation-server"),
    priority=30,
)
