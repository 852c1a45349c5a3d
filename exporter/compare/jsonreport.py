"""The comparison as one JSON object: both sides, each figure with its values, ratio and reasons."""

from __future__ import annotations

import json
import math
from typing import Any

from exporter.compare.figures import Value
from exporter.compare.report import RESOLUTION, Report, window_seconds
from exporter.compare.sampling import Side


def _side(side: Side) -> dict[str, Any]:
    return {
        "url": side.shown_url,
        "engine_type": side.engine_type,
        "version": side.version,
        "model": side.model,
        "readings": len(side.readings),
        "window_seconds": round(window_seconds(side), 3),
        # Unix times of the first and last readings: the window to query a Prometheus over.
        "window_unix": [side.readings[0].unix, side.readings[-1].unix] if side.readings else None,
        "error": side.error or None,
        "failed_after_seconds": side.failed_at,
    }


def _value(value: Value) -> dict[str, Any]:
    bucket = None if value.bucket is None else [b if math.isfinite(b) else "+Inf" for b in value.bucket]
    return {"value": value.value, "reason": value.reason or None, "bucket": bucket}


def render(report: Report) -> str:
    """The report as a JSON document (one object)."""
    document = {
        "complete": report.complete,
        "duration_seconds": report.duration,
        "before": _side(report.before),
        "after": _side(report.after),
        "figures": [
            {
                "key": figure.key,
                "label": figure.label,
                "unit": figure.unit,
                "before": _value(figure.before),
                "after": _value(figure.after),
                "ratio": figure.ratio,
                "ratio_within_bucket_resolution": figure.within_resolution,
            }
            for figure in report.figures
        ],
        "resolution": RESOLUTION,
    }
    return json.dumps(document, indent=2)
