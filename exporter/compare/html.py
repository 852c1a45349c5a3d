"""The comparison as one self-contained HTML page: tables and inline SVG charts, nothing fetched."""

from __future__ import annotations

from html import escape

from exporter.checklist import LATENCIES, LENGTHS
from exporter.compare import svg
from exporter.compare.figures import Figure
from exporter.compare.report import RESOLUTION, Report, cell, headline, ratio_cell, throughput_series

_STYLE = """
body{font-family:sans-serif;margin:24px;color:#222;max-width:1320px}
table{border-collapse:collapse;font-size:13px;margin:12px 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.v{white-space:nowrap} td.na{color:#888;font-style:italic} td.why{color:#555;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:12px} .key span{display:inline-block;width:12px;height:12px;margin:0 4px}
.warn{color:#a00}
"""


def _row(figure: Figure) -> str:
    cells = []
    for value in (figure.before, figure.after):
        css = ' class="v na"' if value.value is None else ' class="v"'
        cells.append(f"<td{css}>{escape(cell(value, figure.unit))}</td>")
    reasons = "; ".join(
        f"{side}: {value.reason}"
        for side, value in (("before", figure.before), ("after", figure.after))
        if value.reason
    )
    return (
        f"<tr><td>{escape(figure.label)}</td>{''.join(cells)}<td>{escape(ratio_cell(figure))}</td>"
        f'<td class="why">{escape(reasons)}</td></tr>'
    )


def _pair(report: Report, key: str, scale: float = 1.0) -> tuple[float | None, float | None]:
    figure = next(f for f in report.figures if f.key == key)
    return tuple(None if v.value is None else v.value * scale for v in (figure.before, figure.after))  # type: ignore[return-value]


def _charts(report: Report) -> list[str]:
    charts = []
    for key, label, _ in LATENCIES:
        groups = [(f"p{q}", _pair(report, f"{key}_p{q}", 1000)) for q in (50, 95, 99)]
        charts.append(svg.bars(f"{label} (ms)", groups, "milliseconds"))
    for key, label, _ in LENGTHS:
        groups = [(name, _pair(report, f"{key}_length_{name}")) for name in ("mean", "p50", "p95")]
        charts.append(svg.bars(f"{label} (tokens)", groups, "tokens"))
    series = [throughput_series(side) for side in report.sides]
    charts.append(svg.lines("Output tokens/s over the window", series, "seconds into the window", "tokens/s"))
    return charts


def render(report: Report) -> str:
    """The report as an HTML document."""
    before, after = report.sides
    key = "".join(
        f'<span style="background:{color}"></span>{escape(f"{side.role} ({side.engine_type})")} '
        for color, side in zip(svg.COLORS, report.sides, strict=True)
    )
    warning = "" if report.complete else '<p class="warn">Partial report: see the lines above.</p>'
    rows = "".join(_row(figure) for figure in report.figures)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>llm-exporter compare: {escape(before.engine_type)} → \
{escape(after.engine_type)}</title><style>{_STYLE}</style></head><body>
<h1>Migration validation: {escape(before.engine_type)} → {escape(after.engine_type)}</h1>
{"".join(f"<p>{escape(headline(side))}</p>" for side in report.sides)}{warning}
<table><tr><th>figure</th><th>before ({escape(before.engine_type)})</th><th>after ({escape(after.engine_type)})</th>
<th>after/before</th><th>why missing / caveat</th></tr>{rows}</table>
<p>{escape(RESOLUTION)}</p>
<h2>Charts</h2><p class="key">{key}</p>
<div class="charts">{"".join(_charts(report))}</div>
</body></html>
"""
