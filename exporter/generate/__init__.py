"""Artifacts generated from the schema; GENERATORS maps a name to (default folder, writer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _docs(out: Path) -> list[Path]:
    from exporter.generate.docs import write

    return write(out)


GENERATORS: dict[str, tuple[Path, Callable[[Path], list[Path]]]] = {
    "docs": (REPO, _docs),
}
