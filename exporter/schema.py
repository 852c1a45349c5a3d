"""The unified schema: every family llm-exporter exports, as data.

This module is the authority for names, types, units, labels and canonical histogram bounds. Engine tables
map into it, the dashboards and rules are generated from it, and generation fails on a name it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

# Labels every engine series carries; the optional ones appear where the engine reports them.
ENGINE_LABELS = ("engine_type", "model", "target")
OPTIONAL_ENGINE_LABELS = ("dp_rank", "finish_reason", "reason", "source", "disaggregation_mode")
GPU_LABELS = ("gpu", "uuid")


@dataclass(frozen=True)
class Spec:
    """One unified metric family: what it is called, measures and carries."""

    name: str
    type: str  # counter | gauge | histogram | info
    unit: str
    help: str
    labels: tuple[str, ...] = ENGINE_LABELS
    buckets: tuple[float, ...] | None = None  # canonical bounds; None keeps the engine's own

    @property
    def samples(self) -> tuple[str, ...]:
        """Sample names this family renders (what a PromQL query may select)."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


# The tables below are laid out as data, a row a line (kept out of the formatter).
# fmt: off
# Canonical bounds. TTFT and TPOT: the OpenTelemetry GenAI advice plus vLLM's tail (engines.md §1.1), plus the
# bounds SGLang shares with neither, so that its histograms keep their resolution after re-bucketing.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.75, 0.8, 1.0, 2.0,
                2.5, 4.0, 5.0, 6.0, 7.5, 8.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 160.0, 200.0, 400.0, 640.0, 2560.0)
TPOT_BUCKETS = (0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.075, 0.08, 0.1,
                0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 0.8, 1.0, 2.0, 2.5, 4.0, 5.0, 6.0, 7.5, 8.0, 10.0, 20.0, 40.0,
                80.0)
# Request-scale latencies: vLLM's LAT family with the bounds SGLang shares (small queue times, 0.2, 0.4, 2, 4 …).
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 2.5, 4.0,
                   5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 120.0, 200.0, 240.0, 400.0,
                   480.0, 600.0, 960.0, 1200.0, 1800.0, 1920.0, 2400.0, 7680.0)

_E = ENGINE_LABELS
_FINISH = (*_E, "finish_reason", "reason")

