"""Artifacts generated from the schema; GENERATORS maps a name to (default output root, writer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _docs(root: Path) -> list[Path]:
    from exporter.generate.docs import write

    return write(root)


def _dashboards(root: Path) -> list[Path]:
    from exporter.generate.dashboards import write, write_configmaps

    return write(root / "dashboards") + write_configmaps(root / "deploy" / "kubernetes" / "dashboards")


GENERATORS: dict[str, tuple[Path, Callable[[Path], list[Path]]]] = {
    "docs": (REPO, _docs),
    "dashboards": (REPO, _dashboards),
}
