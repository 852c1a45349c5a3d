"""Dashboard queries: selectors scoped by dashboard variables, rates, quantiles and guarded ratios.

They are built on the mixin's one selector builder; every selector is checked against exporter/schema.py when
it is built, and the finished JSON is checked again through `promql.check_names`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from exporter.mixin import promql

RATE = "$__rate_interval"
RANGE = "$__range"

# label -> variable (or regex) every selector of a dashboard carries, always matched with =~.
Scope = Mapping[str, str]


def selector(sample: str, scope: Scope, **matchers: str) -> str:
    """`sample{label=~"value",…}` for the scope plus extra regex matchers; the sample must be in the schema."""
    return promql.selector(promql.sample(sample), *promql.regex_matchers({**scope, **matchers}))


def _aggregated(op: str, by: Iterable[str], inner: str) -> str:
    labels = ", ".join(by)
    return f"{op} by ({labels}) ({inner})" if labels else f"{op}({inner})"


def rate(sample: str, scope: Scope, window: str = RATE, **matchers: str) -> str:
    """Per-second rate of a counter sample over the window."""
    return f"rate({selector(sample, scope, **matchers)}[{window}])"


def sum_rate(sample: str, scope: Scope, by: Iterable[str] = (), **matchers: str) -> str:
    """Sum (optionally by labels) of a counter's per-second rate."""
    return _aggregated("sum", by, rate(sample, scope, **matchers))


def sum_increase(sample: str, scope: Scope, by: Iterable[str] = (), window: str = RANGE, **matchers: str) -> str:
    """Sum (optionally by labels) of a counter's increase over the window (the dashboard range by default)."""
    return _aggregated("sum", by, f"increase({selector(sample, scope, **matchers)}[{window}])")


def aggregate(op: str, sample: str, scope: Scope, by: Iterable[str] = (), **matchers: str) -> str:
    """`op by (labels) (gauge)` for sum/max/avg/min/count."""
    return _aggregated(op, by, selector(sample, scope, **matchers))


def max_recorded(name: str, scope: Scope, by: Iterable[str] = ()) -> str:
    """Max (optionally by labels) of a recorded per-model series: the worst model."""
    return _aggregated("max", by, recorded(name, scope))


def ratio(numerator: str, denominator: str) -> str:
    """numerator / denominator, empty (not NaN or Inf) where the denominator is zero."""
    return f"({numerator}) / (({denominator}) > 0)"


def quantile(q: float, family: str, scope: Scope, by: Iterable[str] = (), **matchers: str) -> str:
    """Quantile q of a schema histogram, from rates summed by le (plus the labels kept)."""
    buckets = sum_rate(f"{family}_bucket", scope, by=("le", *by), **matchers)
    return f"histogram_quantile({q}, {buckets})"


def mean(family: str, scope: Scope, by: Iterable[str] = (), **matchers: str) -> str:
    """Exact mean of a schema histogram over the rate window: rate of _sum over rate of _count."""
    return ratio(sum_rate(f"{family}_sum", scope, by, **matchers), sum_rate(f"{family}_count", scope, by, **matchers))


def buckets(family: str, scope: Scope, **matchers: str) -> str:
    """Per-bucket rates summed by le: the query behind a heatmap."""
    return sum_rate(f"{family}_bucket", scope, by=("le",), **matchers)


def recorded(name: str, scope: Scope, **matchers: str) -> str:
    """A selector of a recorded series (from `rules.recording.Recorded`), scoped by the labels it keeps."""
    return promql.selector(name, *promql.regex_matchers({**scope, **matchers}))


def sum_recorded(name: str, scope: Scope, by: Iterable[str] = (), **matchers: str) -> str:
    """Sum (optionally by labels) of a recorded series: per-model rates add up to the fleet's."""
    return _aggregated("sum", by, recorded(name, scope, **matchers))


def recorded_quantile(q: float, buckets_name: str, scope: Scope, by: Iterable[str] = ()) -> str:
    """Quantile q from a recorded per-model bucket rate, summed by le (plus the labels kept)."""
    return f"histogram_quantile({q}, {sum_recorded(buckets_name, scope, ('le', *by))})"
