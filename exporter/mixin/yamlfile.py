"""The one YAML writer of everything the mixin generates: rule files, PrometheusRule, ConfigMaps, manifests.

Block style, keys in the order written, lists indented under their key as kubectl prints them, no anchors,
and multi-line strings (PromQL, dashboard JSON) as literal blocks so the files read like hand-written ones.
"""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        """Never write anchors: a repeated mapping is written out again, as a person would."""
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        """Indent a list under its key, as kubectl prints manifests."""
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str)


def dumps(*documents: Any, header: str = "") -> str:
    """The documents as one YAML text (several separated by ---), after a header comment of whole lines."""
    return header + yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
