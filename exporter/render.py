"""Render families as Prometheus text exposition (format 0.0.4)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from exporter.family import Family

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# The text format has no "info" type: info families are gauges with value 1.
_WIRE_TYPE = {"info": "gauge", "unknown": "untyped"}


def format_value(value: float) -> str:
    """Spell a sample value the way Prometheus and prometheus_client do."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value)}"
    return repr(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def render(families: Iterable[Family]) -> str:
    """The exposition text of the families, in the order given."""
    out: list[str] = []
    for family in families:
        if not family.samples:
            continue
        out.append(f"# HELP {family.name} {_escape_help(family.help)}")
        out.append(f"# TYPE {family.name} {_WIRE_TYPE.get(family.type, family.type)}")
        for sample in family.samples:
            if sample.labels:
                labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sample.labels.items())
                out.append(f"{sample.name}{{{labels}}} {format_value(sample.value)}")
            else:
                out.append(f"{sample.name} {format_value(sample.value)}")
    out.append("")
    return "\n".join(out)
