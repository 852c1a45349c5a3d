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

from exporter.mixin import promql, yamlfile
from exporter.mixin.dashboards import engine, gpu, kv_cache, migration, overview
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


def sample_names(dashboard: dict[str, Any], settings: Settings | None = None) -> set[str]:
    """The schema samples a dashboard JSON reads, directly or through the recorded series its queries select."""
    recorded = recording.exprs(settings or Settings())

    def read(expr: str) -> set[str]:
        names = promql.series_names(expr)
        return {n for name in names for n in (read(recorded[name]) if name in recorded else {name})}

    return {name for expr in queries(dashboard) for name in read(expr)}


def render(build: Callable[[Settings], g.Dashboard], settings: Settings) -> dict[str, Any]:
    """One dashboard as current Grafana JSON, checked against the schema and the recordings the rules ship."""
    raw = json.loads(json.dumps(build(settings).to_json_data(), cls=DashboardEncoder))
    dashboard = modernize(raw)
    promql.check_names(queries(dashboard), recording.names(settings))
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
