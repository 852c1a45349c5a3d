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
    MODEL_SCOPE,
    OVERVIEW_UID,
    POLL_SCOPE,
    REPLICA,
    REPLICA_LEGEND,
    STATE,
    TARGET_SCOPE,
    TARGETS,
    TO_CACHE,
    TO_ENGINE,
    dashboard,
    engine_annotations,
    engine_variables,
    error_steps,
    kv_healthy,
    kv_steps,
    queue_steps,
    recorded_quantiles,
)
from exporter.mixin.dashboards.panels import Column, Query, Steps, stat, table, timeseries
from exporter.mixin.dashboards.queries import (
    RANGE,
    aggregate,
    max_recorded,
    quantile,
    ratio,
    recorded,
    recorded_quantile,
    selector,
    sum_recorded,
)
from exporter.mixin.rules.recording import Recorded, slo_name, slo_windows
from exporter.mixin.settings import Settings

S = ENGINE_SCOPE
M = MODEL_SCOPE
TTFT = "gen_ai_server_time_to_first_token_seconds"
TPOT = "gen_ai_server_time_per_output_token_seconds"
E2E = "gen_ai_server_request_duration_seconds"
QUEUE = "llm_request_queue_time_seconds"
KEYS = ("engine_type", "model")


def error_ratio(settings: Settings, by: tuple[str, ...] = ()) -> str:
    """The worst model's availability SLI as the error-budget alerts read it: per-engine failure reasons over
    finished requests, client errors left out (the rules' shortest error-ratio recording)."""
    return max_recorded(slo_name("errors", slo_windows(settings)[0]), M, by)


def worst(settings: Settings, q: float, family: str) -> str:
    """The highest quantile q among the models (engine types' bucket bounds differ: never summed together)."""
    return f"max({recorded_quantile(q, Recorded(settings).buckets(family), M, KEYS)})"


def percentile(q: float) -> str:
    """p99 for 0.99, p99.9 for 0.999."""
    return f"p{q * 100:g}"


def latency_steps(bound: float) -> Steps:
    """Green within the SLO bound, red beyond it."""
    return ((None, "green"), (bound, "red"))


def sli_window(settings: Settings) -> str:
    """The window of the SLI tiles: the long window of the fastest-burning page (of any alert if none pages)."""
    pages = [w for w in settings.slo.burn_windows if w.severity == "critical"] or settings.slo.burn_windows
    return max(pages, key=lambda w: w.factor).long


def _replica_labels(settings: Settings) -> str:
    return ", ".join([*settings.aggregation.fleet_labels, *settings.aggregation.instance_labels, "target"])


def seen(settings: Settings) -> str:
    """Each replica that served a model within the time range, labelled with the model (engine series carry it)."""
    info = f"last_over_time({selector('llm_engine_info', ENGINE_SCOPE)}[{RANGE}])"
    return f"max by ({_replica_labels(settings)}, engine_type, model) ({info})"


def replicas(settings: Settings, state: str) -> str:
    """Replicas of each model in one state now (ready, loading or down); 0, not a gap, where none is."""
    # group_right: a target serving several models counts once for each of them.
    now = selector(STATE, TARGET_SCOPE, state=state)
    return f"sum by ({', '.join(KEYS)}) ({now} * on ({_replica_labels(settings)}) group_right {seen(settings)})"


def replicas_seen(settings: Settings) -> str:
    """Replicas of each model seen within the time range, up or not."""
    return f"count by ({', '.join(KEYS)}) ({seen(settings)})"


def replicas_gone(settings: Settings) -> str:
    """Replicas of each model seen within the time range that no exporter reports any more (pod deleted, node
    lost): their series vanished, so no up-style signal can show them."""
    present = selector(STATE, TARGET_SCOPE)
    gone = f"count by ({', '.join(KEYS)}) ({seen(settings)} unless on ({_replica_labels(settings)}) {present})"
    return f"{gone} or (0 * {replicas_seen(settings)})"


def fleet_hit_ratio(settings: Settings, by: tuple[str, ...] = ()) -> str:
    """Prefix-cache hit ratio of prompt tokens from the recorded per-model hit and lookup rates."""
    rec = Recorded(settings)
    return ratio(
        sum_recorded(rec.rate("llm_prefix_cache_hits_tokens_total"), M, by),
        sum_recorded(rec.rate("llm_prefix_cache_queries_tokens_total"), M, by),
    )


