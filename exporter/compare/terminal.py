"""The comparison as a plain-text table, with numbered notes for missing figures and caveats."""

from __future__ import annotations

from collections.abc import Sequence

from exporter.compare.report import RESOLUTION, Report, cell, headline, ratio_cell
from exporter.compare.sampling import Side


def render(report: Report) -> str:
    """The table a terminal shows: one row per figure, before, after and after/before, then the notes."""
    notes: list[str] = []

    def noted(text: str, reason: str) -> str:
        if not reason:
            return text
        if reason not in notes:
            notes.append(reason)
        return f"{text} ({notes.index(reason) + 1})"

    header = ("figure", f"before ({report.before.engine_type})", f"after ({report.after.engine_type})", "after/before")
    rows: list[tuple[str, ...]] = [header]
    for figure in report.figures:
        sides = (noted(cell(v, figure.unit), v.reason) for v in (figure.before, figure.after))
        rows.append((figure.label, *sides, ratio_cell(figure)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [headline(side) for side in report.sides]
    if not report.finished:
        lines.append("interrupted: the figures cover the readings taken so far")
    lines.append("")
    lines += ["  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines += ["", "notes:"] + [f"  ({n}) {reason}" for n, reason in enumerate(notes, 1)]
    lines.append(RESOLUTION)
    return "\n".join(lines)


def progress(at: float, duration: float, sides: Sequence[Side]) -> str:
    """The progress line shown while watching: time into the window and each side's state."""
    states = ", ".join(
        f"{side.role} {side.engine_type}: "
        + (f"stopped ({side.error})" if side.error else f"{len(side.readings)} readings")
        for side in sides
    )
    return f"compare: {min(at, duration):.0f}/{duration:.0f} s, {states}"
