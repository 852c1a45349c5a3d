"""The fleet Overview dashboard: traffic, latency, load, caches, outcomes, GPUs and targets across engines.

Its fleet-level panels (the stats, latency, throughput and outcomes) read the recording rules the mixin ships,
so opening it over a large fleet costs Prometheus a few pre-aggregated series, not every raw bucket; per-target
panels (load, targets) and GPU panels read raw series, which the recordings do not keep.
"""

from __future__ import annotations

from grafanalib import core as g

from exporter.mixin import promql
from exporter.mixin.dashboards.common import (
    ENGINE_SCOPE,
    JOB_SCOPE,
    MODEL_SCOPE,
    OVERVIEW_UID,
    TARGET_SCOPE,
    TO_CACHE,
    TO_ENGINE,
    dashboard,
    engine_annotations,
    engine_variables,
    error_steps,
    gpu_memory_used_ratio,
    kv_healthy,
    kv_steps,
    queue_steps,
    recorded_quantiles,
)
from exporter.mixin.dashboards.panels import Query, stat, timeseries
from exporter.mixin.dashboards.queries import (
    aggregate,
    ratio,
    recorded,
    recorded_quantile,
    selector,
    sum_recorded,
)
from exporter.mixin.rules.recording import Recorded
from exporter.mixin.settings import Settings

S = ENGINE_SCOPE
M = MODEL_SCOPE
TTFT = "gen_ai_server_time_to_first_token_seconds"
TPOT = "gen_ai_server_time_per_output_token_seconds"
E2E = "gen_ai_server_request_duration_seconds"


def error_ratio(settings: Settings, by: tuple[str, ...] = ()) -> str:
    """Share of finished requests that ended in an error (the SLO's error reasons); 0 while none does."""
    finished = Recorded(settings).finished
    reasons = promql.alternatives(settings.slo.error_finish_reasons)
    errors = sum_recorded(finished, M, by, finish_reason=reasons)
    zero = " or (0 * " + sum_recorded(finished, M, by) + ")"
    return ratio(errors + zero, sum_recorded(finished, M, by))


def worst_p95(settings: Settings, family: str) -> str:
    """The highest p95 among the engine types (their bucket bounds differ, so they are never summed together)."""
    return f"max({recorded_quantile(0.95, Recorded(settings).buckets(family), M, ('engine_type',))})"


def fleet_hit_ratio(settings: Settings, by: tuple[str, ...] = ()) -> str:
    """Prefix-cache hit ratio of prompt tokens from the recorded per-model hit and lookup rates."""
    rec = Recorded(settings)
    return ratio(
        sum_recorded(rec.rate("llm_prefix_cache_hits_tokens_total"), M, by),
        sum_recorded(rec.rate("llm_prefix_cache_queries_tokens_total"), M, by),
    )


