"""Turn grafanalib's output into current Grafana dashboard JSON: the one place grafanalib's gaps are filled.

grafanalib 0.7 writes schemaVersion 12, the legacy (pre-8) heatmap format and a set of keys current Grafana
ignores. Provisioned files are loaded as written, so the committed JSON must already be in the current form.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 39  # Grafana 10.4+; what vLLM's generated dashboards use too

_LEGACY_DASHBOARD_KEYS = ("rows", "sharedCrosshair", "hideControls", "style", "gnetId")
_LEGACY_PANEL_KEYS = (
    "span",
    "minSpan",
    "height",
    "error",
    "hideTimeOverride",
    "repeatDirection",
    "maxPerRow",
    "maxDataPoints",
    "cacheTimeout",
    "editable",
)
_LEGACY_HEATMAP_KEYS = (
    "cards",
    "color",
    "dataFormat",
    "heatmap",
    "hideZeroBuckets",
    "highlightCards",
    "legend",
    "reverseYBuckets",
    "tooltip",
    "xAxis",
    "xBucketNumber",
    "xBucketSize",
    "yAxis",
    "yBucketBound",
    "yBucketNumber",
    "yBucketSize",
)
_TARGET_KEYS = ("datasource", "expr", "legendFormat", "refId", "format", "instant")
_LEGACY_VARIABLE_KEYS = ("useTags", "tagsQuery", "tagValuesQuery", "auto", "auto_min", "auto_count")


def _without(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys and v is not None}


def _heatmap(panel: dict[str, Any]) -> dict[str, Any]:
    # Buckets arrive pre-computed (format "heatmap"), so Grafana must not re-bucket them: calculate false.
    y_unit = panel["yAxis"]["format"]
    modern = _without(panel, _LEGACY_HEATMAP_KEYS)
    modern["fieldConfig"] = {
        "defaults": {
            "unit": "reqps",
            "custom": {
                "hideFrom": {"legend": False, "tooltip": False, "viz": False},
                "scaleDistribution": {"type": "linear"},
            },
        },
        "overrides": [],
    }
    modern["options"] = {
        "calculate": False,
        "cellGap": 1,
        "color": {
            "mode": "scheme",
            "scheme": "Oranges",
            "fill": "dark-orange",
            "scale": "exponential",
            "exponent": 0.5,
            "steps": 64,
            "reverse": False,
        },
        "exemplars": {"color": "rgba(255,0,255,0.7)"},
        "filterValues": {"le": 1e-9},
        "legend": {"show": True},
        "rowsFrame": {"layout": "auto"},
        "tooltip": {"mode": "single", "yHistogram": False, "showColorScale": False},
        "yAxis": {"axisPlacement": "left", "reverse": False, "unit": y_unit},
    }
    return modern


def _target(target: dict[str, Any]) -> dict[str, Any]:
    return {k: target[k] for k in _TARGET_KEYS if k in target}


def _panel(panel: dict[str, Any]) -> dict[str, Any]:
    if panel["type"] == "heatmap":
        panel = _heatmap(panel)
    modern = _without(panel, _LEGACY_PANEL_KEYS)
    if modern["type"] == "row":
        kept = {k: modern[k] for k in ("collapsed", "gridPos", "id", "panels", "title", "type")}
        return {**kept, "panels": [_panel(p) for p in kept["panels"]]}
    modern["targets"] = [_target(t) for t in modern["targets"]]
    return modern


def _variable(variable: dict[str, Any]) -> dict[str, Any]:
    modern = _without(variable, _LEGACY_VARIABLE_KEYS)
    if modern.get("current", {}).get("value") is None:
        modern["current"] = {}
    if modern["type"] == "query":
        modern["definition"] = modern["query"]
    return modern


def modernize(dashboard: dict[str, Any]) -> dict[str, Any]:
    """The dashboard in current Grafana JSON (schemaVersion 39, modern panels, no legacy keys)."""
    modern = _without(dashboard, _LEGACY_DASHBOARD_KEYS)
    modern["schemaVersion"] = SCHEMA_VERSION
    modern["panels"] = [_panel(p) for p in dashboard["panels"]]
    modern["templating"] = {"list": [_variable(v) for v in dashboard["templating"]["list"]]}
    return modern
