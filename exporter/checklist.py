"""The migration checklist: the figures `llm-exporter compare` and the Migration dashboard both report, named once."""

from __future__ import annotations

# (key, label, unified histogram) of each latency compared at QUANTILES.
LATENCIES = (
    ("ttft", "TTFT", "gen_ai_server_time_to_first_token_seconds"),
    ("itl", "ITL", "llm_inter_token_latency_seconds"),
    ("tpot", "TPOT", "gen_ai_server_time_per_output_token_seconds"),
    ("e2e", "End-to-end", "gen_ai_server_request_duration_seconds"),
    ("queue", "Queue time", "llm_request_queue_time_seconds"),
)
QUANTILES = (0.5, 0.95, 0.99)
# (key, label, unified histogram) of the traffic-mix lengths, in tokens per request.
LENGTHS = (
    ("prompt", "Prompt length", "llm_request_prompt_tokens"),
    ("output", "Output length", "llm_request_generation_tokens"),
)
# finish_reason values that are failures, as the engine tables spell them (exporter/engines/), and their labels.
ERROR_KINDS = (("error", "server error"), ("rejected", "rejected (client's request)"), ("abort", "aborted"))
# The guide's decision bands for SGLang against vLLM on prefix reuse.
LOW_REUSE, HIGH_REUSE = 0.2, 0.7
# What to read instead where an engine's table maps nothing onto a family.
INSTEAD = {
    "gen_ai_server_time_to_first_token_seconds": "use the load generator's client-side TTFT (queue time is a "
    "lower bound of it)",
    "llm_inter_token_latency_seconds": "use TPOT, the per-request mean of the same gaps",
    "llm_prefix_cache_hits_tokens_total": "this traffic's prefix reuse shows only once a vLLM or SGLang side serves it",
}


def quantile_label(label: str, q: float) -> str:
    """`TTFT p95` for a latency label and a quantile."""
    return f"{label} p{round(q * 100)}"


def band(ratio: float) -> str:
    """The guide's reading of a prefix-cache hit ratio."""
    if ratio < LOW_REUSE:
        return "below 20 %: little reuse, vLLM serves this traffic as well as SGLang"
    if ratio >= HIGH_REUSE:
        return "above 70 %: high reuse, SGLang's radix cache pays off"
    return "between 20 % and 70 %: measure both engines on this traffic"


# Row labels of the figures outside the latency and length groups.
OUTPUT_TOKENS_PER_SECOND = "Output tokens per second"
TOTAL_TOKENS_PER_SECOND = "Total tokens per second"
REQUESTS_PER_SECOND = "Finished requests per second"
PREFIX_HIT_RATIO = "Prefix-cache hit ratio"
GPU_SM_ACTIVE = "GPU SM active"
TOKENS_PER_JOULE = "Output tokens per joule"
COST = "Cost per 1M output tokens"