ENGINE_SPECS = (
    Spec("gen_ai_server_time_to_first_token_seconds", "histogram", "seconds",
         "Time from request arrival to the first output token.", _E, TTFT_BUCKETS),
    Spec("gen_ai_server_time_per_output_token_seconds", "histogram", "seconds",
         "Per-request mean time per output token after the first (TPOT).", _E, TPOT_BUCKETS),
    Spec("gen_ai_server_request_duration_seconds", "histogram", "seconds",
         "End-to-end request latency as seen by the engine.", _E, LATENCY_BUCKETS),
    Spec("llm_inter_token_latency_seconds", "histogram", "seconds",
         "Latency between consecutive output tokens (or streamed chunks).", _E, TPOT_BUCKETS),
    Spec("llm_request_queue_time_seconds", "histogram", "seconds",
         "Time a request spent waiting before it was scheduled.", _E, LATENCY_BUCKETS),
    Spec("llm_request_prefill_time_seconds", "histogram", "seconds",
         "Time a request spent in prefill.", _E, LATENCY_BUCKETS),
    Spec("llm_request_decode_time_seconds", "histogram", "seconds",
         "Time a request spent in decode.", _E, LATENCY_BUCKETS),
    Spec("llm_request_prompt_tokens", "histogram", "tokens",
         "Prompt length per request (engine's own bounds: they depend on the deployment)."),
    Spec("llm_request_generation_tokens", "histogram", "tokens",
         "Generated tokens per request (engine's own bounds: they depend on the deployment)."),
    Spec("llm_request_duration_seconds_total", "counter", "seconds",
         "Summed end-to-end time of finished requests, for engines without a latency histogram (mean = rate of this "
         "over rate(llm_requests_finished_total))."),
    Spec("llm_request_queue_time_seconds_total", "counter", "seconds",
         "Summed queue time of finished requests, for engines without a queue-time histogram."),
    Spec("llm_requests_waiting", "gauge", "requests", "Requests queued and not yet scheduled."),
    Spec("llm_requests_running", "gauge", "requests", "Requests in the running batch."),
    Spec("llm_kv_cache_usage_ratio", "gauge", "ratio", "Fraction of the KV cache in use (0-1)."),
    Spec("llm_kv_cache_capacity_tokens", "gauge", "tokens", "KV cache capacity in tokens."),
    Spec("llm_prefix_cache_hits_tokens_total", "counter", "tokens",
         "Prompt tokens served from the prefix cache.", (*_E, "source")),
    Spec("llm_prefix_cache_queries_tokens_total", "counter", "tokens",
         "Prompt tokens looked up in the prefix cache."),
    Spec("llm_prefix_cache_hit_ratio", "gauge", "ratio",
         "Prefix-cache hit ratio as the engine reports it (point in time; prefer the counters)."),
    Spec("llm_preemptions_total", "counter", "requests", "Requests preempted (retracted) by the scheduler."),
    Spec("llm_prompt_tokens_total", "counter", "tokens", "Prompt tokens processed (cached ones included)."),
    Spec("llm_generation_tokens_total", "counter", "tokens", "Output tokens generated."),
    Spec("llm_requests_finished_total", "counter", "requests",
         "Finished requests by finish_reason (unknown where the engine does not say).", _FINISH),
    Spec("llm_engine_info", "info", "", "Engine identity: type, model and version.", (*_E, "version")),
    # Families of the November 2026 field scan: each is reported by at least two engines (docs/METRICS.md).
    Spec("llm_requests_running_max", "gauge", "requests",
         "The configured cap on requests in the running batch (max_num_seqs, max_batch_size, NIM's num_request_max)."),
    Spec("llm_batch_tokens_max", "gauge", "tokens",
         "The configured cap on tokens one scheduler step processes (max_num_batched_tokens, max_num_tokens)."),
    Spec("llm_requests_waiting_by_reason", "gauge", "requests",
         "Requests waiting, by what they wait for: capacity (a free batch slot), deferred (LoRA budget, KV "
         "transfer), and in disaggregated serving kv_prealloc, kv_transfer and bootstrap.", (*_E, "reason")),
    Spec("llm_scheduler_step_tokens", "histogram", "tokens",
         "Tokens processed per scheduler step, prompt and output together (engine's own bounds)."),
    Spec("llm_engine_sleeping", "gauge", "",
         "1 while the engine sleeps (weights offloaded or discarded on request), 0 while awake."),
    Spec("llm_requests_rejected_total", "counter", "requests",
         "Requests refused before they were queued (admission limits, resource exhaustion, HTTP 4xx/429), by reason.",
         (*_E, "reason")),
    Spec("llm_spec_decode_draft_tokens_total", "counter", "tokens",
         "Speculative decoding: draft tokens proposed for verification."),
    Spec("llm_spec_decode_accepted_tokens_total", "counter", "tokens",
         "Speculative decoding: draft tokens the target model accepted."),
    Spec("llm_kv_transfer_failures_total", "counter", "",
         "Disaggregated prefill/decode: KV-cache transfers that failed."),
    Spec("llm_kv_transfer_duration_seconds", "histogram", "seconds",
         "Disaggregated prefill/decode: time one KV-cache transfer took (engine's own bounds)."),
    Spec("llm_kv_transfer_bytes_total", "counter", "bytes",
         "Disaggregated prefill/decode: KV-cache bytes transferred."),
    Spec("llm_lora_adapters", "gauge", "adapters",
         "LoRA adapters by state: running (serving a request), waiting (queued requests need it), loaded.",
         (*_E, "state")),
)

SELF_SPECS = (
    Spec("llm_exporter_target_up", "gauge", "", "1 if the last poll of the target succeeded.",
         ("target", "engine_type")),
    Spec("llm_exporter_target_state", "gauge", "",
         "1 for the target's current state, 0 for the others: ready (last poll succeeded), loading (the engine "
         "says it is starting: its health endpoint or /metrics answers 503, or it has not been ready since the "
         "exporter started) or down.", ("target", "engine_type", "state")),
    Spec("llm_exporter_scrape_duration_seconds", "gauge", "seconds",
         "Duration of the last poll of the target.", ("target",)),
    Spec("llm_exporter_last_success_timestamp_seconds", "gauge", "seconds",
         "Unix time of the last successful poll of the target.", ("target",)),
    Spec("llm_exporter_scrape_errors_total", "counter", "", "Failed polls of the target by error kind.",
         ("target", "error")),
    Spec("llm_exporter_unmapped_families", "gauge", "",
         "Engine families seen in the last poll that no table row maps.", ("target",)),
    Spec("llm_exporter_collector_up", "gauge", "", "1 if the collector's last poll succeeded.",
         ("collector",)),
    Spec("llm_exporter_build_info", "info", "", "Exporter version and Python version.",
         ("version", "python_version")),
    Spec("llm_exporter_config_last_reload_successful", "gauge", "",
         "1 if the last configuration load succeeded.", ()),
)

