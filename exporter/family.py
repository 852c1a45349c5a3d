"""The in-memory form of metric families: what parse produces, normalize maps and exposition encodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(slots=True)
class Sample:
    """One exposition line: a sample name, its labels and its value.

    Also reads as a prometheus_client Sample (no timestamp, exemplar or native histogram), so the encoders take
    it as it is, with no copy per sample.
    """

    name: str
    labels: dict[str, str]
    value: float
    timestamp: ClassVar[None] = None
    exemplar: ClassVar[None] = None
    native_histogram: ClassVar[None] = None


@dataclass(slots=True)
class Family:
    """A metric family with its type, help text and samples."""

    name: str
    type: str  # counter | gauge | histogram | summary | info | unknown
    help: str = ""
    samples: list[Sample] = field(default_factory=list)