def _fleet_stats(settings: Settings) -> list[g.Panel]:
    rec = Recorded(settings)
    return [
        stat(
            "Requests / s",
            "Requests finished per second, all reasons. Healthy: steady and close to the "
            "offered load; a drop to 0 with requests waiting means engines are stalled.",
            "reqps",
            Query(sum_recorded(rec.finished, M)),
        ),
        stat(
            "Input tokens / s",
            "Prompt tokens processed per second (prefix-cached ones included). Healthy: follows traffic.",
            "count:tok/s",
            Query(sum_recorded(rec.rate("llm_prompt_tokens_total"), M)),
        ),
        stat(
            "Output tokens / s",
            "Tokens generated per second. Healthy: follows traffic; falling while "
            "requests wait means decode is starved.",
            "count:tok/s",
            Query(sum_recorded(rec.rate("llm_generation_tokens_total"), M)),
        ),
        stat(
            "Error ratio",
            "Share of finished requests with finish_reason=error. Healthy: below 1 %.",
            "percentunit",
            Query(error_ratio(settings)),
            steps=error_steps(settings),
            no_value="no traffic",
        ),
        stat(
            "Targets up",
            "Engine targets whose last poll by the exporter succeeded. Healthy: equal to the "
            "number of targets configured.",
            "none",
            Query(aggregate("sum", "llm_exporter_target_up", TARGET_SCOPE)),
        ),
        stat(
            "Targets down",
            "Engine targets whose last poll failed. Healthy: 0.",
            "none",
            Query(f"count({selector('llm_exporter_target_up', TARGET_SCOPE)} == 0)"),
            steps=((None, "green"), (1, "red")),
            no_value="0",
        ),
        stat(
            "TTFT p95 (worst engine)",
            "95th percentile time to first token of the slowest engine type. "
            "Healthy: within your TTFT objective (often 1-2 s for chat).",
            "s",
            Query(worst_p95(settings, TTFT)),
            no_value="no traffic",
        ),
        stat(
            "TPOT p95 (worst engine)",
            "95th percentile time per output token of the slowest engine type. "
            "Healthy: under about 100 ms, faster than people read.",
            "s",
            Query(worst_p95(settings, TPOT)),
            no_value="no traffic",
        ),
        stat(
            "E2E p95 (worst engine)",
            "95th percentile end-to-end request latency of the slowest engine type. "
            "Healthy: stable; it grows with output length.",
            "s",
            Query(worst_p95(settings, E2E)),
            no_value="no traffic",
        ),
        stat(
            "KV cache used (max)",
            f"Highest KV-cache usage among targets. Healthy: {kv_healthy(settings)}; near 100 % engines queue or "
            "preempt requests.",
            "percentunit",
            Query(f"max({recorded(rec.kv_usage_max, M)})"),
            steps=kv_steps(settings),
        ),
        stat(
            "Prefix-cache hit ratio",
            "Prompt tokens served from the prefix cache, from the counters. Healthy: "
            "stable for a workload; a sudden fall means cache thrash or changed prompts.",
            "percentunit",
            Query(fleet_hit_ratio(settings)),
            no_value="no traffic",
        ),
        stat(
            "Requests waiting",
            "Requests queued in all engines. Healthy: near 0; a growing queue means the fleet is saturated.",
            "short",
            Query(sum_recorded(rec.summed("llm_requests_waiting"), M)),
            steps=queue_steps(settings),
        ),
    ]


def _latency(settings: Settings) -> list[g.Panel]:
    by = ("engine_type",)
    rec = Recorded(settings)
    return [
        timeseries(
            "Time to first token",
            "TTFT quantiles per engine type (TGI does not report TTFT). Healthy: "
            "p95 within your TTFT objective and flat as load changes.",
            "s",
            recorded_quantiles(rec.buckets(TTFT), M, by),
            width=8,
        ),
        timeseries(
            "Time per output token",
            "TPOT quantiles per engine type. Healthy: p95 under about 100 ms and flat as load changes.",
            "s",
            recorded_quantiles(rec.buckets(TPOT), M, by),
            width=8,
        ),
        timeseries(
            "End-to-end latency",
            "Request latency quantiles per engine type. Healthy: stable; spikes with flat TPOT point at queueing.",
            "s",
            recorded_quantiles(rec.buckets(E2E), M, by),
            width=8,
        ),
    ]


def _throughput(settings: Settings) -> list[g.Panel]:
    by = ("engine_type",)
    rec = Recorded(settings)
    return [
        timeseries(
            "Token throughput",
            "Prompt and output tokens per second per engine type. Healthy: follows traffic.",
            "count:tok/s",
            [
                Query(sum_recorded(rec.rate("llm_prompt_tokens_total"), M, by), "{{engine_type}} input"),
                Query(sum_recorded(rec.rate("llm_generation_tokens_total"), M, by), "{{engine_type}} output"),
            ],
            width=8,
        ),
        timeseries(
            "Finished requests by reason",
            "Requests finished per second by finish_reason. Healthy: mostly stop and length; error and abort near 0.",
            "reqps",
            [Query(sum_recorded(rec.finished, M, ("finish_reason",)), "{{finish_reason}}")],
            width=8,
            stack=True,
        ),
        timeseries(
            "Error ratio by engine",
            "Share of finished requests with finish_reason=error per engine type. Healthy: below 1 %.",
            "percentunit",
            [Query(error_ratio(settings, by), "{{engine_type}}")],
            width=8,
            steps=error_steps(settings),
        ),
    ]


