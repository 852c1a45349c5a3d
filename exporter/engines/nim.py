"""NVIDIA NIM for LLMs: un-prefixed vLLM-V0-style names on the API port (/metrics), read from the scrape in
DataDog's nvidia_nim integration (NIM 1.0, meta/llama-3.1-8b-instruct) and its version endpoint /v1/version.

Told apart from un-prefixed TensorRT-LLM by its own names (`num_request_max`, `request_finish_total`,
`request_failure_total`) and by the `engine_type` label TRT-LLM puts on every series and NIM does not.
As in vLLM V0, `time_per_output_token_seconds` is observed once per generated token (169 observations for 174
tokens over 5 requests in the capture): inter-token latency, not per-request TPOT.
"""

from exporter.table import Engine, InfoEndpoint, Row

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
ENGINE = Engine(
    engine_type="nim",
    prefixes=("",),
    labels=(("model_name", "model"), ("finished_reason", "finish_reason")),
    rows=(
        Row("num_requests_waiting", "llm_requests_waiting"),
        Row("num_requests_running", "llm_requests_running"),
        Row("num_request_max", "llm_requests_running_max", note="max concurrently running requests"),
        Row("gpu_cache_usage_perc", "llm_kv_cache_usage_ratio", note="0-1 despite the name"),
        Row("prompt_tokens", "llm_prompt_tokens_total"),
        Row("generation_tokens", "llm_generation_tokens_total", counted="per_step", note="V0: every scheduler step"),
        Row("request_finish", "llm_requests_finished_total", note="stop, length, abort"),
        Row("request_failure", "llm_requests_finished_total", labels=(("finish_reason", "error"),),
            note="requests that failed; request_success counts the others"),
        Row("time_to_first_token_seconds", "gen_ai_server_time_to_first_token_seconds"),
        Row("time_per_output_token_seconds", "llm_inter_token_latency_seconds", note="per token, as vLLM V0"),
        Row("e2e_request_latency_seconds", "gen_ai_server_request_duration_seconds"),
        Row("request_prompt_tokens", "llm_request_prompt_tokens"),
        Row("request_generation_tokens", "llm_request_generation_tokens"),
    ),
    ignored=(
        "request_success",  # request_finish by reason counts the same requests
    ),
    info=(
        InfoEndpoint("/v1/models", (("model", "data.0.id"),)),
        InfoEndpoint("/v1/version", (("version", "release"),)),
    ),
    # NIM 1.0 (the DataDog capture): vLLM V0's TTFT bounds, cut at 10 s.
    bounds=(
        ("gen_ai_server_time_to_first_token_seconds", (
            0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0
        )),
    ),
    health="/v1/health/ready",
    priority=65,  # after trtllm: an un-prefixed scrape both know as well is TRT-LLM's when it carries engine_type
)
# fmt: on
