"""The monitoring mixin: GENERATORS maps an artifact name to its writer, which writes under a repository root."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# writer(root, alert settings file or None) -> the files written
Writer = Callable[[Path, Path | None], list[Path]]


def _docs(root: Path, settings: Path | None) -> list[Path]:
    from exporter.mixin.docs import write

    return write(root)


def _dashboards(root: Path, settings: Path | None) -> list[Path]:
    from exporter.mixin.dashboards import write, write_configmaps
    from exporter.mixin.settings import load

    loaded = load(settings)
    return write(root / "dashboards", loaded) + write_configmaps(root / "deploy" / "kubernetes" / "dashboards", loaded)


def _alerts(root: Path, settings: Path | None) -> list[Path]:
    from exporter.mixin.rules import write

    return write(root / "alerts", settings)


def _kubernetes(root: Path, settings: Path | None) -> list[Path]:
    from exporter.mixin.kubernetes import write
    from exporter.mixin.rules import PROMETHEUS_RULE_FILE

    return write(root / "deploy" / "kubernetes", (root / "alerts" / PROMETHEUS_RULE_FILE).read_text())


GENERATORS: dict[str, Writer] = {
    "docs": _docs,
    "dashboards": _dashboards,
    "alerts": _alerts,
    "kubernetes": _kubernetes,  # after alerts: it carries the PrometheusRule they wrote
}