def _fleet_stats(settings: Settings) -> list[g.Panel]:
    rec = Recorded(settings)
    slo = settings.slo
    return [
        stat(
            "Requests / s",
            "Requests finished per second, all reasons. Healthy: steady and close to the "
            "offered load; a drop to 0 with requests waiting means engines are stalled.",
            "reqps",
            Query(sum_recorded(rec.finished, M)),
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
            "Worst model's share of finished requests that failed on the server: each engine's failure reasons "
            "(docs/METRICS.md, error taxonomy), client errors left out, as the error-budget alerts count them. "
            f"Healthy: below the availability budget ({1 - slo.availability_objective:.2%}); red where the "
            "slowest error-budget page fires if it lasts.",
            "percentunit",
            Query(error_ratio(settings)),
            steps=error_steps(settings),
            no_value="no traffic",
        ),
        stat(
            "Requests waiting",
            "Requests queued in all engines. Healthy: near 0; a growing queue means the fleet is saturated.",
            "short",
            Query(sum_recorded(rec.summed("llm_requests_waiting"), M)),
            steps=queue_steps(settings),
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
            "Replicas ready",
            "Replicas whose engine answered the exporter's last poll. Healthy: as many as you run.",
            "none",
            Query(aggregate("sum", STATE, TARGET_SCOPE, state="ready")),
        ),
        stat(
            "Replicas loading",
            "Replicas whose engine is starting (loading its model; not an outage). Healthy: 0 outside rollouts.",
            "none",
            Query(aggregate("sum", STATE, TARGET_SCOPE, state="loading")),
            steps=((None, "green"), (1, "blue")),
        ),
        stat(
            "Replicas down",
            "Replicas whose engine does not answer and is not loading. Healthy: 0.",
            "none",
            Query(aggregate("sum", STATE, TARGET_SCOPE, state="down")),
            steps=((None, "green"), (1, "red")),
        ),
        stat(
            "Replicas gone",
            "Replicas seen in the time range that no exporter reports any more (pod deleted, node lost): no "
            "up-style signal can show them. Healthy: 0 outside rollouts and scale-downs.",
            "none",
            Query(
                f"count(last_over_time({selector(TARGETS, TARGET_SCOPE)}[{RANGE}]) "
                f"unless {selector(TARGETS, TARGET_SCOPE)})"
            ),
            steps=((None, "green"), (1, "orange")),
            no_value="0",
        ),
        stat(
            f"TTFT {percentile(slo.ttft_objective)} (worst model)",
            f"The TTFT quantile the SLO bounds ({slo.ttft_objective:.0%} within {promql.number(slo.ttft_seconds)} s), "
            "for the slowest model. Healthy: below the bound (red beyond it).",
            "s",
            Query(worst(settings, slo.ttft_objective, TTFT)),
            steps=latency_steps(slo.ttft_seconds),
            no_value="no traffic",
        ),
        stat(
            f"TPOT {percentile(slo.tpot_objective)} (worst model)",
            f"The TPOT quantile the SLO bounds ({slo.tpot_objective:.0%} within {promql.number(slo.tpot_seconds)} s), "
            "for the slowest model. Healthy: below the bound (red beyond it).",
            "s",
            Query(worst(settings, slo.tpot_objective, TPOT)),
            steps=latency_steps(slo.tpot_seconds),
            no_value="no traffic",
        ),
        stat(
            "Queue time p99 (worst model)",
            "99th percentile time requests waited before being scheduled, for the model that waits longest. "
            f"Healthy: near 0; red at the queue-pressure alert's {promql.number(settings.queue.queue_time_seconds)} s.",
            "s",
            Query(f"max({quantile(0.99, QUEUE, S, KEYS)})"),
            steps=latency_steps(settings.queue.queue_time_seconds),
            no_value="no traffic",
        ),
        stat(
            "E2E p99 (worst model)",
            "99th percentile end-to-end request latency of the slowest model. "
            "Healthy: stable; it grows with output length.",
            "s",
            Query(worst(settings, 0.99, E2E)),
            no_value="no traffic",
        ),
    ]


