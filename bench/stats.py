"""Summaries of repeated measurements, and the result table every bench figure ends up in."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Spread:
    """Median of repeated measurements with their interquartile range, in one unit."""

    median: float
    p25: float
    p75: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of a list of measurements."""
        return cls(statistics.median(values), percentile(values, 25), percentile(values, 75), len(values))

    def show(self, unit: str, scale: float = 1.0, digits: int = 2) -> str:
        """E.g. "4.71 ms [4.52-4.90] n=200"."""
        return (
            f"{self.median * scale:.{digits}f} {unit} [{self.p25 * scale:.{digits}f}-{self.p75 * scale:.{digits}f}]"
            f" n={self.count}"
        )


@dataclass(frozen=True)
class Row:
    """One line of the result table: a figure next to the baseline it is measured against."""

    figure: str  # what is measured, with its value
    baseline: str  # what it is compared with, with its value
    ratio: float | None  # figure ÷ baseline (None where the target is absolute and no baseline exists)
    target: str
    passed: bool | None  # None: informational, no target

    def cells(self) -> list[str]:
        """The row as printed."""
        verdict = {True: "PASS", False: "FAIL", None: "info"}[self.passed]
        return [self.figure, self.baseline, "-" if self.ratio is None else f"{self.ratio:.3f}", self.target, verdict]


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (readable in a terminal and pasteable into an issue)."""
    header = ["figure", "baseline", "ratio", "target", "result"]
    lines = [header, *[row.cells() for row in rows]]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    out = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |" for line in lines
    ]
    out.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(out)
