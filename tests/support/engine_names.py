"""The engines' own metric names behind each figure of `llm-exporter compare`, for checks that bypass its tables."""

# vLLM 0.32 and SGLang 0.5.23, as their live captures in tests/fixtures/engines spell them.
OWN = {
    "vllm": {
        "generation": "vllm:generation_tokens_total",
        "prompt": "vllm:prompt_tokens_total",
        "hits": "vllm:prefix_cache_hits_total",
        "queries": "vllm:prefix_cache_queries_total",
        "finished": "vllm:request_success_total",
        "ttft": "vllm:time_to_first_token_seconds",
        "itl": "vllm:inter_token_latency_seconds",
        "tpot": "vllm:request_time_per_output_token_seconds",
        "e2e": "vllm:e2e_request_latency_seconds",
        "queue": "vllm:request_queue_time_seconds",
    },
    "sglang": {
        "generation": "sglang:generation_tokens_total",
        "prompt": "sglang:prompt_tokens_total",
        "hits": "sglang:cached_tokens_total",
        "queries": "sglang:prompt_tokens_total",
        "finished": "sglang:num_requests_total",
        "ttft": "sglang:time_to_first_token_seconds",
        "itl": "sglang:inter_token_latency_seconds",
        "tpot": "sglang:request_time_per_output_token_seconds",
        "e2e": "sglang:e2e_request_latency_seconds",
        "queue": "sglang:queue_time_seconds",
    },
}
