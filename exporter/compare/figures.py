"""The comparison: each figure of the migration checklist on both sides, their ratio, and why one is missing."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from exporter.checklist import (
    COST,
    ERROR_KINDS,
    GPU_SM_ACTIVE,
    INSTEAD,
    LATENCIES,
    LENGTHS,
    OUTPUT_TOKENS_PER_SECOND,
    PREFIX_HIT_RATIO,
    QUANTILES,
    REQUESTS_PER_SECOND,
    TOKENS_PER_JOULE,
    TOTAL_TOKENS_PER_SECOND,
    band,
    quantile_label,
)
from exporter.compare.quantile import histogram_quantile
from exporter.compare.sampling import Side
from exporter.compare.window import CounterResetError, Window

FINISHED = "llm_requests_finished_total"
PROMPT_TOKENS = "llm_prompt_tokens_total"
OUTPUT_TOKENS = "llm_generation_tokens_total"
PREFIX_HITS = "llm_prefix_cache_hits_tokens_total"
PREFIX_QUERIES = "llm_prefix_cache_queries_tokens_total"

SM_ACTIVE = "llm_gpu_sm_active_ratio"
ENERGY = "llm_gpu_energy_joules_total"
GPU_REASON = (
    "an engine's /metrics has no GPU figures: pass --gpu-{role} the URL of the llm-exporter next to it (its NVML "
    "collector), or read them on the Migration dashboard"
)


@dataclass(frozen=True)
class Value:
    """One side's figure: its value, or None and why; a reason beside a value is a caveat."""

    value: float | None
    reason: str = ""
    bucket: tuple[float, float] | None = None  # the quantile's bucket: its resolution


@dataclass(frozen=True)
class Figure:
    """One row of the comparison."""

    key: str
    label: str
    unit: str  # seconds | ratio | tokens | tokens/s | requests/s | USD
    before: Value
    after: Value

    @property
    def ratio(self) -> float | None:
        """after / before, None when either is missing or before is zero."""
        if self.before.value is None or self.after.value is None or self.before.value == 0:
            return None
        return self.after.value / self.before.value

    @property
    def within_resolution(self) -> bool:
        """True if both sides' quantile buckets overlap: the values may be equal, whatever their ratio says."""
        if self.before.bucket is None or self.after.bucket is None:
            return False
        return max(self.before.bucket[0], self.after.bucket[0]) < min(self.before.bucket[1], self.after.bucket[1])


class Measured:
    """One side's window and what each figure needs from it, with the reason a figure cannot be had."""

    def __init__(self, side: Side, price: float | None):
        self.side = side
        self.price = price
        self.window = Window(side.readings[0], side.readings[-1]) if len(side.readings) >= 2 else None

    def missing(self, family: str) -> str:
        """Why the family cannot give a figure on this side; empty when it can."""
        side, engine = self.side, self.side.engine
        if self.window is None:
            return side.error or "one reading only: a window needs two"
        if engine is None or not any(row.unified == family for row in engine.rows):
            instead = INSTEAD.get(family)
            return f"{side.engine_type} does not report {family}" + (f"; {instead}" if instead else "")
        if not self.window.has(family):
            return f"{family} is not in this {side.engine_type} build's /metrics"
        return ""

    def counted_at_completion(self, family: str) -> bool:
        """True if the engine moves this counter only when a request finishes (lumpy over a short window)."""
        engine = self.side.engine
        return engine is not None and any(r.unified == family and r.counted == "per_completion" for r in engine.rows)


Compute = Callable[[Measured], Value]


def _reading(
    families: tuple[str, ...], compute: Callable[[Measured, Window], Value], gpu: tuple[str, ...] = ()
) -> Compute:
    """`compute(side, window)` where every family (engine's, then `gpu`) can give a figure; else why it cannot."""

    def run(side: Measured) -> Value:
        for why in (*(side.missing(f) for f in families), *(_gpu_missing(side, f) for f in gpu)):
            if why:
                return Value(None, why)
        assert side.window is not None
        try:
            return compute(side, side.window)
        except CounterResetError as reset:
            return Value(None, str(reset))

    return run


def quantile(family: str, q: float) -> Compute:
    """The q-quantile of a histogram's increase over the window, with the bucket it fell in."""

    def compute(_: Measured, window: Window) -> Value:
        estimate = histogram_quantile(q, window.buckets(family))
        if estimate is None:
            return Value(None, "no observation in the window")
        above = "above the highest bucket bound: the value is that bound" if math.isinf(estimate.upper) else ""
        return Value(estimate.value, above, (estimate.lower, estimate.upper))

    return _reading((family,), compute)


def mean(family: str) -> Compute:
    """A histogram's mean observation over the window (increase of _sum over increase of _count)."""

    def compute(_: Measured, window: Window) -> Value:
        total, count = window.sum_and_count(family)
        return Value(total / count) if count else Value(None, "no observation in the window")

    return _reading((family,), compute)


def error_ratio(kind: str) -> Compute:
    """Finished requests of one failure kind over all finished requests in the window."""

    def compute(side: Measured, window: Window) -> Value:
        total = window.increase(FINISHED)
        if kind not in window.label_values(FINISHED, "finish_reason"):
            return _unreported_kind(side, kind, total)
        if not total:
            return Value(None, "no request finished in the window")
        return Value(window.increase(FINISHED, finish_reason=kind) / total)

    return _reading((FINISHED,), compute)