def _load(settings: Settings) -> list[g.Panel]:
    by = ("target",)
    return [
        timeseries(
            "Scheduler queue",
            "Requests waiting and running per target; click a series for the target's "
            "Engine detail. Healthy: waiting near 0.",
            "short",
            [
                Query(aggregate("sum", "llm_requests_waiting", S, by), "{{target}} waiting"),
                Query(aggregate("sum", "llm_requests_running", S, by), "{{target}} running"),
            ],
            width=8,
            links=[TO_ENGINE],
        ),
        timeseries(
            "KV cache usage",
            "Fraction of the KV cache in use per target (mean over data-parallel ranks; "
            f"TGI does not report it). Healthy: {kv_healthy(settings)}.",
            "percentunit",
            [Query(aggregate("avg", "llm_kv_cache_usage_ratio", S, by), "{{target}}")],
            width=8,
            ratio=True,
            steps=kv_steps(settings),
            links=[TO_CACHE],
        ),
        timeseries(
            "Prefix-cache hit ratio by engine",
            "Prompt tokens served from the prefix cache per engine type, from "
            "the counters. Healthy: stable for a given workload.",
            "percentunit",
            [Query(fleet_hit_ratio(settings, ("engine_type",)), "{{engine_type}}")],
            width=8,
            ratio=True,
        ),
    ]


def _gpus() -> list[g.Panel]:
    by = ("instance", "gpu")
    return [
        timeseries(
            "GPU utilization",
            "Fraction of time a kernel ran, per GPU of the selected jobs. Healthy: high "
            "while serving; idle GPUs under load point at a bottleneck elsewhere.",
            "percentunit",
            [Query(aggregate("avg", "llm_gpu_utilization_ratio", JOB_SCOPE, by), "{{instance}} GPU {{gpu}}")],
            width=8,
            ratio=True,
        ),
        timeseries(
            "GPU memory used",
            "Device memory in use over installed, per GPU. Healthy: engines reserve "
            "most memory up front (vLLM ~90 %), so flat is normal; growth means a leak.",
            "percentunit",
            [Query(gpu_memory_used_ratio(JOB_SCOPE, by), "{{instance}} GPU {{gpu}}")],
            width=8,
            ratio=True,
        ),
        timeseries(
            "GPU power",
            "Power draw per GPU. Healthy: below the power limit; pinned at the limit means "
            "power capping slows the clocks.",
            "watt",
            [Query(aggregate("sum", "llm_gpu_power_watts", JOB_SCOPE, by), "{{instance}} GPU {{gpu}}")],
            width=8,
        ),
    ]


def _targets() -> list[g.Panel]:
    return [
        timeseries(
            "Target status",
            "1 while the exporter's last poll of the target succeeded. Healthy: 1 for every target.",
            "none",
            [Query(aggregate("max", "llm_exporter_target_up", TARGET_SCOPE, ("target",)), "{{target}}")],
            links=[TO_ENGINE],
        ),
        timeseries(
            "Poll duration",
            "How long the exporter's last poll of each target took. Healthy: well under "
            "the poll interval (tens of ms).",
            "s",
            [
                Query(
                    aggregate(
                        "max", "llm_exporter_scrape_duration_seconds", {"job": "$job", "target": "$target"}, ("target",)
                    ),
                    "{{target}}",
                )
            ],
        ),
    ]


def build(settings: Settings) -> g.Dashboard:
    """The Overview dashboard."""
    return dashboard(
        OVERVIEW_UID,
        "LLM / Overview",
        "Every LLM engine behind llm-exporter on one page: traffic, latency, load, caches, outcomes and GPUs. "
        "Fleet, latency and outcome panels read the shipped recording rules, so they follow Engine and Model only.",
        engine_variables(settings),
        [
            ("Fleet", _fleet_stats(settings)),
            ("Latency", _latency(settings)),
            ("Throughput and outcomes", _throughput(settings)),
            ("Load and caches", _load(settings)),
            ("GPUs", _gpus()),
            ("Targets", _targets()),
        ],
        engine_annotations(),
    )
