"""llama.cpp `llama-server` (2024-02 → build b11434, 2026-11), read from the upstream server sources (engines.md §4).

Metrics exist only with `--metrics`; every family is unlabelled, so the model comes from /v1/models (the alias,
else the GGUF path) and the version from /props. `prompt_tokens_total` excludes prompt tokens reused from the
cache; builds from 2026-10 count those in `prompt_tokens_cached_total`, and the two rows that map both onto
`llm_prompt_tokens_total` are summed, so the unified counter includes cached tokens as for every other engine.
Values are printed with 6 significant digits, so counters above 10^6 move in steps. Some forks add latency
histograms (`tools/server/server-metrics.cpp`), mapped where present.
"""

from exporter.table import Engine, InfoEndpoint, Row

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
ENGINE = Engine(
    engine_type="llamacpp",
    prefixes=("llamacpp:", "llamacpp_"),
    rows=(
        Row("requests_deferred", "llm_requests_waiting", note="requests waiting for a free slot"),
        Row("requests_processing", "llm_requests_running", note="busy slots"),
        Row("kv_cache_usage_ratio", "llm_kv_cache_usage_ratio", note="used cells / n_ctx; removed 2025-06 (#13660)",
            uncaptured="removed 2025-06 (#13660); every capture is newer (engines.md §4)"),
        Row("prompt_tokens_cached", "llm_prefix_cache_hits_tokens_total", note="≥ 2026-10"),
        Row("prompt_tokens", "llm_prefix_cache_queries_tokens_total", note="+ cached below: every prompt token"),
        Row("prompt_tokens_cached", "llm_prefix_cache_queries_tokens_total", note="≥ 2026-10"),
        Row("prompt_tokens", "llm_prompt_tokens_total", note="excludes cached tokens"),
        Row("prompt_tokens_cached", "llm_prompt_tokens_total", note="≥ 2026-10; before, cached tokens are uncounted"),
        Row("tokens_predicted", "llm_generation_tokens_total", counted="per_completion"),
        Row("spec_decode_num_draft_tokens", "llm_spec_decode_draft_tokens_total", note="≥ 2026-07, --model-draft"),
        Row("spec_decode_num_accepted_tokens", "llm_spec_decode_accepted_tokens_total"),
        # Latency histograms of builds carrying tools/server/server-metrics.cpp (a fork's, seen at d30fed62 in the
        # upstream repository's history but not in a release): seconds, bounds 0.1 ms … 30 s.
        Row("time_to_first_token_seconds", "gen_ai_server_time_to_first_token_seconds", note="forks only"),
        Row("inter_token_latency_seconds", "llm_inter_token_latency_seconds", note="forks only"),
        Row("e2e_request_latency_seconds", "gen_ai_server_request_duration_seconds", note="forks only"),
        Row("request_prefill_time_seconds", "llm_request_prefill_time_seconds", note="forks only"),
    ),
    ignored=(
        "prompt_seconds", "tokens_predicted_seconds",  # cumulative prefill / decode time: no unified family yet
        "prompt_tokens_seconds", "predicted_tokens_seconds",  # throughput gauges reset by whoever scrapes
        "n_decode", "n_busy_slots_per_decode", "n_tokens_max", "kv_cache_tokens",
        "spec_decode_num_drafts",
        # The forks' window percentiles beside their histograms, and their decode histogram, which is observed per
        # decode iteration, not per request.
        "time_to_first_token_seconds_p*", "inter_token_latency_seconds_p*", "e2e_request_latency_seconds_p*",
        "request_prefill_time_seconds_p*", "request_decode_time_seconds*",
    ),
    info=(
        InfoEndpoint("/v1/models", (("model", "data.0.id"),)),
        InfoEndpoint("/props", (("version", "build_info"),)),
    ),
    # The forks' TTFT histogram (server-metrics.cpp: 0.1 ms … 30 s) as re-bucketed; upstream builds report none.
    bounds=(
        ("gen_ai_server_time_to_first_token_seconds", (0.001, 0.005, 0.01, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)),
    ),
    programs=("llama-server",),
    priority=40,
)
# fmt: on