def _unreported_kind(side: Measured, kind: str, total: float) -> Value:
    """No series of this failure kind: none happened yet (the engine creates it with the first) or never can."""
    engine, name = side.side.engine, side.side.engine_type
    rows = engine.rows if engine is not None else ()
    if any(r.unified == FINISHED and ("finish_reason", kind) in r.labels for r in rows):
        if not total:
            return Value(None, "no request finished in the window")
        return Value(0.0, f"none seen: {name} creates the series with its first such request")
    aborts = kind == "error" and engine is not None and "abort" in engine.failure_reasons
    return Value(None, f"{name} reports no finish_reason={kind!r}" + ("; aborts are its failures" if aborts else ""))


def per_second(*families: str) -> Compute:
    """The summed increase of counters over the window's seconds."""

    def compute(side: Measured, window: Window) -> Value:
        if window.seconds <= 0:
            return Value(None, "the window is empty")
        lumpy = any(side.counted_at_completion(family) for family in families)
        caveat = f"{side.side.engine_type} counts tokens when a request finishes" if lumpy else ""
        return Value(sum(window.increase(family) for family in families) / window.seconds, caveat)

    return _reading(families, compute)


def _prefix_hit_ratio(_: Measured, window: Window) -> Value:
    queries = window.increase(PREFIX_QUERIES)
    if not queries:
        return Value(None, "no prompt token was looked up in the window")
    ratio = window.increase(PREFIX_HITS) / queries
    return Value(ratio, band(ratio))


# Prompt tokens served from the prefix cache over prompt tokens looked up, with the guide's band.
prefix_hit_ratio = _reading((PREFIX_HITS, PREFIX_QUERIES), _prefix_hit_ratio)


def cost(side: Measured) -> Value:
    """USD per 1M output tokens: (price per replica-hour / 3600) / (output tokens per second / 1e6)."""
    if side.price is None:
        return Value(None, f"no --price-{side.side.role} given (USD per replica-hour)")
    tokens = per_second(OUTPUT_TOKENS)(side)
    if tokens.value is None:
        return Value(None, tokens.reason)
    if tokens.value == 0:
        return Value(None, "no output token in the window")
    return Value((side.price / 3600) / (tokens.value / 1e6), "at the load of the window, one replica")


def _gpu_missing(side: Measured, family: str) -> str:
    """Why the GPU family cannot give a figure on this side; empty when it can."""
    if not side.side.gpu_url:
        return GPU_REASON.format(role=side.side.role)
    if side.window is None:
        return side.side.error or "one reading only: a window needs two"
    if not side.window.has(family):
        return side.side.gpu_error or f"{family} is not in {side.side.gpu_url} (GPM SM activity needs Hopper or later)"
    return ""


def gpu_sm_active(side: Measured) -> Value:
    """The mean SM-active ratio of the node's GPUs over the window's readings."""
    if why := _gpu_missing(side, SM_ACTIVE):
        return Value(None, why)
    means = [
        sum(s.value for s in family.samples) / len(family.samples)
        for reading in side.side.readings
        if (family := reading.families.get(SM_ACTIVE)) is not None and family.samples
    ]
    return Value(sum(means) / len(means), "all GPUs of the node, averaged over the window's readings")


def _tokens_per_joule(_: Measured, window: Window) -> Value:
    joules = window.increase(ENERGY)
    if not joules:
        return Value(None, "the GPUs drew no energy in the window (a counter that does not move)")
    return Value(window.increase(OUTPUT_TOKENS) / joules, "all GPUs of the node count, so share them with nothing")


# Output tokens over the energy the node's GPUs drew in the window.
tokens_per_joule = _reading((OUTPUT_TOKENS,), _tokens_per_joule, gpu=(ENERGY,))


def _rows() -> list[tuple[str, str, str, Compute]]:
    rows = [
        (f"{key}_p{round(q * 100)}", quantile_label(label, q), "seconds", quantile(family, q))
        for key, label, family in LATENCIES
        for q in QUANTILES
    ]
    rows += [
        (f"error_ratio_{kind}", f"Error ratio: {label}", "ratio", error_ratio(kind)) for kind, label in ERROR_KINDS
    ]
    rows += [
        ("requests_per_second", REQUESTS_PER_SECOND, "requests/s", per_second(FINISHED)),
        ("output_tokens_per_second", OUTPUT_TOKENS_PER_SECOND, "tokens/s", per_second(OUTPUT_TOKENS)),
        ("total_tokens_per_second", TOTAL_TOKENS_PER_SECOND, "tokens/s", per_second(PROMPT_TOKENS, OUTPUT_TOKENS)),
        ("prefix_cache_hit_ratio", PREFIX_HIT_RATIO, "ratio", prefix_hit_ratio),
    ]
    for key, label, family in LENGTHS:
        rows += [
            (f"{key}_length_mean", f"{label} mean", "tokens", mean(family)),
            (f"{key}_length_p50", f"{label} p50", "tokens", quantile(family, 0.5)),
            (f"{key}_length_p95", f"{label} p95", "tokens", quantile(family, 0.95)),
        ]
    rows += [
        ("gpu_sm_active", GPU_SM_ACTIVE, "ratio", gpu_sm_active),
        ("tokens_per_joule", TOKENS_PER_JOULE, "tokens/J", tokens_per_joule),
        ("cost_per_million_output_tokens", COST, "USD", cost),
    ]
    return rows


def compare(before: Side, after: Side, prices: tuple[float | None, float | None]) -> list[Figure]:
    """Every figure on both sides."""
    sides = Measured(before, prices[0]), Measured(after, prices[1])
    return [Figure(key, label, unit, compute(sides[0]), compute(sides[1])) for key, label, unit, compute in _rows()]
