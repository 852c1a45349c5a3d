"""The KV & prefix cache dashboard: KV usage and capacity, prefix-cache hits from counters, cache pressure."""

from __future__ import annotations

from grafanalib import core as g

from exporter.mixin.dashboards.common import (
    CACHE_UID,
    ENGINE_SCOPE,
    REPLICA,
    REPLICA_LEGEND,
    TO_ENGINE,
    dashboard,
    engine_annotations,
    engine_variables,
    kv_healthy,
    kv_steps,
    prefix_hit_ratio,
)
from exporter.mixin.dashboards.panels import Query, stat, timeseries
from exporter.mixin.dashboards.queries import aggregate, sum_rate
from exporter.mixin.settings import Settings

S = ENGINE_SCOPE
BY_TARGET = ("job", *REPLICA)
HITS = "llm_prefix_cache_hits_tokens_total"
LOOKUPS = "llm_prefix_cache_queries_tokens_total"


def kv_tokens_used() -> str:
    """KV-cache tokens in use per target: mean usage over ranks times the target's total capacity."""
    usage = aggregate("avg", "llm_kv_cache_usage_ratio", S, BY_TARGET)
    capacity = aggregate("sum", "llm_kv_cache_capacity_tokens", S, BY_TARGET)
    return f"{usage} * on (job, target, instance) {capacity}"


def _now(settings: Settings) -> list[g.Panel]:
    return [
        stat(
            "KV cache used (max)",
            f"Highest KV-cache usage among targets. Healthy: {kv_healthy(settings)}.",
            "percentunit",
            Query(aggregate("max", "llm_kv_cache_usage_ratio", S)),
            steps=kv_steps(settings),
        ),
        stat(
            "KV capacity",
            "KV-cache capacity in tokens, all selected targets. Healthy: what the deployment "
            "was sized for; it drops if an engine restarts with less memory.",
            "count:tok",
            Query(aggregate("sum", "llm_kv_cache_capacity_tokens", S)),
        ),
        stat(
            "Prefix-cache hit ratio",
            "Prompt tokens served from the prefix cache, from the counters. Healthy: "
            "stable for a workload (shared system prompts give 30-90 %).",
            "percentunit",
            Query(prefix_hit_ratio(S)),
            no_value="no traffic",
        ),
        stat(
            "Cached prompt tokens / s",
            "Prompt tokens per second that skipped prefill thanks to the prefix cache. Healthy: follows traffic.",
            "count:tok/s",
            Query(sum_rate(HITS, S)),
        ),
        stat(
            "Preemptions / s",
            "Requests preempted to free KV cache. Healthy: 0.",
            "reqps",
            Query(sum_rate("llm_preemptions_total", S)),
            steps=((None, "green"), (0.1, "orange"), (1, "red")),
        ),
        stat(
            "Requests waiting",
            "Requests queued, often for KV space. Healthy: near 0.",
            "short",
            Query(aggregate("sum", "llm_requests_waiting", S)),
        ),
    ]


def _kv(settings: Settings) -> list[g.Panel]:
    by = REPLICA
    return [
        timeseries(
            "KV cache usage by target",
            f"Fraction of the KV cache in use per target, highest rank. Healthy: {kv_healthy(settings)}; "
            "at 100 % new requests wait or running ones are preempted.",
            "percentunit",
            [Query(aggregate("max", "llm_kv_cache_usage_ratio", S, by), REPLICA_LEGEND)],
            width=8,
            ratio=True,
            steps=kv_steps(settings),
            links=[TO_ENGINE],
        ),
        timeseries(
            "KV tokens in use by target",
            "Tokens held in the KV cache per target (usage times capacity). Healthy: "
            "below capacity with headroom for the next batch.",
            "count:tok",
            [Query(kv_tokens_used(), REPLICA_LEGEND)],
            width=8,
        ),
        timeseries(
            "KV capacity by target",
            "KV-cache capacity in tokens per target. Healthy: flat; a change means a "
            "restart with a different memory budget.",
            "count:tok",
            [Query(aggregate("sum", "llm_kv_cache_capacity_tokens", S, by), REPLICA_LEGEND)],
            width=8,
        ),
    ]


def _prefix() -> list[g.Panel]:
    return [
        timeseries(
            "Prefix-cache hit ratio by target",
            "Hit ratio of prompt tokens per target, from the counters. Healthy: "
            "stable; a sudden fall means evictions (KV pressure) or changed prompts.",
            "percentunit",
            [Query(prefix_hit_ratio(S, BY_TARGET), REPLICA_LEGEND)],
            ratio=True,
            links=[TO_ENGINE],
        ),
        timeseries(
            "Prefix-cache lookups and hits",
            "Prompt tokens looked up in and served from the prefix "
            "cache per second. Healthy: hits a steady share of lookups.",
            "count:tok/s",
            [Query(sum_rate(LOOKUPS, S), "looked up"), Query(sum_rate(HITS, S), "hit")],
        ),
        timeseries(
            "Hits by cache tier",
            "Prefix-cache hits per second by where the tokens came from (device, "
            "host, disk, remote) where the engine says. Healthy: mostly device.",
            "count:tok/s",
            [Query(sum_rate(HITS, S, ("source",)), "{{source}}")],
            stack=True,
        ),
        timeseries(
            "Engine-reported hit ratio",
            "The hit ratio gauge some engines publish (SGLang: last prefill "
            "batch only), beside the counter-based ratio. Healthy: both agree over time; trust the "
            "counters when they differ.",
            "percentunit",
            [
                Query(aggregate("avg", "llm_prefix_cache_hit_ratio", S, REPLICA), f"{REPLICA_LEGEND} engine gauge"),
                Query(prefix_hit_ratio(S, BY_TARGET), f"{REPLICA_LEGEND} from counters"),
            ],
            ratio=True,
        ),
    ]


def _pressure() -> list[g.Panel]:
    by = REPLICA
    return [
        timeseries(
            "Preemptions by target",
            "Requests preempted per second per target. Healthy: 0; sustained "
            "preemptions with KV near 100 % mean the batch is too large for the cache.",
            "reqps",
            [Query(sum_rate("llm_preemptions_total", S, by), REPLICA_LEGEND)],
            links=[TO_ENGINE],
        ),
        timeseries(
            "Prompt tokens: computed and cached",
            "Prompt tokens per second that needed prefill against "
            "those served from the prefix cache. Healthy: the cached share stays steady.",
            "count:tok/s",
            [
                Query(f"{sum_rate('llm_prompt_tokens_total', S)} - {sum_rate(HITS, S)}", "computed"),
                Query(sum_rate(HITS, S), "cached"),
            ],
            stack=True,
        ),
    ]


def build(settings: Settings) -> g.Dashboard:
    """The KV & prefix cache dashboard."""
    return dashboard(
        CACHE_UID,
        "LLM / KV & prefix cache",
        "KV-cache usage and capacity, prefix-cache effectiveness from counters, and the pressure they cause.",
        engine_variables(settings),
        [("Now", _now(settings)), ("KV cache", _kv(settings)), ("Prefix cache", _prefix()), ("Pressure", _pressure())],
        engine_annotations(settings),
    )
