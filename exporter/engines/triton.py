"""NVIDIA Triton Inference Server (r24.05 → 2.71) with the TensorRT-LLM backend (v0.7 → v0.18.2 and its
successor in TensorRT-LLM), read from Triton core's metrics sources and the backend's custom metrics reporter
(engines.md §5).

Triton labels per-model series with `model` (the Triton model name, e.g. `tensorrt_llm`) and `version`; its
counters carry no `_total`. An LLM pipeline is an ensemble of several Triton models (preprocessing,
tensorrt_llm, postprocessing) that each count the same requests, so per-model series are kept only for the
models that report TensorRT-LLM request metrics: one request is counted once. Latency counters are cumulative
microseconds; the only histogram, the opt-in first-response histogram, is in milliseconds and is scaled to seconds
(bounds included).
"""

from exporter.table import Engine, Row

# A table: one row a line, as the engine lists them (kept out of the formatter).
# fmt: off
ENGINE = Engine(
    engine_type="triton",
    prefixes=("nv_",),
    model_scope="trt_llm_request_metrics",
    rows=(
        Row("trt_llm_request_metrics", "llm_requests_waiting", match=(("request_type", "waiting"),),
            note="backend ≥ v0.18.0"),
        Row("inference_pending_request_count", "llm_requests_waiting", fallback=True,
            note="Triton's own queue, before the backend reported waiting requests"),
        Row("trt_llm_request_metrics", "llm_requests_running", match=(("request_type", "active"),)),
        Row("trt_llm_kv_cache_block_metrics", "llm_kv_cache_usage_ratio", match=(("kv_cache_block_type", "fraction"),),
            note="used / max blocks, backend ≥ v0.18.0"),
        Row("llm_input_token_len", "llm_prompt_tokens_total", take="sum", note="backend ≥ v0.16.0"),
        Row("llm_output_token_len", "llm_generation_tokens_total", take="sum", note="backend ≥ v0.16.0",
            counted="per_completion"),
        Row("inference_request_success", "llm_requests_finished_total", labels=(("finish_reason", "unknown"),),
            note="a batch counts once"),
        Row("inference_request_failure", "llm_requests_finished_total", labels=(("finish_reason", "error"),),
            note="reason = REJECTED | CANCELED | BACKEND | OTHER from r24.07"),
        Row("inference_first_response_histogram_ms", "gen_ai_server_time_to_first_token_seconds", scale=0.001,
            note="ms; ≥ r24.11 with --metrics-config histogram_latencies=true; TTFT for decoupled models",
                uncaptured="opt-in; in no capture: test_engines_more builds one"),
        Row("inference_request_duration_us", "llm_request_duration_seconds_total", scale=1e-6,
            note="cumulative microseconds; Triton has no latency histogram"),
        Row("inference_queue_duration_us", "llm_request_queue_time_seconds_total", scale=1e-6,
            note="cumulative microseconds"),
        Row("llm_input_token_len", "llm_request_prompt_tokens"),
        Row("llm_output_token_len", "llm_request_generation_tokens"),
    ),
    ignored=(
        # Cumulative microsecond latency counters: means only, and no unified counter family for them yet.
        "inference_compute_input_duration_us",
        "inference_compute_infer_duration_us", "inference_compute_output_duration_us", "inference_*_summary_us",
        "inference_count", "inference_exec_count", "model_load_duration_secs",
        "cache_*",  # Triton's response cache, not the KV cache
        "gpu_*", "energy_consumption", "cpu_*", "pinned_memory_pool_*",  # host and GPU stats: the NVML collector's job
        "trt_llm_runtime_memory_metrics", "trt_llm_inflight_batcher_metrics", "trt_llm_v1_metrics",
        "trt_llm_general_metrics", "trt_llm_disaggregated_serving_metrics",
    ),
    programs=("tritonserver",),
    health="/v2/health/ready",
    priority=50,
)
# fmt: on
