"""Parse + normalize + render never raise anything but ParseError, whatever the engine sends."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from exporter.engines import ENGINES
from exporter.exposition import render
from exporter.normalize import Normalizer, detect
from exporter.parse import ParseError, parse
from tests.support.fuzz_inputs import exposition


def pipeline(text: str) -> None:
    """The daemon's path for one body, through every engine table; only ParseError may escape."""
    try:
        families = parse(text)
    except ParseError:
        return
    detect(families, ENGINES.values())
    for engine in ENGINES.values():
        for buckets in ("canonical", "native"):
            result = Normalizer(engine, "fuzz", "", buckets).normalize(families)
            parse(render(result.families))  # what we serve must itself be valid exposition


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exposition())
def test_pipeline_survives_mutated_captures(text):
    pipeline(text)
