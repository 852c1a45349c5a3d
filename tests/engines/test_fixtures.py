"""Every real capture: detection, coverage both ways, golden output, promtool-clean exposition."""

from __future__ import annotations

import pytest

from exporter.engines import ENGINES
from exporter.parse import parse
from tests.support.fixture_set import FIXTURES, GOLDENS, golden_text, normalized

# A fixture's engine is the first word of its file name: `<engine>-<version>[-<variant>].prom`.
EXPECTED_ENGINE = {path.stem: path.stem.split("-", 1)[0] for path in FIXTURES}

ids = [path.stem for path in FIXTURES]


def test_every_fixture_is_named_after_an_engine_and_sourced():
    assert set(EXPECTED_ENGINE.values()) <= set(ENGINES), "a fixture's name must start with an engine_type"
    for path in FIXTURES:
        assert path.read_text(encoding="utf-8").startswith("# source: "), path.name


@pytest.mark.parametrize("path", FIXTURES, ids=ids)
def test_detection(path):
    engine_type, _ = normalized(path)
    assert engine_type == EXPECTED_ENGINE[path.stem]


@pytest.mark.parametrize("path", FIXTURES, ids=ids)
def test_every_engine_family_is_mapped_or_ignored(path):
    _, result = normalized(path)
    assert result is not None
    assert result.unmapped == []


@pytest.mark.parametrize("engine_type", sorted(ENGINES))
def test_every_table_row_is_used_by_some_fixture(engine_type):
    used: set[str] = set()
    for path in FIXTURES:
        if EXPECTED_ENGINE[path.stem] == engine_type:
            _, result = normalized(path)
            used.update(result.mapped)
    engine = ENGINES[engine_type]
    prefix = {name: max((p for p in engine.prefixes if name.startswith(p)), key=len, default="") for name in used}
    sources = {name.split(":", 1)[-1] for name in used} | {name[len(prefix[name]) :] for name in used}
    sources |= {name[: -len("_total")] for name in sources if name.endswith("_total")}
    uncaptured = {row.source for row in engine.rows if row.uncaptured}
    assert sorted({row.source for row in engine.rows} - sources - uncaptured) == []
    assert sorted(uncaptured & sources) == [], "a row marked uncaptured is in a capture now: drop its mark"


@pytest.mark.parametrize("path", FIXTURES, ids=ids)
def test_golden(path):
    golden = GOLDENS / path.name
    assert golden.exists(), "run: python3 scripts/update-goldens.py"
    assert golden_text(path) == golden.read_text(encoding="utf-8"), "run scripts/update-goldens.py, review the diff"


@pytest.mark.parametrize("path", FIXTURES, ids=ids)
def test_golden_parses_back_without_loss(path):
    text = golden_text(path)
    families = parse(text)
    _, result = normalized(path)
    assert [f.name for f in families] == [f.name for f in result.families]
    assert sum(len(f.samples) for f in families) == sum(len(f.samples) for f in result.families)