def _models(settings: Settings) -> list[g.Panel]:
    rec = Recorded(settings)
    by = KEYS

    def p95(family: str) -> str:
        return recorded_quantile(0.95, rec.buckets(family), M, by)

    return [
        table(
            "Models",
            "One row per model and engine type: replicas by state now, replicas seen in the time range and gone "
            "since, traffic, p95 latencies, queue and peak KV usage. A replica that never answered has no model "
            "yet: the Replicas stats count it. Healthy: no replica down or gone, waiting near 0, KV below the "
            "warning mark.",
            ("model", "engine_type"),
            [
                Column("Ready", "none", replicas(settings, "ready")),
                Column("Loading", "none", replicas(settings, "loading"), ((None, "green"), (1, "blue"))),
                Column("Down", "none", replicas(settings, "down"), ((None, "green"), (1, "red"))),
                Column("Seen in range", "none", replicas_seen(settings)),
                Column("Gone", "none", replicas_gone(settings), ((None, "green"), (1, "orange"))),
                Column("Requests / s", "reqps", sum_recorded(rec.finished, M, by)),
                Column("TTFT p95", "s", p95(TTFT), latency_steps(settings.slo.ttft_seconds)),
                Column("TPOT p95", "s", p95(TPOT), latency_steps(settings.slo.tpot_seconds)),
                Column(
                    "Waiting", "short", sum_recorded(rec.summed("llm_requests_waiting"), M, by), queue_steps(settings)
                ),
                Column(
                    "KV used (max)",
                    "percentunit",
                    f"max by (engine_type, model) ({recorded(rec.kv_usage_max, M)})",
                    kv_steps(settings),
                ),
            ],
        )
    ]


def _slos(settings: Settings) -> list[g.Panel]:
    slo = settings.slo
    window = sli_window(settings)
    objectives = {"ttft": slo.ttft_objective, "tpot": slo.tpot_objective, "errors": slo.availability_objective}
    goals = {
        "ttft": ("TTFT", f"first token within {promql.number(slo.ttft_seconds)} s"),
        "tpot": ("TPOT", f"time per output token within {promql.number(slo.tpot_seconds)} s"),
        "errors": ("Availability", "finishing without a server error"),
    }
    tiles: list[g.Panel] = [
        stat(
            f"{goals[sli][0]} SLI ({window}, worst model)",
            f"Share of requests {goals[sli][1]} over {window}, for the model doing worst; from the SLO recording "
            f"rule the burn-rate alerts read. Healthy: at or above the objective ({objectives[sli]:.1%}).",
            "percentunit",
            Query(f"1 - max({recorded(slo_name(sli, window), M)})"),
            steps=((None, "red"), (objectives[sli], "green")),
            no_value="no traffic, or no bucket at the bound",
            width=8,
        )
        for sli in objectives
    ]
    pages = sorted({w.factor for w in slo.burn_windows if w.severity == "critical"})
    tickets = sorted({w.factor for w in slo.burn_windows if w.severity != "critical"})
    steps = ((None, "green"), *((f, "orange") for f in tickets[:1]), *((f, "red") for f in pages[:1]))
    burn = [
        Query(
            f"{recorded(slo_name(sli, window), M)} / {promql.number(1 - objectives[sli])}",
            f"{{{{model}}}} {goals[sli][0]}",
        )
        for sli in objectives
    ]
    return [
        *tiles,
        timeseries(
            f"Error-budget burn rate ({window})",
            f"How fast each model spends its error budgets over {window}: 1 spends exactly the budget in the SLO "
            f"period. Healthy: below 1; the dashed lines are the alerts' burn factors "
            f"({', '.join(promql.number(f) for f in pages)} page).",
            "short",
            burn,
            width=24,
            steps=steps,
        ),
    ]


def _latency(settings: Settings) -> list[g.Panel]:
    by = KEYS
    rec = Recorded(settings)
    legend = "{{model}} ({{engine_type}})"
    return [
        timeseries(
            "Time to first token",
            f"TTFT p95 and p99 per model. Healthy: p99 within the SLO bound "
            f"({promql.number(settings.slo.ttft_seconds)} s) "
            "and flat as load changes.",
            "s",
            recorded_quantiles(rec.buckets(TTFT), M, by, (0.95, 0.99)),
            width=8,
            steps=latency_steps(settings.slo.ttft_seconds),
        ),
        timeseries(
            "Time per output token",
            f"TPOT p95 and p99 per model. Healthy: p99 within the SLO bound "
            f"({promql.number(settings.slo.tpot_seconds)} s) "
            "and flat as load changes.",
            "s",
            recorded_quantiles(rec.buckets(TPOT), M, by, (0.95, 0.99)),
            width=8,
            steps=latency_steps(settings.slo.tpot_seconds),
        ),
        timeseries(
            "Queue time",
            "Queue-time p99 per model: how long requests waited before being scheduled. Healthy: near 0; rising "
            "p99 is the first sign of queue pressure.",
            "s",
            [Query(quantile(0.99, QUEUE, S, by), f"{legend} p99")],
            width=8,
            steps=latency_steps(settings.queue.queue_time_seconds),
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
            "Share of finished requests that failed, per engine type. Healthy: below the availability budget "
            f"({1 - settings.slo.availability_objective:.2%}).",
            "percentunit",
            [Query(error_ratio(settings, by), "{{engine_type}}")],
            width=8,
            steps=error_steps(settings),
        ),
    ]


