"""A side's window: exact counter and bucket increases between its first and last readings."""

from __future__ import annotations

from collections import defaultdict

from exporter.compare.quantile import Buckets
from exporter.compare.sampling import Reading


class CounterResetError(ValueError):
    """A counter went down inside the window: the engine restarted, so the window's increase is unknown."""


class Window:
    """Increases between two readings of one engine; a family absent from the first reading counts from zero.

    Engines create some series on first use (SGLang's histograms appear with its first request), so absent at
    the start means nothing had been counted yet.
    """

    def __init__(self, first: Reading, last: Reading):
        self.first = first
        self.last = last
        self.seconds = last.at - first.at

    def has(self, family: str) -> bool:
        """True if the engine reported the family by the end of the window."""
        return family in self.last.families

    def increase(self, family: str, **match: str) -> float:
        """A counter's increase over the window, summed over the series carrying the `match` labels."""
        return _positive(_sum(self.last, family, family, match) - _sum(self.first, family, family, match), family)

    def label_values(self, family: str, label: str) -> set[str]:
        """The values a label takes on the family's series at the end of the window."""
        found = self.last.families.get(family)
        return {s.labels[label] for s in found.samples if label in s.labels} if found else set()

    def buckets(self, family: str) -> Buckets:
        """A histogram's cumulative bucket increases over the window, all its series summed, by ascending bound."""
        before, after = _by_bound(self.first, family), _by_bound(self.last, family)
        return [(bound, _positive(count - before.get(bound, 0.0), family)) for bound, count in sorted(after.items())]

    def sum_and_count(self, family: str) -> tuple[float, float]:
        """A histogram's increases of _sum and _count over the window."""
        total = _sum(self.last, family, f"{family}_sum", {}) - _sum(self.first, family, f"{family}_sum", {})
        count = _sum(self.last, family, f"{family}_count", {}) - _sum(self.first, family, f"{family}_count", {})
        return total, _positive(count, family)


def _sum(reading: Reading, family: str, sample_name: str, match: dict[str, str]) -> float:
    found = reading.families.get(family)
    if found is None:
        return 0.0
    return sum(
        s.value
        for s in found.samples
        if s.name == sample_name and all(s.labels.get(key) == value for key, value in match.items())
    )


def _by_bound(reading: Reading, family: str) -> dict[float, float]:
    counts: dict[float, float] = defaultdict(float)
    found = reading.families.get(family)
    for sample in found.samples if found else ():
        if sample.name == f"{family}_bucket":
            counts[float(sample.labels["le"])] += sample.value
    return counts


def _positive(increase: float, family: str) -> float:
    if increase < 0:
        raise CounterResetError(f"{family} went down in the window: the engine restarted, so its increase is unknown")
    return increase
