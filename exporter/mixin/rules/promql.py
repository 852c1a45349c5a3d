"""PromQL building blocks for the generated rules, and the check that every name they use exists."""

from __future__ import annotations

import re
from collections.abc import Iterable

from exporter import schema
from exporter.mixin.settings import Aggregation

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_OWN_PREFIXES = ("llm_", "gen_ai_")


class UnknownSeriesError(ValueError):
    """A rule reads a series that neither exporter/schema.py nor the recording rules define."""


def sample(name: str) -> str:
    """A schema sample name, checked at once so a typo fails where it is written."""
    if name not in schema.SAMPLE_NAMES:
        raise UnknownSeriesError(f"{name} is not a sample of exporter/schema.py")
    return name


def selector(name: str, *matchers: str) -> str:
    """`name{matchers}` with empty matchers left out."""
    return f"{name}{{{', '.join(m for m in matchers if m)}}}"


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


def check_names(exprs: Iterable[str], recorded: Iterable[str]) -> None:
    """Fail on any llm_/gen_ai_ name the schema lacks and any level:metric:operations name no rule records."""
    known_records = set(recorded)
    unknown: set[str] = set()
    for expr in exprs:
        for token in _IDENTIFIER.findall(_RANGE.sub("", _QUOTED.sub('""', expr))):
            unrecorded = ":" in token and token not in known_records
            unexported = token.startswith(_OWN_PREFIXES) and token not in schema.SAMPLE_NAMES
            if unrecorded or unexported:
                unknown.add(token)
    if unknown:
        raise UnknownSeriesError(f"rules read series that do not exist: {', '.join(sorted(unknown))}")
