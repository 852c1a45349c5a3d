"""What the dashboards share: uids, tags, variable scopes, the standard variables and the dashboard factory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from grafanalib import core as g

from exporter.engines import ENGINES
from exporter.mixin.dashboards.panels import Collapsed, Link, Query, Section, Steps, annotation, layout
from exporter.mixin.dashboards.queries import (
    Scope,
    aggregate,
    quantile,
    ratio,
    recorded_quantile,
    selector,
    sum_rate,
)
from exporter.mixin.dashboards.variables import datasource, label
from exporter.mixin.settings import Settings

TAG = "llm-exporter"  # every dashboard carries it; the link bar lists dashboards by it

OVERVIEW_UID = "llm-overview"
ENGINE_UID = "llm-engine"
CACHE_UID = "llm-kv-cache"
GPU_UID = "llm-gpu"
MIGRATION_UID = "llm-migration"

# Which label each variable filters; engine series carry all of them, the exporter's own series only some.
# `instance` (added by Prometheus) tells replicas apart where their targets share a name.
ENGINE_SCOPE: Scope = {
    "job": "$job", "engine_type": "$engine_type", "target": "$target", "instance": "$instance", "model": "$model",
}  # fmt: skip
TARGET_SCOPE: Scope = {"job": "$job", "engine_type": "$engine_type", "target": "$target", "instance": "$instance"}
POLL_SCOPE: Scope = {"job": "$job", "target": "$target", "instance": "$instance"}
JOB_SCOPE: Scope = {"job": "$job"}
# The variables a model-level recording can be filtered by: it keeps engine_type and model, not job or target.
MODEL_SCOPE: Scope = {"engine_type": "$engine_type", "model": "$model"}
# One replica: a target of one exporter. Per-replica panels keep both labels, so no two replicas share a line.
REPLICA = ("target", "instance")
REPLICA_LEGEND = "{{target}} ({{instance}})"

TO_ENGINE = Link("Engine detail", ENGINE_UID)
TO_CACHE = Link("KV & prefix cache", CACHE_UID)

TARGETS = "llm_exporter_target_up"  # every configured target has it, up or down, so it lists them all
STATE = "llm_exporter_target_state"  # ready, loading or down: 1 for the current state, 0 for the others
MODELS = "llm_requests_running"  # the one gauge every engine table maps, so it lists every served model


def kv_steps(settings: Settings) -> Steps:
    """KV-usage colours: orange at the settings' warning mark, red where the saturation alert counts it full."""
    return ((None, "green"), (settings.kv_cache.warning_ratio, "orange"), (settings.kv_cache.usage_ratio, "red"))


def kv_healthy(settings: Settings) -> str:
    """The healthy KV range panel descriptions quote: below the settings' warning mark."""
    return f"below {settings.kv_cache.warning_ratio:.0%}".replace("%", " %")


def queue_steps(settings: Settings) -> Steps:
    """Waiting-request colours: orange from the first one, red at the queue-pressure alert's threshold."""
    return ((None, "green"), (1, "orange"), (settings.queue.waiting, "red"))


def error_steps(settings: Settings) -> Steps:
    """Error-ratio colours from the availability objective: orange at the budget, red where its slowest page fires."""
    budget = 1 - settings.slo.availability_objective
    pages = [w.factor for w in settings.slo.burn_windows if w.severity == "critical"] or [1.0]
    return ((None, "green"), (round(budget, 10), "orange"), (round(budget * min(pages), 10), "red"))


def engine_variables(settings: Settings, *, one_target: bool = False) -> list[g.Template]:
    """datasource, job (within the rules' engine selector), engine_type, target and instance (one or many), model."""
    return [
        datasource(),
        label("job", "Job", TARGETS, {}, matchers=settings.selectors.engine),
        label("engine_type", "Engine", TARGETS, {"job": "$job"}),
        label("target", "Target", TARGETS, {"job": "$job", "engine_type": "$engine_type"}, multi=not one_target),
        label(
            "instance",
            "Instance",
            TARGETS,
            {"job": "$job", "engine_type": "$engine_type", "target": "$target"},
            multi=not one_target,
        ),
        label("model", "Model", MODELS, TARGET_SCOPE),
    ]


