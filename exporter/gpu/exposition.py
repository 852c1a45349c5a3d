"""Turn GPU metric points into schema families (names, types and help from GPU_SPECS, in schema order)."""

from __future__ import annotations

from collections.abc import Iterable

from exporter.family import Family, Sample
from exporter.gpu.device import Point
from exporter.schema import GPU_SPECS, spec


def build_families(points: Iterable[Point]) -> list[Family]:
    """Group points into families in GPU_SPECS order; a name outside the schema raises KeyError."""
    samples: dict[str, list[Sample]] = {}
    for point in points:
        spec(point.name)  # fail loudly on a name the schema lacks
        samples.setdefault(point.name, []).append(Sample(point.name, point.labels, point.value))
    return [Family(s.name, s.type, s.help, samples[s.name]) for s in GPU_SPECS if s.name in samples]
