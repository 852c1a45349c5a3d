"""What the engine tables decide about the rules: which bound each engine's SLI is judged at, which finish reasons
are its failures, and which engines count generated tokens per step. Rule code takes every engine list from here,
so adding an engine table changes the rules without naming it in them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from exporter.engines import ENGINES, engines_counting
from exporter.mixin.promql import alternatives
from exporter.mixin.settings import Settings, SettingsError

# sli -> (histogram, the Slo field holding its bound)
SLI_HISTOGRAMS = {
    "ttft": ("gen_ai_server_time_to_first_token_seconds", "ttft_seconds"),
    "tpot": ("gen_ai_server_time_per_output_token_seconds", "tpot_seconds"),
}


@dataclass(frozen=True)
class Resolution:
    """How one SLI is judged per engine: at the configured bound, at an engine's own bound, or by quantile."""

    sli: str
    histogram: str
    bound: float  # the configured objective (slo.ttft_seconds / slo.tpot_seconds)
    own_bound: dict[str, float]  # engine -> the exact bound of slo.engine_bounds judged where `bound` is missing
    fallback: tuple[str, ...]  # engines reporting the histogram without a usable bound: the p99 check judges them
    not_evaluable: tuple[str, ...]  # engines without the histogram: LLMSLINotEvaluable at run time

    @property
    def special(self) -> tuple[str, ...]:
        """Engines left out of the configured bound's branch."""
        return (*self.own_bound, *self.fallback)


def _reports(engine: str, histogram: str) -> bool:
    return any(row.unified == histogram for row in ENGINES[engine].rows)


def _has(bounds: tuple[float, ...], value: float) -> bool:
    return any(math.isclose(b, value, rel_tol=1e-9) for b in bounds)


def _missing(engine: str, histogram: str) -> str:
    """Why an engine lists no bounds: it does not report the histogram, or its bounds are the user's to choose."""
    return "bounds not declared" if _reports(engine, histogram) else "not reported"


def _spelt(bounds: tuple[float, ...]) -> str:
    return ", ".join(f"{b:g}" for b in bounds)


def resolve(settings: Settings, sli: str) -> Resolution:
    """Resolve an SLI's bound per engine from the tables' bucket bounds; SettingsError names engine, field, bounds."""
    histogram, key = SLI_HISTOGRAMS[sli]
    bound = float(getattr(settings.slo, key))
    own: dict[str, float] = {}
    fallback: list[str] = []
    absent: list[str] = []
    problems: list[str] = []
    for engine, table in ENGINES.items():
        bounds = table.bounds_of(histogram)
        override = settings.slo.engine_bounds.get(engine, {}).get(key)
        if override is not None:
            if not _has(bounds, override):
                problems.append(
                    f"slo.engine_bounds.{engine}.{key}={override:g} is not a bucket bound of {engine}'s "
                    f"{histogram} ({_spelt(bounds) or _missing(engine, histogram)})"
                )
            elif not math.isclose(override, bound):
                own[engine] = override
        elif not _reports(engine, histogram):
            absent.append(engine)
        elif not _has(bounds, bound):
            # Bounds that are not declared (Triton's opt-in histogram takes the user's buckets) cannot be trusted
            # to hold the objective either.
            if settings.slo.quantile_fallback:
                fallback.append(engine)
            else:
                problems.append(
                    f"slo.{key}={bound:g} is not a bucket bound of {engine}'s {histogram} "
                    f"({_spelt(bounds) or _missing(engine, histogram)}): set slo.engine_bounds.{engine}.{key} "
                    "to one of them or slo.quantile_fallback: true"
                )
    if problems:
        raise SettingsError("\n".join(problems))
    return Resolution(sli, histogram, bound, own, tuple(fallback), tuple(absent))


def failure_reasons(settings: Settings) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Finish reasons counted as errors -> the engines counting them; the settings' set (all other engines) first."""
    default = tuple(settings.slo.error_finish_reasons)
    groups: dict[tuple[str, ...], list[str]] = {default: []}
    for engine, table in ENGINES.items():
        override = settings.slo.engine_failure_reasons.get(engine)
        reasons = tuple(override) if override else tuple(dict.fromkeys((*default, *table.failure_reasons)))
        if reasons != default:
            groups.setdefault(reasons, []).append(engine)
    return {reasons: tuple(engines) for reasons, engines in groups.items()}


def per_step_token_engines() -> str:
    """Regex of the engines whose generated-token counter moves every scheduler step."""
    # Every other engine, one without a declaration included, is judged as counting at completion: its stall
    # rule is the one that pages less.
    return alternatives(sorted(engines_counting("llm_generation_tokens_total", "per_step")))


def engine_matcher(engines: tuple[str, ...], *, negate: bool = False) -> str:
    """`engine_type=~"a|b"` (or `!~`); negating no engines matches every engine, so it adds no matcher."""
    if not engines:
        if negate:
            return ""
        raise ValueError("a positive engine_type matcher needs at least one engine")
    return f'engine_type{"!~" if negate else "=~"}"{alternatives(engines)}"'
