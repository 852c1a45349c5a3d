"""Hugging Face TGI 1.4 → 3.3.7 (archived), read from the router and v3 backend sources (engines.md §3).

TGI has no model label (it comes from /info), no TTFT and no KV-usage ratio (both stay absent), counters
without `_total`, and token totals only as the `_sum` of per-request length histograms.
"""

from exporter.table import Engine, InfoEndpoint, Row

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
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
    # TGI 3.3.5: 1.5^k geometric bounds from 0.00015s, kept as they are (no canonical bound in common).
    bounds=(
        ("gen_ai_server_time_per_output_token_seconds", (
            0.00015000000000000001, 0.00022500000000000002, 0.0003375, 0.00050625, 0.000759375, 0.0011390624999999999,
            0.0017085937499999998, 0.0025628906249999996, 0.0038443359374999994, 0.00576650390625, 0.008649755859375,
            0.0129746337890625, 0.01946195068359375, 0.029192926025390625, 0.043789389038085935, 0.0656840835571289,
            0.09852612533569335, 0.14778918800354002, 0.22168378200531003, 0.33252567300796504, 0.49878850951194753,
            0.7481827642679213, 1.122274146401882, 1.683411219602823, 2.5251168294042348, 3.787675244106352,
            5.681512866159528, 8.52226929923929, 12.783403948858936, 19.175105923288406, 28.76265888493261,
            43.143988327398915, 64.71598249109837, 97.07397373664756, 145.61096060497135
        )),
    ),
    programs=("text-generation-launcher", "text-generation-server"),
    priority=30,
)
# fmt: on