_G = GPU_LABELS
GPU_SPECS = (
    Spec("llm_gpu_info", "info", "", "GPU identity; join on uuid with group_left.",
         (*_G, "name", "pci_bus_id", "driver_version", "cuda_driver_version", "vbios_version",
          "compute_capability")),
    Spec("llm_gpu_up", "gauge", "", "1 while the GPU answers NVML; 0 once it is lost.", _G),
    Spec("llm_gpu_nvml_up", "gauge", "", "1 if NVML is initialised.", ()),
    Spec("llm_gpu_utilization_ratio", "gauge", "ratio",
         "Fraction of the interval a kernel ran (OTel hw.gpu.utilization).", _G),
    Spec("llm_gpu_memory_bandwidth_utilization_ratio", "gauge", "ratio",
         "Fraction of the interval device memory was read or written.", _G),
    Spec("llm_gpu_memory_used_bytes", "gauge", "bytes", "Device memory in use.", _G),
    Spec("llm_gpu_memory_free_bytes", "gauge", "bytes", "Device memory free.", _G),
    Spec("llm_gpu_memory_total_bytes", "gauge", "bytes", "Device memory installed.", _G),
    Spec("llm_gpu_memory_reserved_bytes", "gauge", "bytes", "Device memory reserved by the driver.", _G),
    Spec("llm_gpu_power_watts", "gauge", "watts", "Power draw (OTel hw.power).", _G),
    Spec("llm_gpu_power_limit_watts", "gauge", "watts", "Enforced power limit.", _G),
    Spec("llm_gpu_energy_joules_total", "counter", "joules", "Energy used since the driver loaded.", _G),
    Spec("llm_gpu_temperature_celsius", "gauge", "celsius", "Temperature by sensor.", (*_G, "sensor")),
    Spec("llm_gpu_temperature_slowdown_celsius", "gauge", "celsius",
         "Temperature at which the GPU slows down.", _G),
    Spec("llm_gpu_clock_hertz", "gauge", "hertz", "Current clock by domain.", (*_G, "clock")),
    Spec("llm_gpu_clock_max_hertz", "gauge", "hertz", "Maximum clock by domain.", (*_G, "clock")),
    Spec("llm_gpu_clock_event_active", "gauge", "", "1 while a clock-event reason is active.",
         (*_G, "reason")),
    Spec("llm_gpu_clock_event_seconds_total", "counter", "seconds", "Time spent under a clock-event reason.",
         (*_G, "reason")),
    Spec("llm_gpu_sm_active_ratio", "gauge", "ratio", "GPM: fraction of time SMs had a warp resident.", _G),
    Spec("llm_gpu_sm_occupancy_ratio", "gauge", "ratio", "GPM: resident warps over the maximum.", _G),
    Spec("llm_gpu_tensor_active_ratio", "gauge", "ratio", "GPM: tensor-core pipe activity.", _G),
    Spec("llm_gpu_dram_active_ratio", "gauge", "ratio", "GPM: device memory interface activity.", _G),
    Spec("llm_gpu_ecc_errors_total", "counter", "errors", "ECC errors by type and counter.",
         (*_G, "type", "counter")),
    Spec("llm_gpu_remapped_rows_total", "counter", "rows", "Rows remapped by type.", (*_G, "type")),
    Spec("llm_gpu_row_remap_pending", "gauge", "", "1 if a row remap waits for a GPU reset.", _G),
    Spec("llm_gpu_row_remap_failed", "gauge", "", "1 if a row remap failed.", _G),
    Spec("llm_gpu_xid_errors_total", "counter", "errors", "Xid errors reported by NVML events.",
         (*_G, "xid")),
    Spec("llm_gpu_pcie_replays_total", "counter", "", "PCIe replay counter.", _G),
    Spec("llm_gpu_nvlink_transmit_bytes_total", "counter", "bytes", "NVLink bytes sent, all links.", _G),
    Spec("llm_gpu_nvlink_receive_bytes_total", "counter", "bytes", "NVLink bytes received, all links.", _G),
    Spec("llm_gpu_processes", "gauge", "", "Compute processes on the GPU.", _G),
    Spec("llm_gpu_engine_memory_used_bytes", "gauge", "bytes",
         "Device memory used by the watched engine's processes.", (*_G, "engine_type")),
    Spec("llm_gpu_collect_duration_seconds", "gauge", "seconds", "Duration of the last GPU poll.", ()),
    Spec("llm_gpu_last_collect_success_timestamp_seconds", "gauge", "seconds",
         "Unix time of the last GPU poll that read at least one GPU (staleness while a poll is stuck).", ()),
)

# fmt: on
SPECS = ENGINE_SPECS + SELF_SPECS + GPU_SPECS
BY_NAME = {spec.name: spec for spec in SPECS}
SAMPLE_NAMES = frozenset(sample for spec in SPECS for sample in spec.samples)


def spec(name: str) -> Spec:
    """The schema entry for a unified family name; KeyError names what is missing."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name} is not a family of exporter/schema.py") from None
