"""PromQL's histogram_quantile over cumulative buckets, with the bucket the quantile fell in."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Buckets = Sequence[tuple[float, float]]  # (upper bound, cumulative count), ascending, ending at +Inf


@dataclass(frozen=True)
class Estimate:
    """A quantile and the bucket it was interpolated in: the true value lies somewhere in (lower, upper]."""

    value: float
    lower: float
    upper: float


def histogram_quantile(q: float, buckets: Buckets) -> Estimate | None:
    """The q-quantile as Prometheus computes it: linear interpolation inside the bucket the rank falls in.

    None without observations or without a +Inf bucket; the highest finite bound when the rank falls in +Inf.
    Counts are made monotonic first, as Prometheus does for buckets read at slightly different moments.
    """
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]):
        return None
    counts = _monotonic([count for _, count in buckets])
    if counts[-1] == 0:
        return None
    rank = q * counts[-1]
    index = next(i for i, count in enumerate(counts) if count >= rank or i == len(counts) - 1)
    upper = buckets[index][0]
    lower, below = (buckets[index - 1][0], counts[index - 1]) if index else (0.0, 0.0)
    if index == len(buckets) - 1:
        return Estimate(lower, lower, upper)
    if index == 0 and upper <= 0:
        return Estimate(upper, upper, upper)
    return Estimate(lower + (upper - lower) * (rank - below) / (counts[index] - below), lower, upper)


def _monotonic(counts: list[float]) -> list[float]:
    out: list[float] = []
    for count in counts:
        out.append(max(count, out[-1]) if out else count)
    return out
