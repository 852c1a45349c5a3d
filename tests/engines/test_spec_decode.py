"""The speculative-decoding counters carry the engine's own numbers: every capture that has them, every engine."""

from __future__ import annotations

import pytest

from exporter.engines import ENGINES
from exporter.parse import parse
from tests.support.fixture_set import FIXTURES, normalized

SPEC = ("llm_spec_decode_draft_tokens_total", "llm_spec_decode_accepted_tokens_total")


def _engine_totals(path, engine_type: str) -> dict[str, float]:
    """unified family -> the sum of the engine's own series its row reads, straight from the capture."""
    engine = ENGINES[engine_type]
    rows = {row.source: row.unified for row in engine.rows if row.unified in SPEC}
    totals: dict[str, float] = {}
    for family in parse(path.read_text(encoding="utf-8")):
        prefix = max((p for p in engine.prefixes if family.name.startswith(p)), key=len, default=None)
        source = family.name[len(prefix) :].removesuffix("_total") if prefix is not None else ""
        if source in rows:
            total = sum(s.value for s in family.samples if not s.name.endswith("_created"))
            totals[rows[source]] = totals.get(rows[source], 0.0) + total
    return totals


CAPTURES = [path for path in FIXTURES if _engine_totals(path, path.stem.split("-", 1)[0])]


def test_at_least_four_engines_report_speculative_decoding():
    assert len({path.stem.split("-", 1)[0] for path in CAPTURES}) >= 4


@pytest.mark.parametrize("path", CAPTURES, ids=[path.stem for path in CAPTURES])
def test_unified_spec_decode_counters_equal_the_engines_own(path):
    engine_type, result = normalized(path)
    unified = {f.name: sum(s.value for s in f.samples) for f in result.families if f.name in SPEC}
    assert unified == _engine_totals(path, engine_type)
    assert 0 <= unified["llm_spec_decode_accepted_tokens_total"] <= unified["llm_spec_decode_draft_tokens_total"]
