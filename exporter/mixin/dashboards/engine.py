"""The Engine detail dashboard: one target's scheduler, latency quantiles and heatmaps, token lengths, polls."""

from __future__ import annotations

from grafanalib import core as g

from exporter import durations
from exporter.mixin.dashboards.common import (
    ENGINE_SCOPE,
    ENGINE_UID,
    POLL_SCOPE,
    TARGET_SCOPE,
    dashboard,
    engine_annotations,
    engine_variables,
    kv_healthy,
    kv_steps,
    quantiles,
)
from exporter.mixin.dashboards.panels import Collapsed, Query, heatmap, stat, timeseries
from exporter.mixin.dashboards.queries import aggregate, buckets, mean, ratio, sum_rate
from exporter.mixin.settings import Settings

S = ENGINE_SCOPE
TTFT = "gen_ai_server_time_to_first_token_seconds"
TPOT = "gen_ai_server_time_per_output_token_seconds"
E2E = "gen_ai_server_request_duration_seconds"
ITL = "llm_inter_token_latency_seconds"
QUEUE = "llm_request_queue_time_seconds"
PREFILL = "llm_request_prefill_time_seconds"
DECODE = "llm_request_decode_time_seconds"
PROMPT_LEN = "llm_request_prompt_tokens"
OUTPUT_LEN = "llm_request_generation_tokens"
STEP_TOKENS = "llm_scheduler_step_tokens"
KV_TRANSFER = "llm_kv_transfer_duration_seconds"


def _latency(title: str, family: str, description: str) -> g.Panel:
    return timeseries(title, description, "s", [*quantiles(family, S), Query(mean(family, S), "mean")])


def _status(settings: Settings) -> list[g.Panel]:
    return [
        stat(
            "Engine",
            "Engine type and version as the engine reports them. Healthy: the version you deployed.",
            "none",
            Query(aggregate("max", "llm_engine_info", S, ("engine_type", "version")), "{{engine_type}} {{version}}"),
            show_name=True,
        ),
        stat(
            "Poll up",
            "1 while the exporter's last poll of this replica succeeded; the lowest of the selection, so one "
            "down replica shows 0. Healthy: 1.",
            "none",
            Query(aggregate("min", "llm_exporter_target_up", TARGET_SCOPE)),
            steps=((None, "red"), (1, "green")),
        ),
        stat(
            "Data age",
            "Seconds since the last successful poll, of the stalest replica selected. Healthy: below two poll "
            "intervals; growing means the engine stopped answering.",
            "s",
            Query(f"time() - {aggregate('min', 'llm_exporter_last_success_timestamp_seconds', POLL_SCOPE)}"),
            # Red where LLMEngineDown would page: the engine has not answered for availability.engine_down_for.
            steps=((None, "green"), (30, "orange"), (durations.seconds(settings.availability.engine_down_for), "red")),
        ),
        stat(
            "Poll duration",
            "How long the last poll of the engine's /metrics took. Healthy: tens of ms; "
            "seconds mean the engine's metrics endpoint is overloaded.",
            "s",
            Query(aggregate("max", "llm_exporter_scrape_duration_seconds", POLL_SCOPE)),
        ),
        stat(
            "Unmapped families",
            "Engine metric families the exporter saw but has no table row for. Healthy: "
            "0 for a supported version; more after an engine upgrade means names changed.",
            "none",
            Query(aggregate("max", "llm_exporter_unmapped_families", POLL_SCOPE)),
            steps=((None, "green"), (1, "orange")),
        ),
        stat(
            "Requests / s",
            "Requests finished per second by this target. Healthy: follows traffic.",
            "reqps",
            Query(sum_rate("llm_requests_finished_total", S)),
        ),
    ]


