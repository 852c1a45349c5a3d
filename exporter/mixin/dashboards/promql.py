"""PromQL for the dashboards: selectors scoped by dashboard variables, rates, quantiles and guarded ratios.

Every selector is checked against exporter/schema.py when it is built, and `metric_names` re-reads the
finished expressions so the generated JSON can be checked the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from exporter import schema

RATE = "$__rate_interval"
RANGE = "$__range"

# label -> variable (or regex) every selector of a dashboard carries, always matched with =~.
Scope = Mapping[str, str]


class UnknownMetricError(ValueError):
    """A dashboard query names a sample that exporter/schema.py does not define."""


def check_samples(names: Iterable[str]) -> None:
    """Raise UnknownMetricError naming every sample the schema lacks."""
    unknown = sorted(set(names) - schema.SAMPLE_NAMES)
    if unknown:
        raise UnknownMetricError(f"not in exporter/schema.py: {', '.join(unknown)}")


def selector(sample: str, scope: Scope, **matchers: str) -> str:
    """`sample{label=~"value",…}` for the scope plus extra regex matchers; the sample must be in the schema."""
    check_samples([sample])
    pairs = {**scope, **matchers}
    if not pairs:
        return sample
    return sample + "{" + ", ".join(f'{label}=~"{value}"' for label, value in pairs.items()) + "}"


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


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_VARIABLE = re.compile(r"\$\{?\w+(?::\w+)?\}?")
_IDENT = re.compile(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
        "atan2",
    }
)


def metric_names(expr: str) -> set[str]:
    """Names of the series an expression selects (functions, keywords, labels and variables left out)."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _VARIABLE.sub(" ", text)
    return {name for name, call in _IDENT.findall(text) if not call and name.lower() not in _KEYWORDS}


_LABEL_VALUES = re.compile(r"label_values\(\s*([a-zA-Z_:][\w:]*)")


def variable_metric(query: str) -> str | None:
    """The metric a `label_values(metric{…}, label)` variable query reads, or None for other queries."""
    found = _LABEL_VALUES.match(query.strip())
    return found.group(1) if found else None
