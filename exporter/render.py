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
    if -1e15 < value < 1e15:  # the common case first: finite (NaN fails every comparison), whole numbers exact
        whole = int(value)
        return str(whole) if whole == value else repr(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(labels: dict[str, str]) -> str:
    values = "".join(labels.values())
    # Values needing an escape are rare: look once at all of them instead of escaping each.
    if "\\" in values or '"' in values or "\n" in values:
        return ",".join([f'{k}="{_escape_label(v)}"' for k, v in labels.items()])
    return ",".join([f'{k}="{v}"' for k, v in labels.items()])


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
                out.append(f"{sample.name}{{{_label_text(sample.labels)}}} {format_value(sample.value)}")
            else:
                out.append(f"{sample.name} {format_value(sample.value)}")
    out.append("")
    return "\n".join(out)