def _scheduler(settings: Settings) -> list[g.Panel]:
    return [
        timeseries(
            "Running and waiting",
            "Requests in the running batch and in the queue. Healthy: waiting near "
            "0; waiting growing while running is flat means the engine is at capacity.",
            "short",
            [
                Query(aggregate("sum", "llm_requests_running", S), "running"),
                Query(aggregate("sum", "llm_requests_waiting", S), "waiting"),
            ],
            width=8,
        ),
        timeseries(
            "KV cache usage",
            "Fraction of the KV cache in use, highest and mean over data-parallel ranks. "
            f"Healthy: {kv_healthy(settings)}.",
            "percentunit",
            [
                Query(aggregate("max", "llm_kv_cache_usage_ratio", S), "max"),
                Query(aggregate("avg", "llm_kv_cache_usage_ratio", S), "mean"),
            ],
            width=8,
            ratio=True,
            steps=kv_steps(settings),
        ),
        timeseries(
            "Preemptions",
            "Requests preempted (SGLang: retracted) per second to free KV cache. Healthy: "
            "0; sustained preemptions waste compute and raise latency.",
            "reqps",
            [Query(sum_rate("llm_preemptions_total", S), "preempted")],
            width=8,
        ),
        timeseries(
            "Token throughput",
            "Prompt and output tokens per second. Healthy: follows traffic.",
            "count:tok/s",
            [
                Query(sum_rate("llm_prompt_tokens_total", S), "input"),
                Query(sum_rate("llm_generation_tokens_total", S), "output"),
            ],
        ),
        timeseries(
            "Finished requests by reason",
            "Requests finished per second by finish_reason. Healthy: mostly stop and length.",
            "reqps",
            [Query(sum_rate("llm_requests_finished_total", S, ("finish_reason",)), "{{finish_reason}}")],
            stack=True,
        ),
    ]


def _latencies() -> list[g.Panel]:
    return [
        _latency(
            "Time to first token",
            TTFT,
            "TTFT quantiles and exact mean (queue + prefill + first token). "
            "Healthy: p95 within your objective; TGI does not report it.",
        ),
        _latency(
            "Inter-token latency",
            ITL,
            "Time between consecutive output tokens. Healthy: p95 under about "
            "100 ms; spikes line up with prefills of new requests.",
        ),
        _latency(
            "Time per output token",
            TPOT,
            "Per-request mean time per output token after the first. Healthy: p95 under about 100 ms.",
        ),
        _latency(
            "End-to-end latency",
            E2E,
            "Request latency as the engine sees it. Healthy: stable for a workload; it grows with output length.",
        ),
        _latency(
            "Queue time",
            QUEUE,
            "Time requests waited before being scheduled. Healthy: p95 near 0; growth means the engine is saturated.",
        ),
        timeseries(
            "Prefill and decode time",
            "Mean time per request in prefill and in decode. Healthy: prefill "
            "small against decode for chat; long prefills delay every decode in the batch.",
            "s",
            [Query(mean(PREFILL, S), "prefill"), Query(mean(DECODE, S), "decode")],
        ),
    ]


def _heatmaps() -> list[g.Panel]:
    note = " Colour is requests per second in each latency bucket."
    return [
        heatmap(
            "TTFT distribution",
            "Where time to first token falls over time. Healthy: one tight band." + note,
            "s",
            buckets(TTFT, S),
        ),
        heatmap(
            "Inter-token latency distribution",
            "Where inter-token latency falls over time. Healthy: one tight band below 100 ms." + note,
            "s",
            buckets(ITL, S),
        ),
        heatmap(
            "End-to-end latency distribution",
            "Where request latency falls over time. Healthy: stable "
            "bands; a new upper band means queueing or long outputs." + note,
            "s",
            buckets(E2E, S),
        ),
        heatmap(
            "Queue time distribution",
            "Where queue time falls over time. Healthy: everything in the lowest bucket." + note,
            "s",
            buckets(QUEUE, S),
        ),
    ]


