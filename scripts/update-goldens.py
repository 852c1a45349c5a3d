"""Rewrite tests/goldens/<fixture>.prom from the engine captures; review the diff before committing."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fixture_set import FIXTURES, GOLDENS, golden_text  # noqa: E402

GOLDENS.mkdir(exist_ok=True)
for fixture in FIXTURES:
    (GOLDENS / fixture.name).write_text(golden_text(fixture), encoding="utf-8")
    print(f"wrote {GOLDENS.name}/{fixture.name}")
