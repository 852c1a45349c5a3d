"""Generate the Grafana dashboards from the schema: JSON files plus one Kubernetes ConfigMap per dashboard.

`write` is what `llm-exporter generate dashboards` calls; the committed files must equal its output.
Generation fails if any query or variable names a sample exporter/schema.py does not define.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from exporter import schema
from exporter.engines import ENGINES
from exporter.mixin import promql, yamlfile
from exporter.mixin.dashboards import engine, gpu, kv_cache, migration, overview
from exporter.mixin.dashboards.common import unreported
from exporter.mixin.dashboards.grafana_compat import modernize
from exporter.mixin.rules import recording
from exporter.mixin.settings import Settings

# File stem -> builder. The stem names the JSON file and the ConfigMap.
BUILDERS: dict[str, Callable[[Settings], g.Dashboard]] = {
    "overview": overview.build,
    "engine": engine.build,
    "kv-cache": kv_cache.build,
    "gpu": gpu.build,
    "migration": migration.build,
}
CONFIGMAP_PREFIX = "llm-exporter-dashboard-"


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard JSON, rows' nested panels included, rows themselves left out."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panels({"panels": panel.get("panels", [])})
        else:
            yield panel


def queries(dashboard: dict[str, Any]) -> Iterator[str]:
    """Every PromQL expression of a dashboard JSON: panel targets, annotations and label_values variables."""
    for panel in panels(dashboard):
        for target in panel["targets"]:
            yield target["expr"]
    for annotation in dashboard["annotations"]["list"]:
        yield annotation["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["query"]


def read_samples(expr: str, settings: Settings | None = None) -> set[str]:
    """The schema samples an expression reads, directly or through the recorded series it selects."""
    recorded = recording.exprs(settings or Settings())
    names = promql.series_names(expr)
    return {n for name in names for n in (read_samples(recorded[name], settings) if name in recorded else {name})}


def sample_names(dashboard: dict[str, Any], settings: Settings | None = None) -> set[str]:
    """The schema samples a dashboard JSON reads, directly or through the recorded series its queries select."""
    return {name for expr in queries(dashboard) for name in read_samples(expr, settings)}


# Families some engine table maps: only those can be missing on one engine and present on another.
MAPPED = frozenset(row.unified for table in ENGINES.values() for row in table.rows)


def family(sample: str) -> str:
    """The schema family a sample belongs to (a histogram's _bucket, _sum and _count belong to it)."""
    if sample in schema.BY_NAME:
        return sample
    return sample.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")


def _say_unreported(panel: dict[str, Any], settings: Settings) -> None:
    """Name, in the panel's no-value text, the engine types none of whose queries can return data: a query reads
    nothing on an engine whose table lacks one of the families it combines."""
    lacking: set[str] | None = None
    for target in panel["targets"]:
        families = {family(s) for s in read_samples(target["expr"], settings)} & MAPPED
        lacks = {engine for f in families for engine in unreported({f})}
        lacking = lacks if lacking is None else lacking & lacks
    missing = [engine for engine in ENGINES if engine in (lacking or set())]
    if missing and panel["type"] != "table":
        defaults = panel["fieldConfig"]["defaults"]
        reason = f"{', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not report this"
        defaults["noValue"] = f"{defaults.get('noValue', 'No data')}; {reason}"


def render(build: Callable[[Settings], g.Dashboard], settings: Settings) -> dict[str, Any]:
    """One dashboard as current Grafana JSON, checked against the schema and the recordings the rules ship."""
    raw = json.loads(json.dumps(build(settings).to_json_data(), cls=DashboardEncoder))
    dashboard = modernize(raw)
    promql.check_names(queries(dashboard), recording.names(settings))
    for panel in panels(dashboard):
        _say_unreported(panel, settings)
    return dashboard


def dumps(data: dict[str, Any]) -> str:
    """The stable text form of a dashboard: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write(out_dir: pathlib.Path, settings: Settings | None = None) -> list[pathlib.Path]:
    """Write every dashboard as <stem>.json into out_dir; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, build in BUILDERS.items():
        path = out_dir / f"{stem}.json"
        path.write_text(dumps(render(build, settings or Settings())), encoding="utf-8")
        written.append(path)
    return written


def configmap(stem: str, dashboard: dict[str, Any]) -> str:
    """A ConfigMap carrying one dashboard, labelled for the Grafana sidecar (grafana_dashboard: "1")."""
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIGMAP_PREFIX + stem,
            "labels": {
                "grafana_dashboard": "1",
                "app.kubernetes.io/name": "llm-exporter",
                "app.kubernetes.io/component": "dashboard",
            },
            # The kiwigrid sidecar puts the file in this Grafana folder when folderAnnotation is set to it.
            "annotations": {"grafana_folder": "LLM"},
        },
        "data": {f"llm-{stem}.json": dumps(dashboard)},
    }
    return yamlfile.dumps(manifest)


def write_configmaps(out_dir: pathlib.Path, settings: Settings | None = None) -> list[pathlib.Path]:
    """Write one ConfigMap manifest per dashboard as <stem>.yaml into out_dir; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, build in BUILDERS.items():
        path = out_dir / f"{stem}.yaml"
        path.write_text(configmap(stem, render(build, settings or Settings())), encoding="utf-8")
        written.append(path)
    return written
