"""The engine captures under tests/fixtures/engines and how each is normalized for its golden."""

from __future__ import annotations

from pathlib import Path

from exporter.engines import ENGINES
from exporter.exposition import render
from exporter.normalize import Normalizer, Result, detect
from exporter.parse import parse

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = sorted((ROOT / "fixtures" / "engines").glob("*.prom"))
GOLDENS = ROOT / "goldens"


def normalized(path: Path) -> tuple[str | None, Result | None]:
    """(detected engine_type, normalize result) for a fixture, with target named after the file."""
    families = parse(path.read_text(encoding="utf-8"))
    engine = detect(families, ENGINES.values())
    if engine is None:
        return None, None
    return engine.engine_type, Normalizer(engine, target=path.stem).normalize(families)


def golden_text(path: Path) -> str:
    """The golden exposition of a fixture: its unified families, rendered."""
    _, result = normalized(path)
    return render(result.families) if result else ""
