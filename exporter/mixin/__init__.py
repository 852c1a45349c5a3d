"""The monitoring mixin: GENERATORS maps an artifact name to its writer, which writes under a repository root.

Shaped like the monitoring mixins (node-mixin): one `settings.Settings` read by rules and dashboards, one PromQL
vocabulary (`promql`: selector builder, AST name check), `rules/` (recording rules, alerts with their runbooks) and
`dashboards/` (which read the recordings through `rules.recording.Recorded`), one YAML writer (`yamlfile`).
`llm-exporter generate all [--settings FILE]` writes every artifact in one run.

Dashboards are built with grafanalib plus `dashboards/grafana_compat.py`, which rewrites its output to current
JSON. grafana-foundation-sdk (Grafana's own SDK) was weighed in November 2026 and not adopted yet: it emits
current JSON itself (schemaVersion 41 from its 11.6 flavour; same fieldConfig/thresholds/targets as our
shimmed output for an Overview stat panel), so it would retire the shim, but its last release is from January
2026 and stops at Grafana 11.6, and its PEP 440 epochs are build timestamps, so a plain
`pip install grafana-foundation-sdk` picks the Grafana 10.1 flavour (schemaVersion 36, below the 39 DESIGN asks)
unless pinned as `==1769699379!11.6.0`. Moving all five dashboards is a rewrite of every builder, not a swap of
one module; it is worth doing as one change, pinned to the 11.6 flavour, rather than half.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# writer(root, settings file of the rules and dashboards or None) -> the files written
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
    from exporter.mixin.settings import load

    return write(root / "deploy" / "kubernetes", (root / "alerts" / PROMETHEUS_RULE_FILE).read_text(), load(settings))


GENERATORS: dict[str, Writer] = {
    "docs": _docs,
    "dashboards": _dashboards,
    "alerts": _alerts,
    "kubernetes": _kubernetes,  # after alerts: it carries the PrometheusRule they wrote
}
