"""The PromQL vocabulary of the mixin: one selector builder, clause helpers, and the name check.

The name check parses every expression into an AST with promql-parser (Prometheus' own grammar, ported to Rust)
instead of scanning it with regexes: a name is what the parser calls a vector selector, never a label, function,
keyword or string that happens to look like one. Grafana's template variables are put back to valid PromQL
first, so dashboards and rules are checked the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import promql_parser

from exporter import schema
from exporter.mixin.settings import Aggregation

# Series rules and dashboards may read that neither the schema nor the recordings define: Prometheus' own.
PROMETHEUS_SERIES = frozenset({"up"})
# kube-state-metrics' HPA series, read by the alerts on replicas and autoscaling.
KUBE_STATE_METRICS_SERIES = frozenset(
    {
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
    }
)

_STRING_OR_VARIABLE = re.compile(r'"(?:[^"\\]|\\.)*"|\$\{?\w+(?::\w+)?\}?')
_RANGE_VARIABLE = re.compile(r"(\[|offset )\$\{?\w+\}?")  # a range or an offset: a duration
# label_values(selector, label) is Grafana's variable query, not PromQL: its selector is.
_LABEL_VALUES = re.compile(r"\s*label_values\((.*),\s*\w+\s*\)\s*")


class UnknownSeriesError(ValueError):
    """A rule or dashboard reads a series that neither exporter/schema.py nor the recording rules define."""


def sample(name: str) -> str:
    """A schema sample name, checked at once so a typo fails where it is written."""
    if name not in schema.SAMPLE_NAMES:
        raise UnknownSeriesError(f"{name} is not a sample of exporter/schema.py")
    return name


def selector(name: str, *matchers: str) -> str:
    """`name{matchers}`, empty matchers left out, the bare name when none is left."""
    present = [m for m in matchers if m]
    return f"{name}{{{', '.join(present)}}}" if present else name


def regex_matchers(scope: Mapping[str, str]) -> list[str]:
    """`label=~"value"` for each pair: dashboard variables may hold several values, so they match as regexes."""
    return [f'{label}=~"{value}"' for label, value in scope.items()]


def by(labels: Iterable[str]) -> str:
    """A `by (...)` clause."""
    return f"by ({', '.join(labels)})"


def on(labels: Iterable[str]) -> str:
    """An `on (...)` clause."""
    return f"on ({', '.join(labels)})"


def number(value: float) -> str:
    """A float spelt without noise (0.1 rather than 0.10000000000000009)."""
    return f"{round(value, 10):.10g}"


def le_matcher(bound: float) -> str:
    """Matcher for one bucket bound that holds however the bound was spelt ("5" or "5.0")."""
    if bound == int(bound):
        return f'le=~"{int(bound)}|{int(bound)}\\\\.0"'
    return f'le="{number(bound)}"'


def alternatives(values: Iterable[object]) -> str:
    """A regex alternation of values for `=~` matchers."""
    return "|".join(str(v) for v in values)


def model_labels(aggregation: Aggregation) -> list[str]:
    """Labels of the model level: one series per model and engine type in each fleet partition."""
    return [*aggregation.fleet_labels, "engine_type", "model"]


def target_labels(aggregation: Aggregation) -> list[str]:
    """Labels of the target level: one series per engine endpoint of one exporter."""
    return [*aggregation.fleet_labels, *aggregation.instance_labels, "engine_type", "model", "target"]


def _as_promql(expr: str) -> str:
    """expr with Grafana's variables replaced by values of their kind: ranges by 5m, others by vector(1)."""
    label_values = _LABEL_VALUES.fullmatch(expr)
    text = label_values.group(1) if label_values else expr
    text = _RANGE_VARIABLE.sub(r"\g<1>5m", text)
    # A variable outside a string is a number (a price): vector(1) stands in, since `1 > 0` needs `bool`.
    return _STRING_OR_VARIABLE.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "vector(1)", text)


def selectors(expr: str) -> dict[str, set[str]]:
    """Each series a PromQL expression (or Grafana variable query) selects, with the labels its matchers name."""
    found: dict[str, set[str]] = {}

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = node.matchers.matchers
            name = node.name or next(m.value for m in matchers if m.name == "__name__")
            found.setdefault(name, set()).update(m.name for m in matchers if m.name != "__name__")

    try:
        promql_parser.walk(promql_parser.parse(_as_promql(expr)), visit)
    except ValueError as error:
        raise UnknownSeriesError(f"not PromQL ({error}): {expr}") from None
    return found


def series_names(expr: str) -> set[str]:
    """Names of the series a PromQL expression (or Grafana variable query) selects, read from its AST."""
    return set(selectors(expr))


def check_names(exprs: Iterable[str], recorded: Iterable[str]) -> None:
    """Fail on any series an expression reads that the schema, recordings, Prometheus and kube-state-metrics lack."""
    known = schema.SAMPLE_NAMES | set(recorded) | PROMETHEUS_SERIES | KUBE_STATE_METRICS_SERIES
    unknown = {name for expr in exprs for name in series_names(expr)} - known
    if unknown:
        raise UnknownSeriesError(f"series that do not exist: {', '.join(sorted(unknown))}")