def engine_annotations(settings: Settings) -> list[dict[str, object]]:
    """Marks for model loads, restarts, new replicas, version rollouts and targets down.

    A restart spends minutes loading a model with no engine series, so counter resets and newcomers are looked
    for over the settings' lifecycle window, never over one rate interval.
    """
    window = settings.dashboards.lifecycle_window

    def state(name: str) -> str:
        return f"{aggregate('min', STATE, TARGET_SCOPE, REPLICA, state=name)} == 1"

    resets = f"sum by (target, instance) (resets({selector('llm_prompt_tokens_total', TARGET_SCOPE)}[{window}])) > 0"
    up = selector(TARGETS, TARGET_SCOPE)
    versions = "count by (engine_type, model, version) ({})"
    info = selector("llm_engine_info", ENGINE_SCOPE)
    rollout = f"{versions.format(info)} unless {versions.format(f'{info} offset {window}')}"
    return [
        annotation("Model loading", state("loading"), "blue", "{{target}} loading its model"),
        annotation("Engine restarts", resets, "orange", f"{{{{target}}}} restarted (counters reset within {window})"),
        annotation("New replicas", f"{up} unless {up} offset {window}", "green", "{{target}} appeared"),
        annotation("Rollouts", rollout, "purple", "{{model}}: {{engine_type}} {{version}} rolled out"),
        annotation("Targets down", state("down"), "red", "{{target}} down (not answering, not loading)"),
    ]


def unreported(families: Iterable[str]) -> list[str]:
    """Engine types whose tables map none of the families (so a panel reading only those stays empty on them)."""
    families = set(families)
    return [e for e, table in ENGINES.items() if not any(row.unified in families for row in table.rows)]


def quantiles(
    family: str, scope: Scope, by: Iterable[str] = (), qs: Sequence[float] = (0.5, 0.95, 0.99), **matchers: str
) -> list[Query]:
    """p50/p95/p99 (or the given quantiles) of a schema histogram, one series per value of `by`."""
    by = tuple(by)
    prefix = " ".join(f"{{{{{name}}}}}" for name in by)
    return [Query(quantile(q, family, scope, by, **matchers), f"{prefix} p{round(q * 100)}".strip()) for q in qs]


def recorded_quantiles(
    buckets_name: str, scope: Scope, by: Iterable[str] = (), qs: Sequence[float] = (0.5, 0.95, 0.99)
) -> list[Query]:
    """p50/p95/p99 (or the given quantiles) from a recorded per-model bucket rate, one series per value of `by`."""
    by = tuple(by)
    prefix = " ".join(f"{{{{{name}}}}}" for name in by)
    return [Query(recorded_quantile(q, buckets_name, scope, by), f"{prefix} p{round(q * 100)}".strip()) for q in qs]


def prefix_hit_ratio(scope: Scope, by: Iterable[str] = ()) -> str:
    """Prefix-cache hit ratio of prompt tokens from the hit and lookup counters (never a point-in-time gauge)."""
    return ratio(
        sum_rate("llm_prefix_cache_hits_tokens_total", scope, by),
        sum_rate("llm_prefix_cache_queries_tokens_total", scope, by),
    )


def gpu_memory_used_ratio(scope: Scope, by: Iterable[str] = ()) -> str:
    """Device memory in use over installed, from the used and total gauges."""
    return ratio(
        aggregate("sum", "llm_gpu_memory_used_bytes", scope, by),
        aggregate("sum", "llm_gpu_memory_total_bytes", scope, by),
    )


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: list[g.Template],
    sections: Sequence[Section | Collapsed],
    annotations: Sequence[dict[str, object]] = (),
) -> g.Dashboard:
    """A dashboard with the shared settings, a link bar to its siblings, its annotations and its panels laid out."""
    siblings = g.DashboardLink(
        type="dashboards", tags=[TAG], asDropdown=False, includeVars=True, keepTime=True, title="LLM dashboards"
    )
    return g.Dashboard(
        uid=uid,
        title=title,
        description=description,
        tags=[TAG],
        editable=True,
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        refresh="30s",
        time=g.Time("now-1h", "now"),
        timezone="browser",
        links=[siblings],
        templating=g.Templating(list=variables),
        annotations=g.Annotations(list=list(annotations)),
        panels=layout(sections),
    )