def _tokens() -> list[g.Panel]:
    finished = sum_rate("llm_requests_finished_total", S)
    return [
        timeseries(
            "Prompt length",
            "Prompt tokens per request (quantiles from the engine's own buckets). "
            "Healthy: matches the workload you expect; long tails drive TTFT.",
            "count:tok",
            quantiles(PROMPT_LEN, S),
            width=8,
        ),
        timeseries(
            "Output length",
            "Generated tokens per request. Healthy: matches the workload; many at the "
            "max_tokens limit show as finish_reason=length.",
            "count:tok",
            quantiles(OUTPUT_LEN, S),
            width=8,
        ),
        timeseries(
            "Mean tokens per request",
            "Prompt and output tokens per finished request, from the token "
            "counters (works where length histograms are missing). Healthy: stable for a workload.",
            "count:tok",
            [
                Query(ratio(sum_rate("llm_prompt_tokens_total", S), finished), "prompt"),
                Query(ratio(sum_rate("llm_generation_tokens_total", S), finished), "output"),
            ],
            width=8,
        ),
        heatmap(
            "Prompt length distribution",
            "Prompt lengths over time; colour is requests per second. Healthy: the shape of your workload.",
            "count:tok",
            buckets(PROMPT_LEN, S),
        ),
        heatmap(
            "Output length distribution",
            "Output lengths over time; colour is requests per second. Healthy: the shape of your workload.",
            "count:tok",
            buckets(OUTPUT_LEN, S),
        ),
    ]


def _speculative() -> list[g.Panel]:
    drafted = sum_rate("llm_spec_decode_draft_tokens_total", S)
    accepted = sum_rate("llm_spec_decode_accepted_tokens_total", S)
    return [
        timeseries(
            "Draft acceptance rate",
            "Share of drafted tokens the target model accepted. Healthy: steady at the model and drafter's own level "
            "(n-gram drafting on repetitive text accepts more than on free prose); a fall to a fraction of it is "
            "LLMSpecDecodeAcceptanceCollapse: drafting then costs compute and saves none.",
            "percentunit",
            [Query(ratio(accepted, drafted), "accepted / drafted")],
            ratio=True,
        ),
        timeseries(
            "Draft and accepted tokens",
            "Tokens proposed by the drafter and accepted by the target model, per second. Healthy: both follow "
            "traffic with a stable gap.",
            "count:tok/s",
            [Query(drafted, "drafted"), Query(accepted, "accepted")],
        ),
    ]


def _admission() -> list[g.Panel]:
    running = aggregate("sum", "llm_requests_running", S)
    cap = aggregate("sum", "llm_requests_running_max", S)
    return [
        timeseries(
            "Rejected requests by reason",
            "Requests refused before they were queued (admission limits, resource exhaustion, HTTP 4xx), per "
            "second by reason. Healthy: none; sustained rejections are LLMRequestsRejected.",
            "reqps",
            [Query(sum_rate("llm_requests_rejected_total", S, ("reason",)), "{{reason}}")],
            stack=True,
        ),
        timeseries(
            "Running batch against its cap",
            "Requests in the running batch as a share of the configured cap (NIM's num_request_max, TensorRT-LLM's "
            "max active requests, the max_num_seqs Dynamo's frontend reports). Healthy: below 90 %; pinned at "
            "100 % means new requests queue however much KV cache is free.",
            "percentunit",
            [Query(ratio(running, cap), "running / cap")],
            ratio=True,
            steps=((None, "green"), (0.9, "orange"), (1, "red")),
        ),
        timeseries(
            "Waiting by reason",
            "What queued requests wait for: capacity (a batch slot), deferred (LoRA budget, KV transfer), and in "
            "disaggregated serving KV preallocation, KV transfer and the bootstrap handshake. Healthy: near 0; "
            "kv_transfer growing means the prefill side or the network is the bottleneck, not this engine.",
            "short",
            [Query(aggregate("sum", "llm_requests_waiting_by_reason", S, ("reason",)), "{{reason}}")],
            width=8,
            stack=True,
        ),
        timeseries(
            "Tokens per scheduler step",
            "Prompt and output tokens one scheduler step processed (quantiles of the engine's own buckets, vLLM "
            "and LMDeploy) and the configured cap on them (TensorRT-LLM, Dynamo). Healthy: well below the cap; "
            "pinned at it means every step is full and prefills wait.",
            "count:tok",
            [*quantiles(STEP_TOKENS, S), Query(aggregate("max", "llm_batch_tokens_max", S), "cap")],
            width=8,
        ),
        timeseries(
            "Engine asleep",
            "1 while the engine was put to sleep (vLLM sleep mode: weights offloaded or discarded, e.g. during RL "
            "weight updates). Healthy: 0 outside planned sleeps; asleep engines answer no requests, and "
            "LLMEngineStalled does not fire for them.",
            "short",
            [Query(aggregate("max", "llm_engine_sleeping", S), "asleep")],
            width=8,
        ),
    ]


