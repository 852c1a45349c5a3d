"""Small inline SVG charts (grouped bars, lines) for the HTML report: no script, no external asset."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

COLORS = ("#3b6fb6", "#e07b28")  # before, after
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 420, 220, 56, 36, 28


def _tick(value: float) -> str:
    """An axis label short enough for the margin: 1,090 rather than 1.09e+03."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _frame(title: str, body: list[str], y_max: float, y_label: str) -> str:
    plot_h = HEIGHT - BOTTOM - TOP
    ticks = []
    for step in range(5):
        value = y_max * step / 4
        y = HEIGHT - BOTTOM - plot_h * step / 4
        ticks.append(f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        ticks.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{_tick(value)}</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><rect width="100%" height="100%" fill="#fff"/>'
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{escape(title)}</text>'
        f'<text x="12" y="{TOP + plot_h / 2}" font-size="10" transform="rotate(-90 12 {TOP + plot_h / 2})" '
        f'text-anchor="middle">{escape(y_label)}</text>' + "".join(ticks) + "".join(body) + "</svg>"
    )


def bars(title: str, groups: Sequence[tuple[str, tuple[float | None, float | None]]], y_label: str) -> str:
    """Grouped bars, before then after in each group; a missing value leaves its slot empty and marked n/a."""
    values = [v for _, pair in groups for v in pair if v is not None]
    y_max = max(values, default=1.0) * 1.1 or 1.0
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(groups), 1)
    body = []
    for index, (label, pair) in enumerate(groups):
        x0 = LEFT + index * slot
        for side, value in enumerate(pair):
            x = x0 + slot * (0.15 + 0.35 * side)
            if value is None:
                body.append(f'<text x="{x + slot * 0.17:.1f}" y="{HEIGHT - BOTTOM - 4}" font-size="9" '
                            f'text-anchor="middle" fill="#888">n/a</text>')  # fmt: skip
                continue
            h = plot_h * value / y_max
            body.append(f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{slot * 0.34:.1f}" '
                        f'height="{h:.1f}" fill="{COLORS[side]}"><title>{value:.4g}</title></rect>')  # fmt: skip
        body.append(f'<text x="{x0 + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="11" '
                    f'text-anchor="middle">{escape(label)}</text>')  # fmt: skip
    return _frame(title, body, y_max, y_label)


def lines(title: str, series: Sequence[Sequence[tuple[float, float]]], x_label: str, y_label: str) -> str:
    """One polyline per series (before, after) over a shared x axis."""
    points = [p for s in series for p in s]
    x_max = max((x for x, _ in points), default=1.0) or 1.0
    y_max = max((y for _, y in points), default=1.0) * 1.1 or 1.0
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    body = [f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" font-size="10" text-anchor="middle">'
            f"{escape(x_label)}</text>"]  # fmt: skip
    for side, data in enumerate(series):
        coords = " ".join(
            f"{LEFT + plot_w * x / x_max:.1f},{HEIGHT - BOTTOM - plot_h * y / y_max:.1f}" for x, y in data
        )
        if coords:
            body.append(f'<polyline points="{coords}" fill="none" stroke="{COLORS[side]}" stroke-width="2"/>')
    return _frame(title, body, y_max, y_label)
