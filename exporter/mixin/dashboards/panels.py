"""Panel factories and layout: every panel gets a title, a description with its healthy value, a unit and queries.

Panels are built with grafanalib; what grafanalib cannot express in current Grafana JSON (modern heatmap
options, schemaVersion) is rewritten afterwards in one place, `dashboards_modern.modernize`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from string import ascii_uppercase

import attr
from grafanalib import core as g

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24

# Threshold steps: (value, colour); the first step is the base colour and has no value.
Steps = Sequence[tuple[float | None, str]]
NEUTRAL: Steps = ((None, "green"),)


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a panel and the legend of its series."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Link:
    """A data link from a panel's series to another dashboard, carrying the series' target."""

    title: str
    uid: str


def _targets(queries: Sequence[Query], heatmap: bool = False, table: bool = False) -> list[g.Target]:
    return [
        g.Target(
            expr=q.expr,
            legendFormat=q.legend,
            refId=ascii_uppercase[i],
            datasource=DATASOURCE,
            format="heatmap" if heatmap else "table" if table else "time_series",
            instant=table,
        )
        for i, q in enumerate(queries)
    ]


def _steps(steps: Steps) -> list[dict[str, object]]:
    return [{"value": value, "color": colour} for value, colour in steps]


def _links(links: Sequence[Link]) -> list[dict[str, str]]:
    # Opening the target's own dashboard keeps the data source and the time range.
    query = (
        "${datasource:queryparam}&var-target=${__field.labels.target}&var-instance=${__field.labels.instance}"
        "&${__url_time_range}"
    )
    return [
        {"title": f"{link.title} for ${{__field.labels.target}}", "url": f"/d/{link.uid}?{query}"} for link in links
    ]


def _place(width: int, height: int) -> g.GridPos:
    return g.GridPos(h=height, w=width, x=0, y=0)


def timeseries(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    width: int = 12,
    height: int = 8,
    stack: bool = False,
    ratio: bool = False,
    steps: Steps = NEUTRAL,
    links: Sequence[Link] = (),
) -> g.TimeSeries:
    """A time-series panel; `ratio` pins the axis to 0–1, `stack` stacks the series."""
    extra: dict[str, object] = {"fieldConfig": {"defaults": {"links": _links(links)}}}
    return g.TimeSeries(
        title=title,
        description=description,
        unit=unit,
        targets=_targets(queries),
        dataSource=DATASOURCE,
        gridPos=_place(width, height),
        stacking={"mode": "normal", "group": "A"} if stack else {},
        fillOpacity=30 if stack else 10,
        valueMin=0,
        valueMax=1 if ratio else None,
        thresholds=_steps(steps),
        thresholdsStyleMode="off" if steps == NEUTRAL else "dashed",
        legendDisplayMode="table",
        legendPlacement="bottom",
        legendCalcs=["mean", "max", "lastNotNull"],
        tooltipMode="multi",
        tooltipSort="desc",
        extraJson=extra,
    )


def stat(
    title: str,
    description: str,
    unit: str,
    query: Query,
    *,
    width: int = 4,
    height: int = 4,
    steps: Steps = NEUTRAL,
    no_value: str = "no data",
    show_name: bool = False,
) -> g.Stat:
    """A single-value panel of the query's last value; `show_name` prints the legend instead (info metrics)."""
    return g.Stat(
        title=title,
        description=description,
        format=unit,
        targets=_targets([query]),
        dataSource=DATASOURCE,
        gridPos=_place(width, height),
        thresholds=_steps(steps),
        reduceCalc="lastNotNull",
        noValue=no_value,
        graphMode="none" if show_name else "area",
        textMode="name" if show_name else "auto",
        colorMode="value",
        color={"mode": "thresholds"},
    )


@dataclass(frozen=True)
class Column:
    """One column of a table panel: a header, a unit, and the instant query whose value fills it."""

    header: str
    unit: str
    expr: str
    steps: Steps = NEUTRAL


def table(title: str, description: str, keys: Sequence[str], columns: Sequence[Column], *, height: int = 8) -> g.Table:
    """A full-width table of instant queries joined on their `keys` labels, one column per query."""
    refs = ascii_uppercase[: len(columns)]
    renames = {f"Value #{ref}": column.header for ref, column in zip(refs, columns, strict=True)}
    order = {name: i for i, name in enumerate([*keys, *renames])}

    def override(column: Column) -> dict[str, object]:
        props: list[dict[str, object]] = [{"id": "unit", "value": column.unit}]
        if column.steps != NEUTRAL:
            props += [
                {"id": "thresholds", "value": {"mode": "absolute", "steps": _steps(column.steps)}},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}},
            ]
        return {"matcher": {"id": "byName", "options": column.header}, "properties": props}

    return g.Table(
        title=title,
        description=description,
        unit="none",
        targets=_targets([Query(c.expr) for c in columns], table=True),
        dataSource=DATASOURCE,
        gridPos=_place(GRID_WIDTH, height),
        overrides=[override(c) for c in columns],
        # One row per key: merge the instant results, then keep only the keys and the value columns.
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {},
                    "includeByName": dict.fromkeys(order, True),
                    "indexByName": order,
                    "renameByName": renames,
                },
            },
        ],
        sortBy=[g.TableSortByField(displayName=keys[0])],
    )