def _load(settings: Settings) -> list[g.Panel]:
    return [
        timeseries(
            "Scheduler queue",
            "Requests waiting and running per replica; click a series for the replica's "
            "Engine detail. Healthy: waiting near 0.",
            "short",
            [
                Query(aggregate("sum", "llm_requests_waiting", S, REPLICA), f"{REPLICA_LEGEND} waiting"),
                Query(aggregate("sum", "llm_requests_running", S, REPLICA), f"{REPLICA_LEGEND} running"),
            ],
            width=8,
            links=[TO_ENGINE],
        ),
        timeseries(
            "KV cache usage",
            "Fraction of the KV cache in use per replica (its fullest data-parallel rank). "
            f"Healthy: {kv_healthy(settings)}.",
            "percentunit",
            [Query(aggregate("max", "llm_kv_cache_usage_ratio", S, REPLICA), REPLICA_LEGEND)],
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


def _engine_gpus(settings: Settings, op: str, sample: str) -> str:
    """Per-GPU `op` of a GPU gauge, only on exporters that poll a selected engine and model.

    A sidecar's GPU series and its engine's series come from one exporter, so they share its instance labels.
    """
    instance = ", ".join(settings.aggregation.instance_labels)
    engines = selector("llm_engine_info", S)
    return f"{op} by (instance, gpu) ({selector(sample, {'job': '$job'})} and on ({instance}) {engines})"


def _gpus(settings: Settings) -> list[g.Panel]:
    scoped = (
        " GPUs follow Engine, Target, Instance and Model through the exporter that polls both (a sidecar); "
        "a node DaemonSet's GPUs are on the GPU dashboard."
    )
    legend = "{{instance}} GPU {{gpu}}"
    memory = ratio(
        _engine_gpus(settings, "sum", "llm_gpu_memory_used_bytes"),
        _engine_gpus(settings, "sum", "llm_gpu_memory_total_bytes"),
    )
    return [
        timeseries(
            "GPU utilization",
            "Fraction of time a kernel ran, per GPU. Healthy: high while serving; idle GPUs under load point at "
            "a bottleneck elsewhere." + scoped,
            "percentunit",
            [Query(_engine_gpus(settings, "avg", "llm_gpu_utilization_ratio"), legend)],
            width=8,
            ratio=True,
        ),
        timeseries(
            "GPU memory used",
            "Device memory in use over installed, per GPU. Healthy: engines reserve "
            "most memory up front (vLLM ~90 %), so flat is normal; growth means a leak." + scoped,
            "percentunit",
            [Query(memory, legend)],
            width=8,
            ratio=True,
        ),
        timeseries(
            "GPU power",
            "Power draw per GPU. Healthy: below the power limit; pinned at the limit means "
            "power capping slows the clocks." + scoped,
            "watt",
            [Query(_engine_gpus(settings, "sum", "llm_gpu_power_watts"), legend)],
            width=8,
        ),
    ]


def _targets() -> list[g.Panel]:
    return [
        timeseries(
            "Replica state",
            "1 while the exporter's last poll of the replica succeeded, 0 while it is loading or down; the lowest "
            "per replica, so a dead one shows 0. Healthy: 1 for every replica.",
            "none",
            [Query(aggregate("min", TARGETS, TARGET_SCOPE, REPLICA), REPLICA_LEGEND)],
            links=[TO_ENGINE],
        ),
        timeseries(
            "Poll duration",
            "How long the exporter's last poll of each replica took. Healthy: well under "
            "the poll interval (tens of ms).",
            "s",
            [
                Query(
                    aggregate("max", "llm_exporter_scrape_duration_seconds", POLL_SCOPE, REPLICA),
                    REPLICA_LEGEND,
                )
            ],
        ),
    ]


def build(settings: Settings) -> g.Dashboard:
    """The Overview dashboard."""
    return dashboard(
        OVERVIEW_UID,
        "LLM / Overview",
        "Every LLM engine behind llm-exporter on one page: traffic, SLOs, models and their replicas, latency, "
        "load, caches, outcomes and GPUs. Fleet, SLO, latency and outcome panels read the shipped recording "
        "rules, so they follow Engine and Model only.",
        engine_variables(settings),
        [
            ("Fleet", _fleet_stats(settings)),
            ("Service-level objectives", _slos(settings)),
            ("Models", _models(settings)),
            ("Latency", _latency(settings)),
            ("Throughput and outcomes", _throughput(settings)),
            ("Load and caches", _load(settings)),
            ("GPUs", _gpus(settings)),
            ("Replicas", _targets()),
        ],
        engine_annotations(settings),
    )