def _lora() -> list[g.Panel]:
    return [
        timeseries(
            "LoRA adapters by state",
            "Adapters serving requests (running), needed by queued requests (waiting) and resident in the "
            "engine's adapter pool (loaded). Healthy: waiting near 0; adapters waiting while the pool is full "
            "means requests queue for an adapter swap.",
            "short",
            [Query(aggregate("max", "llm_lora_adapters", S, ("state",)), "{{state}}")],
            width=24,
        ),
    ]


def _disaggregation() -> list[g.Panel]:
    return [
        timeseries(
            "KV transfer failures",
            "KV-cache transfers between prefill and decode workers that failed, per second. Healthy: none; any "
            "is LLMKVTransferFailing, and the requests behind them are recomputed or fail.",
            "ops",
            [Query(sum_rate("llm_kv_transfer_failures_total", S), "failed")],
            width=8,
            steps=((None, "green"), (0.001, "red")),
        ),
        timeseries(
            "KV transfer time",
            "Time one KV-cache transfer took (vLLM: per connector transfer; TensorRT-LLM under Dynamo: per "
            "request). Healthy: well below the TTFT objective; growth means a saturated link or a slow peer.",
            "s",
            [*quantiles(KV_TRANSFER, S), Query(mean(KV_TRANSFER, S), "mean")],
            width=8,
        ),
        timeseries(
            "KV transfer throughput",
            "KV-cache bytes moved between prefill and decode workers per second. Healthy: follows prefill traffic; "
            "flat at a ceiling while transfer time grows means the link is full.",
            "Bps",
            [Query(sum_rate("llm_kv_transfer_bytes_total", S), "bytes/s")],
            width=8,
        ),
    ]


def _polls() -> list[g.Panel]:
    return [
        timeseries(
            "Poll duration over time",
            "How long each poll of the engine's /metrics took. Healthy: flat, tens of ms.",
            "s",
            [Query(aggregate("max", "llm_exporter_scrape_duration_seconds", POLL_SCOPE), "duration")],
        ),
        timeseries(
            "Poll errors",
            "Failed polls per second by error kind (timeout, connection, HTTP status, parse). Healthy: none at all.",
            "ops",
            [Query(sum_rate("llm_exporter_scrape_errors_total", POLL_SCOPE, ("error",)), "{{error}}")],
        ),
    ]


def build(settings: Settings) -> g.Dashboard:
    """The Engine detail dashboard (one replica at a time)."""
    return dashboard(
        ENGINE_UID,
        "LLM / Engine detail",
        "One engine replica (target and instance) in depth: scheduler, latency quantiles and distributions, "
        "token lengths, polling.",
        engine_variables(settings, one_target=True),
        [
            ("Status", _status(settings)),
            ("Scheduler", _scheduler(settings)),
            ("Latency", _latencies()),
            ("Latency distributions", _heatmaps()),
            ("Token lengths", _tokens()),
            ("Polling", _polls()),
            Collapsed("Admission and batch cap", _admission()),
            Collapsed("Speculative decoding", _speculative()),
            Collapsed("LoRA adapters", _lora()),
            Collapsed("Disaggregated serving (P/D)", _disaggregation()),
        ],
        engine_annotations(settings),
    )