def matrix(
    title: str,
    description: str,
    unit: str,
    cells: Sequence[tuple[str, str, str]],
    *,
    ratio: tuple[str, str] = ("B", "A"),
    width: int = GRID_WIDTH,
    height: int = 8,
    missing: str = "n/a",
) -> g.Table:
    """A table with a row per figure and a column per side, plus their ratio, from (row, column, expr) cells.

    One instant query: each cell's expr labelled with its row and column, joined with `or`, then pivoted in
    Grafana; a cell whose expr has no value shows `missing`, and the ratio column divides the `ratio` columns.
    """
    labelled = [
        f'label_replace(label_replace({expr}, "figure", "{row_name}", "", ""), "side", "{column}", "", "")'
        for row_name, column, expr in cells
    ]
    numerator, denominator = ratio
    quotient = f"{numerator}/{denominator}"
    return g.Table(
        title=title,
        description=description,
        unit=unit,
        targets=_targets([Query(" or ".join(labelled))], table=True),
        dataSource=DATASOURCE,
        gridPos=_place(width, height),
        overrides=[{"matcher": {"id": "byName", "options": quotient}, "properties": [{"id": "unit", "value": "none"}]}],
        transformations=[
            {
                "id": "groupingToMatrix",
                "options": {"columnField": "side", "rowField": "figure", "valueField": "Value", "emptyValue": "null"},
            },
            {
                "id": "calculateField",
                "options": {
                    "mode": "binary",
                    "binary": {"left": numerator, "operator": "/", "right": denominator},
                    "alias": quotient,
                    "replaceFields": False,
                },
            },
            {"id": "organize", "options": {"renameByName": {"figure\\side": "figure"}}},
        ],
        sortBy=[g.TableSortByField(displayName="figure")],
        extraJson={"fieldConfig": {"defaults": {"noValue": missing, "decimals": 3}}},
    )


def heatmap(title: str, description: str, y_unit: str, expr: str, *, width: int = 12, height: int = 8) -> g.Heatmap:
    """A heatmap of pre-bucketed histogram rates (one series per le); cells are requests per second."""
    return g.Heatmap(
        title=title,
        description=description,
        targets=_targets([Query(expr, "{{le}}")], heatmap=True),
        dataSource=DATASOURCE,
        gridPos=_place(width, height),
        dataFormat="tsbuckets",
        yAxis=g.YAxis(format=y_unit),
    )


def annotation(name: str, expr: str, colour: str, title: str) -> dict[str, object]:
    """A Prometheus annotation: a mark on every time panel wherever the query has a value."""
    return {
        "datasource": DATASOURCE, "enable": True, "hide": False, "name": name, "expr": expr, "iconColor": colour,
        "step": "1m", "titleFormat": title, "tagKeys": "target", "useValueForTime": False,
    }  # fmt: skip


def row(title: str) -> g.RowPanel:
    """A full-width, expanded row header."""
    return g.RowPanel(title=title, gridPos=_place(GRID_WIDTH, 1))


Section = tuple[str, Sequence[g.Panel]]


@attr.s(frozen=True, auto_attribs=True)
class Collapsed:
    """A section whose row starts collapsed, holding its panels: niche signals (speculative decoding, LoRA, P/D)
    that most deployments lack, so they cost no screen and no queries until opened."""

    title: str
    panels: Sequence[g.Panel]


def _flow(panels: Sequence[g.Panel], y: int) -> tuple[list[g.Panel], int]:
    """Panels placed left to right from row y, wrapping at the grid width; and the first row below them."""
    placed: list[g.Panel] = []
    x = 0
    line_height = 0
    for panel in panels:
        w, h = panel.gridPos.w, panel.gridPos.h
        if x + w > GRID_WIDTH:
            y += line_height
            x, line_height = 0, 0
        placed.append(attr.evolve(panel, gridPos=g.GridPos(h=h, w=w, x=x, y=y)))
        x += w
        line_height = max(line_height, h)
    return placed, y + line_height


def layout(sections: Sequence[Section | Collapsed]) -> list[g.Panel]:
    """Rows and their panels placed left to right, wrapping at the grid width; ids are stable (1, 2, …), a
    collapsed row's panels numbered after it."""
    placed: list[g.Panel] = []
    ids = iter(range(1, 1 << 16))
    y = 0
    for section in sections:
        header = attr.evolve(row(section.title if isinstance(section, Collapsed) else section[0]), id=next(ids))
        header = attr.evolve(header, gridPos=g.GridPos(h=1, w=GRID_WIDTH, x=0, y=y))
        if isinstance(section, Collapsed):
            inside, _ = _flow(section.panels, y + 1)
            placed.append(attr.evolve(header, collapsed=True, panels=[attr.evolve(p, id=next(ids)) for p in inside]))
            y += 1
            continue
        inside, y = _flow(section[1], y + 1)
        placed += [header, *(attr.evolve(p, id=next(ids)) for p in inside)]
    return placed
