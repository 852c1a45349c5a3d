"""Rule and group records of the generated rule files, and the alert constructor that adds the conventions.

Each alert carries its runbook (meaning, impact, diagnosis, fix) where it is defined, and each group the title
and introduction of its runbook section: docs/runbooks.md is generated from them, so an alert and its runbook
change in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exporter.mixin.settings import Output

# How alert descriptions name a model-level series (labels of promql.model_labels).
MODEL_TEXT = "Model {{ $labels.model }} ({{ $labels.engine_type }})"


@dataclass(frozen=True)
class Runbook:
    """What an alert means, what it costs, how to diagnose it and how to fix it (defaults quoted as text)."""

    meaning: str
    impact: str
    diagnose: str
    fix: str


@dataclass(frozen=True)
class Rule:
    """One recording or alerting rule."""

    expr: str
    record: str = ""
    alert: str = ""
    for_: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    runbook: Runbook | None = None

    def as_dict(self) -> dict[str, Any]:
        """The rule as Prometheus' rule-file mapping, keys in the conventional order."""
        out: dict[str, Any] = {"record": self.record} if self.record else {"alert": self.alert}
        out["expr"] = self.expr
        if self.for_ and self.for_ not in ("0", "0s"):
            out["for"] = self.for_
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class Group:
    """A named rule group."""

    name: str
    rules: list[Rule]
    interval: str = ""
    title: str = ""  # of the group's section in docs/runbooks.md
    intro: str = ""  # what the section's alerts share, said once above them

    def as_dict(self) -> dict[str, Any]:
        """The group as Prometheus' rule-file mapping."""
        out: dict[str, Any] = {"name": self.name}
        if self.interval:
            out["interval"] = self.interval
        out["rules"] = [rule.as_dict() for rule in self.rules]
        return out


def record(name: str, expr: str) -> Rule:
    """A recording rule."""
    return Rule(expr=expr, record=name)


def make_alert(
    output: Output,
    name: str,
    expr: str,
    *,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    runbook: Runbook,
    labels: dict[str, str] | None = None,
) -> Rule:
    """An alert with severity, the site's extra labels, summary, description, its runbook and the link to it."""
    return Rule(
        expr=expr,
        alert=name,
        for_=for_,
        labels={"severity": severity, **(labels or {}), **output.alert_labels},
        annotations={
            "summary": summary,
            "description": description,
            "runbook_url": output.runbook_url.format(anchor=name.lower()),
        },
        runbook=runbook,
    )
