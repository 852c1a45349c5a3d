"""The Migration dashboard: a validation report of side A against side B over the time range, then both over time.

Built for moves such as TGI -> vLLM or SGLang, and for A/B tests of one engine (a version, a config, a pod
pattern): both sides are read through the same schema, so a figure compares like with like. The report's tables
are computed over `$__range` from counter and bucket increases (`sides`); where one side lacks a metric (TGI has
no TTFT or ITL) its cell says so. The time-series panels below compare the two engine types over time from the
per-model recording rules, which keep engine_type and model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from grafanalib import core as g

from exporter import checklist
from exporter.checklist import ERROR_KINDS, LATENCIES, LENGTHS, QUANTILES
from exporter.mixin.dashboards import sides
from exporter.mixin.dashboards.common import MIGRATION_UID, MODELS, TARGETS, dashboard, recorded_quantiles
from exporter.mixin.dashboards.panels import Query, heatmap, matrix, stat, timeseries
from exporter.mixin.dashboards.queries import RATE, ratio, selector, sum_rate, sum_recorded
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


RESOLUTION = (
    "Quantiles are interpolated inside histogram buckets (histogram_quantile over the range's bucket increases): "
    "the true value lies somewhere in its bucket, and engines bucket differently (vLLM's TPOT steps 0.01, 0.025, "
    "0.05, 0.075, 0.1 s; TGI's grow 1.5x per bucket), so a difference smaller than a bucket is not a difference. "
)
# What to read where an engine reports no such family (TGI: no TTFT, no ITL), as compare says it.
MISSING = "A cell reading n/a is a figure the side's engine does not report (TGI: no TTFT, no ITL). " + "".join(
    f"No {label}: {checklist.INSTEAD[family]}. " for _, label, family in LATENCIES if family in checklist.INSTEAD
)
REUSE_STEPS = ((None, "orange"), (0.2, "yellow"), (0.7, "green"))
REUSE_HEALTHY = "Healthy: steady, in the band that suits the engine chosen."
REUSE = (
    "Prompt tokens served from the prefix cache over prompt tokens looked up. The guide's bands: above 70 % "
    "SGLang's radix cache pays off; below 20 % vLLM serves the traffic as well; in between, measure both. TGI has "
    "no prefix cache, so a workload's reuse shows only once a vLLM or SGLang side serves it. "
)


def _cells(rows: Sequence[tuple[str, Callable[[str], str]]]) -> list[tuple[str, str, str]]:
    return [(name, side, expr(side)) for name, expr in rows for side in sides.SIDES]


def _quantile_rows(families: Sequence[tuple[str, str, str]]) -> list[tuple[str, Callable[[str], str]]]:
    return [
        (checklist.quantile_label(name, q), partial(sides.quantile, q, family))
        for _, name, family in families
        for q in QUANTILES
    ]


def _report() -> list[g.Panel]:
    over = "over the time range, side A against side B, with B/A. "
    return [
        matrix(
            "Token latency",
            f"TTFT, ITL and TPOT at p50, p95 and p99 {over}Healthy: B/A at or below 1. {MISSING}{RESOLUTION}",
            "s",
            _cells(_quantile_rows(LATENCIES[:3])),
            width=12,
            height=10,
        ),
        matrix(
            "Request latency and queue time",
            f"End-to-end latency and queue time at p50, p95 and p99 {over}Healthy: B/A at or below 1 for the same "
            f"traffic mix (see Traffic mix). {RESOLUTION}",
            "s",
            _cells(_quantile_rows(LATENCIES[3:])),
            width=12,
            height=10,
        ),
        matrix(
            "Errors and prefix reuse",
            f"Finished requests by failure kind over all finished requests, and the prefix-cache hit ratio, {over}"
            "Kinds are not alike across engines: TGI counts the client's invalid requests as rejected, SGLang "
            "reports aborts only, vLLM engine-side errors only; n/a is a kind the engine never reported. "
            "Healthy: error ratios B/A at or below 1. " + REUSE,
            "percentunit",
            _cells(
                [
                    (f"Error ratio: {label}", lambda side, kind=kind: sides.error_ratio(kind, side))
                    for kind, label in ERROR_KINDS
                ]
                + [(checklist.PREFIX_HIT_RATIO, _prefix_ratio)]
            ),  # fmt: skip
            width=8,
        ),
        matrix(
            "Throughput",
            f"Output and total (prompt + output) tokens per second and finished requests per second {over}"
            "TGI and SGLang count tokens when a request finishes, vLLM at every step: keep the range well above "
            "one request's duration. Healthy: B/A at or above 1 at the same load.",
            "short",
            _cells(
                [
                    (
                        checklist.OUTPUT_TOKENS_PER_SECOND,
                        lambda side: sides.per_second(side, "llm_generation_tokens_total"),
                    ),
                    (
                        checklist.TOTAL_TOKENS_PER_SECOND,
                        lambda side: sides.per_second(side, "llm_prompt_tokens_total", "llm_generation_tokens_total"),
                    ),
                    (checklist.REQUESTS_PER_SECOND, lambda side: sides.per_second(side, sides.FINISHED)),
                ]
            ),  # fmt: skip
            width=8,
        ),
        matrix(
            "GPU, energy and cost",
            f"GPU SM-active ratio (0-1), output tokens per joule, and USD per 1M output tokens {over}Cost = price "
            "per replica-hour (the variables above) × the side's replica-hours in the range / (output tokens in "
            "the range / 1e6); a canary at a small traffic share looks dearer whatever its engine. GPU cells need "
            "the exporter's GPU collector (a sidecar on the GPU node). Healthy: cost B/A below 1, tokens per joule "
            "B/A above 1.",
            "none",
            _cells(
                [
                    (checklist.GPU_SM_ACTIVE, sides.gpu_sm_active),
                    (checklist.TOKENS_PER_JOULE, sides.tokens_per_joule),
                    (checklist.COST, sides.cost),
                ]
            ),  # fmt: skip
            width=8,
        ),
    ]


def _prefix_ratio(side: str) -> str:
    hits, queries = (sides.total(f"llm_prefix_cache_{kind}_tokens_total", side) for kind in ("hits", "queries"))
    return ratio(hits, queries)


def _traffic_mix() -> list[g.Panel]:
    rows = [
        (f"{name} {stat_name}", expr)
        for _, name, family in LENGTHS
        for stat_name, expr in (
            ("mean", partial(sides.mean, family)),
            ("p50", partial(sides.quantile, 0.5, family)),
            ("p95", partial(sides.quantile, 0.95, family)),
        )
    ]
    panels: list[g.Panel] = [
        matrix(
            "Traffic mix over the range",
            "Prompt and output lengths (tokens per request) of each side over the time range. A comparison is fair "
            "only when both sides serve the same mix. Healthy: B/A near 1.",
            "short",
            _cells(rows),
            width=8,
        )
    ]
    for _, name, family in LENGTHS:
        for side in sides.SIDES:
            buckets = f"sum by (le) ({sides.increase(f'{family}_bucket', side, RATE, 'rate')})"
            text = f"{name} per request on side {side}, over time. Healthy: alike on both sides."
            panels.append(heatmap(f"{name}: {side}", text, "short", buckets, width=4))
    return panels


def _reuse_and_queue() -> list[g.Panel]:
    def reuse(side: str) -> str:
        hits, queries = (
            f"sum({sides.increase(f'llm_prefix_cache_{kind}_tokens_total', side, RATE, 'rate')})"
            for kind in ("hits", "queries")
        )
        return ratio(hits, queries)

    def queue(side: str) -> list[Query]:
        family = "llm_request_queue_time_seconds_bucket"
        buckets = f"sum by (le) ({sides.increase(family, side, RATE, 'rate')})"
        return [Query(f"histogram_quantile({q}, {buckets})", f"{side} p{round(q * 100)}") for q in (0.5, 0.95)]

    return [
        timeseries("Prefix-cache hit ratio", f"{REUSE}Dashed lines: the 20 % and 70 % bands. {REUSE_HEALTHY}",
                   "percentunit",
                   [Query(reuse(side), side) for side in sides.SIDES], ratio=True, steps=REUSE_STEPS),
        timeseries("Queue time", "Queue time p50 and p95 of each side. Healthy: near 0 on both; a side that queues "
                   "at the same load has less capacity.", "s", [q for side in sides.SIDES for q in queue(side)]),
    ]  # fmt: skip


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
        label("model", "Model", MODELS, {"job": "$job"}),
        *sides.variables(TARGETS),
        textbox("price_a", "A: $ per replica-hour", "2.00"),
        textbox("price_b", "B: $ per replica-hour", "2.00"),
    ]
    return dashboard(
        MIGRATION_UID,
        "LLM / Migration",
        "Side A against side B (by engine type, target or version): a validation report over the time range, "
        "then latency, throughput, GPU use and cost over time.",
        variables,
        [
            ("Validation report over the time range", _report()),
            ("Traffic mix", _traffic_mix()),
            ("Prefix reuse and queue time", _reuse_and_queue()),
            ("Latency by engine type", _latency(settings)),
            ("Throughput and load by engine type", _throughput(settings)),
            ("Cost by engine type", _cost()),
        ],
    )
