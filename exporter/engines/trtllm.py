"""TensorRT-LLM's own Python metrics (`trtllm-serve`, also passed through by Dynamo workers), `trtllm_` prefix
(engines.md §5.1); names read from a Dynamo-published TensorRT-LLM worker scrape.

Labels `model_name` and `finished_reason` as in vLLM, plus the engine's own `engine_type="trtllm"`, which the
exporter's engine_type replaces. `time_per_output_token_seconds` is observed once per request (its count equals
the request count in the capture), so it is per-request TPOT, not inter-token latency.
"""

from exporter.engines.vllm import ENGINE as VLLM
from exporter.table import Engine, InfoEndpoint, Row

VLLM_BOUNDS = VLLM.bounds

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
ENGINE = Engine(
    engine_type="trtllm",
    prefixes=("trtllm_",),
    labels=(("model_name", "model"), ("finished_reason", "finish_reason")),
    rows=(
        Row("request_success", "llm_requests_finished_total"),
        Row("time_to_first_token_seconds", "gen_ai_server_time_to_first_token_seconds"),
        Row("time_per_output_token_seconds", "gen_ai_server_time_per_output_token_seconds", note="per request"),
        Row("e2e_request_latency_seconds", "gen_ai_server_request_duration_seconds"),
        Row("request_queue_time_seconds", "llm_request_queue_time_seconds"),
    ),
    ignored=(
        "num_aborted_requests",  # Dynamo's addition; unknown whether request_success also counts them
        "request_type_image", "request_type_structured_output", "kv_transfer_*",
    ),
    info=(InfoEndpoint("/v1/models", (("model", "data.0.id"),)),),
    bounds=VLLM_BOUNDS,  # trtllm-serve (the ce30a76 capture) observes with vLLM's bucket bounds
    programs=("trtllm-serve",),
    priority=60,
)
# fmt: on
