"""The Migration dashboard: two engine types side by side on the same panels, and their cost per 1M tokens.

Built for moves such as TGI -> vLLM or SGLang: both sides are read through the same schema, so a panel
compares like with like. Where one side lacks a metric (TGI has no TTFT or ITL) its series is simply absent.
Latency, request and queue panels read the per-model recording rules, which keep engine_type and model.
"""

from __future__ import annotations

from collections.abc import Callable

from grafanalib import core as g

from exporter.mixin.dashboards.common import MIGRATION_UID, MODELS, TARGETS, dashboard, recorded_quantiles
from exporter.mixin.dashboards.panels import Query, stat, timeseries
from exporter.mixin.dashboards.queries import selector, sum_rate, sum_recorded
from exporter.mixin.dashboards.variables import datasource, label, textbox
from exporter.mixin.rules.recording import Recorded
from exporter.mixin.settings import Settings

SIDES = {"A": "$engine_a", "B": "$engine_b"}
PRICES = {"A": "$price_a", "B": "$price_b"}


def scope(side: str) -> dict[str, str]:
    """The selector scope of one side: its engine type, plus the shared job and model."""
    return {"job": "$job", "engine_type": SIDES[side], "model": "$model"}


def model_scope(side: str) -> dict[str, str]:
    """The scope of one side on a model-level recording, which keeps no job label."""
    return {"engine_type": SIDES[side], "model": "$model"}


def replicas(side: str) -> str:
    """Replicas of one side serving the selected models whose last poll succeeded.

    The model comes from the engine's info series: the poll series carry none, and counting every replica of
    the engine type would split one model's throughput and cost over another model's replicas.
    """
    up = selector(TARGETS, {"job": "$job", "engine_type": SIDES[side]})
    return f"count(({up} == 1) and on (job, instance, target) {selector('llm_engine_info', scope(side))})"


def cost_per_million_tokens(side: str) -> str:
    """(price per replica-hour × replicas / 3600) / (output tokens per second / 1e6): dollars per 1M output tokens."""
    per_second = sum_rate("llm_generation_tokens_total", scope(side))
    return f"({PRICES[side]} * {replicas(side)} / 3600) / (({per_second} / 1e6) > 0)"


def gpu_utilization(side: str) -> str:
    """Mean utilization of the GPUs polled by the same exporters as the side's engines (sidecar deployment)."""
    gpus = selector("llm_gpu_utilization_ratio", {"job": "$job"})
    engines = selector("llm_engine_info", scope(side))
    return f"avg({gpus} and on (job, instance) {engines})"


def both(settings: Settings, family: str) -> list[Query]:
    """p50 and p95 of a histogram for side A, then side B, labelled by engine type, from its recorded buckets."""
    buckets = Recorded(settings).buckets(family)
    return [q for side in SIDES for q in recorded_quantiles(buckets, model_scope(side), ("engine_type",), (0.5, 0.95))]


def per_side(expr: Callable[[str], str]) -> list[Query]:
    """One query per side, `expr(side)`, labelled with the side and its engine type."""
    return [Query(expr(side), f"{side}: {var}") for side, var in SIDES.items()]


def _latency(settings: Settings) -> list[g.Panel]:
    return [
        timeseries(
            "Time to first token",
            "TTFT p50 and p95 of both engines. Healthy: the new engine at or below "
            "the old one at the same load. TGI does not report TTFT, so its side stays empty.",
            "s",
            both(settings, "gen_ai_server_time_to_first_token_seconds"),
        ),
        timeseries(
            "Inter-token latency",
            "ITL p50 and p95 of both engines. Healthy: the new engine at or below "
            "the old one. TGI has no per-token histogram: compare TPOT instead.",
            "s",
            both(settings, "llm_inter_token_latency_seconds"),
        ),
        timeseries(
            "Time per output token",
            "Per-request TPOT p50 and p95 of both engines; every engine reports "
            "it, so this is the like-for-like decode comparison. Healthy: the new engine at or below.",
            "s",
            both(settings, "gen_ai_server_time_per_output_token_seconds"),
        ),
        timeseries(
            "End-to-end latency",
            "Request latency p50 and p95 of both engines. Healthy: the new engine "
            "at or below the old one for the same traffic mix.",
            "s",
            both(settings, "gen_ai_server_request_duration_seconds"),
        ),
    ]


def _throughput(settings: Settings) -> list[g.Panel]:
    rec = Recorded(settings)
    return [
        timeseries(
            "Output tokens / s per replica",
            "Output tokens per second divided by healthy replicas. "
            "Healthy: the new engine higher at equal or better latency.",
            "count:tok/s",
            per_side(lambda side: f"{sum_rate('llm_generation_tokens_total', scope(side))} / {replicas(side)}"),
            width=8,
        ),
        timeseries(
            "Requests / s",
            "Requests finished per second on each side. Healthy: the traffic split you "
            "configured (canary share on the new side).",
            "reqps",
            per_side(lambda side: sum_recorded(rec.finished, model_scope(side))),
            width=8,
        ),
        timeseries(
            "GPU utilization",
            "Mean utilization of the GPUs next to each side's engines. Healthy: the new "
            "engine doing more tokens per second at the same or lower utilization.",
            "percentunit",
            per_side(gpu_utilization),
            width=8,
            ratio=True,
        ),
        timeseries(
            "Requests waiting",
            "Queued requests on each side. Healthy: near 0 on both.",
            "short",
            per_side(lambda side: sum_recorded(rec.summed("llm_requests_waiting"), model_scope(side))),
            width=8,
        ),
    ]


def _cost() -> list[g.Panel]:
    note = (
        "Dollars per million output tokens: (price per replica-hour × healthy replicas / 3600) / (output "
        "tokens per second / 1e6); set the prices in the variables above. "
    )
    return [
        stat(
            "Cost per 1M output tokens: A",
            note + "Healthy: lower than before the move.",
            "currencyUSD",
            Query(cost_per_million_tokens("A"), "$engine_a"),
            width=6,
            no_value="no traffic",
        ),
        stat(
            "Cost per 1M output tokens: B",
            note + "Healthy: lower than side A.",
            "currencyUSD",
            Query(cost_per_million_tokens("B"), "$engine_b"),
            width=6,
            no_value="no traffic",
        ),
        timeseries(
            "Cost per 1M output tokens",
            note + "Healthy: side B below side A at the same latency.",
            "currencyUSD",
            per_side(cost_per_million_tokens),
        ),
    ]


def build(settings: Settings) -> g.Dashboard:
    """The Migration dashboard."""
    variables = [
        datasource(),
        label("job", "Job", TARGETS, {}, matchers=settings.selectors.engine),
        label("engine_a", "Engine A (from)", TARGETS, {"job": "$job"}, multi=False, label_name="engine_type"),
        label("engine_b", "Engine B (to)", TARGETS, {"job": "$job"}, multi=False, label_name="engine_type"),
        label("model", "Model", MODELS, {"job": "$job"}),
        textbox("price_a", "A: $ per replica-hour", "2.00"),
        textbox("price_b", "B: $ per replica-hour", "2.00"),
    ]
    return dashboard(
        MIGRATION_UID,
        "LLM / Migration",
        "Two engine types on the same panels (latency, throughput, GPU use) and their cost per 1M output tokens.",
        variables,
        [("Latency", _latency(settings)), ("Throughput and load", _throughput(settings)), ("Cost", _cost())],
    )
