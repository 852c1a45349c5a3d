"""What one compare run produced, and the wording every renderer shares."""

from __future__ import annotations

import math
from dataclasses import dataclass

from exporter.compare.figures import OUTPUT_TOKENS, Figure, Value
from exporter.compare.sampling import Side

RESOLUTION = (
    "Quantiles are interpolated inside histogram buckets as PromQL's histogram_quantile does; the true value lies "
    "in the bucket shown in brackets, so two engines whose bounds differ can be compared only to a bucket's width; "
    "a ratio marked (buckets overlap) may hide equal values."
)


@dataclass(frozen=True)
class Report:
    """Both sides as watched, every figure, and whether the watch ran its whole duration."""

    before: Side
    after: Side
    figures: list[Figure]
    duration: float
    finished: bool  # False when Ctrl-C cut the watch short

    @property
    def sides(self) -> tuple[Side, Side]:
        """Before, then after."""
        return self.before, self.after

    @property
    def complete(self) -> bool:
        """True if both sides answered for the whole duration."""
        return self.finished and not self.before.error and not self.after.error


def window_seconds(side: Side) -> float:
    """Seconds between a side's first and last readings."""
    return side.readings[-1].at - side.readings[0].at if len(side.readings) >= 2 else 0.0


def headline(side: Side) -> str:
    """One line naming a side: engine, version, model, URL, window, and what went wrong."""
    engine = f"{side.engine_type} {side.version}".strip()
    line = f"{side.role}: {engine} serving {side.model!r} at {side.shown_url}, "
    line += f"{window_seconds(side):.0f} s window ({len(side.readings)} readings)"
    if side.error:
        when = f" after {side.failed_at:.0f} s" if side.failed_at else ""
        line += f"; stopped{when}: {side.error}"
    return line


def throughput_series(side: Side) -> list[tuple[float, float]]:
    """Output tokens per second between consecutive readings, at the later reading's time."""
    points = []
    for earlier, later in zip(side.readings, side.readings[1:], strict=False):
        values = [
            sum(s.value for s in reading.families[OUTPUT_TOKENS].samples) if OUTPUT_TOKENS in reading.families else 0.0
            for reading in (earlier, later)
        ]
        if later.at > earlier.at and values[1] >= values[0]:
            points.append((later.at, (values[1] - values[0]) / (later.at - earlier.at)))
    return points


def shown(value: float, unit: str) -> str:
    """A value in its unit as a person reads it (ms under a second, % for ratios)."""
    if unit == "seconds":
        return f"{value * 1000:.3g} ms" if value < 1 else f"{value:.3g} s"
    if unit == "ratio":
        return f"{value * 100:.3g} %"
    if unit == "USD":
        return f"${value:,.4g}"
    return f"{value:,.4g} {unit}"


def cell(value: Value, unit: str) -> str:
    """A side's cell: the value and, for a quantile, the bucket it lies in; n/a when missing."""
    if value.value is None:
        return "n/a"
    text = shown(value.value, unit)
    if value.bucket is not None:
        lower, upper = value.bucket
        high = "+Inf" if math.isinf(upper) else f"{upper:.3g}"
        text += f" [{lower:.3g}–{high}]"
    return text


def ratio_cell(figure: Figure) -> str:
    """after / before as a multiplier, or empty; marked when the two quantiles' buckets overlap."""
    if figure.ratio is None:
        return ""
    return f"×{figure.ratio:.3g}" + (" (buckets overlap)" if figure.within_resolution else "")
