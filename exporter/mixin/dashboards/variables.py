"""Dashboard variables: the data source, label variables scoped by schema metrics, and free-text settings."""

from __future__ import annotations

from grafanalib import core as g

from exporter.mixin import promql
from exporter.mixin.dashboards.panels import DATASOURCE
from exporter.mixin.dashboards.queries import Scope

# Every panel selector matches variables with =~, so "All" is the regex that matches any value, empty included.
ALL = ".*"


def datasource() -> g.Template:
    """The Prometheus data source picker every query uses (never a hard-coded uid)."""
    return g.Template(name="datasource", label="Data source", query="prometheus", type="datasource", hide=g.SHOW)


def label(
    name: str,
    title: str,
    sample: str,
    scope: Scope,
    *,
    multi: bool = True,
    label_name: str | None = None,
    matchers: str = "",
    default: str | None = None,
) -> g.Template:
    """A variable listing a label's values on a schema sample, within `matchers` and the variables before it.

    `default` is the value selected until the user picks one (Grafana keeps it when the list has it).
    """
    selector = promql.selector(promql.sample(sample), matchers, *promql.regex_matchers(scope))
    query = f"label_values({selector}, {label_name or name})"
    return g.Template(
        name=name,
        label=title,
        query=query,
        dataSource=DATASOURCE,
        type="query",
        includeAll=multi,
        multi=multi,
        allValue=ALL if multi else None,
        refresh=g.REFRESH_ON_TIME_RANGE_CHANGE,
        sort=g.SORT_ALPHA_ASC,
        **({"default": default} if default is not None else {}),
    )


def textbox(name: str, title: str, default: str) -> g.Template:
    """A free-text setting (a price, say) that queries use as a number."""
    option = {"selected": True, "text": default, "value": default}
    return g.Template(name=name, label=title, query=default, default=default, type="textbox", options=[option])
