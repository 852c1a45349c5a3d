"""The in-memory form of metric families: what parse produces, normalize maps and render writes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Sample:
    """One exposition line: a sample name, its labels and its value."""

    name: str
    labels: dict[str, str]
    value: float


@dataclass(slots=True)
class Family:
    """A metric family with its type, help text and samples."""

    name: str
    type: str  # counter | gauge | histogram | summary | info | unknown
    help: str = ""
    samples: list[Sample] = field(default_factory=list)
