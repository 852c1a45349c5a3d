"""docs/CONFIGURATION.md documents exactly the flags and fields the exporter accepts, with defaults and examples
that load."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from exporter import webconfig
from exporter.cli import _run_parser
from exporter.config import DEFAULT_LISTEN_ADDRESS, ConfigError, load

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
TARGET = "url: http://127.0.0.1:8000"


def _tables() -> dict[str, list[dict[str, str]]]:
    """Every table of the page under 'Section/Subsection', each row as {column: cell}."""
    tables: dict[str, list[dict[str, str]]] = {}
    section = subsection = ""
    header: list[str] | None = None
    for line in DOC.splitlines():
        if line.startswith("## "):
            section, subsection, header = line[3:], "", None
        elif line.startswith("### "):
            subsection, header = line[4:], None
        elif line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            key = f"{section}/{subsection}" if subsection else section
            if header is None:
                header, tables[key] = cells, []
            else:
                tables[key].append(dict(zip(header, cells, strict=True)))
        elif not line.startswith("|"):
            header = None
    return tables


TABLES = _tables()


def _code(cell: str) -> str | None:
    """The text of a cell that is one `code` span, else None."""
    match = re.fullmatch(r"`([^`]*)`", cell)
    return match.group(1) if match else None


def _names(table: str) -> list[str]:
    return [_code(row.get("field") or row["flag"]) or "" for row in TABLES[table]]


def _allowed(text: str, loader=load) -> list[str]:
    """The fields a section accepts, read from the error an unknown field gets."""
    with pytest.raises(ConfigError) as caught:
        loader(text, "c.yml")
    message = caught.value.problems[0]
    return re.search(r"unknown field \(allowed: ([^)]*)\)", message).group(1).split(", ")


def _help_flags() -> list[str]:
    output = _run_parser().format_help()
    options = output.split("options:", 1)[1]
    return [flag for flag in re.findall(r"^  (--[a-z.-]+)", options, re.MULTILINE) if flag != "--help"]


def test_flags_are_documented_exactly():
    assert _names("Flags") == _help_flags()


def test_listen_address_default_is_the_code_default():
    row = next(row for row in TABLES["Flags"] if row["flag"] == "`--web.listen-address`")
    assert _code(row["default"]) == DEFAULT_LISTEN_ADDRESS


@pytest.mark.parametrize(
    ("table", "probe"),
    [
        ("Config file/Top level", "bogus: 1"),
        ("Config file/targets", f"targets: [{{{TARGET}, bogus: 1}}]"),
        ("Config file/defaults", "defaults: {bogus: 1}"),
        ("Config file/gpu", "gpu: {bogus: 1}"),
    ],
)
def test_config_fields_are_documented_exactly(table, probe):
    assert _names(table) == _allowed(probe)


@pytest.mark.parametrize(
    ("table", "probe"),
    [
        ("Web config file/Top level", "bogus: 1"),
        ("Web config file/tls_server_config", "tls_server_config: {bogus: 1}"),
    ],
)
def test_web_config_fields_are_documented_exactly(table, probe):
    assert _names(table) == _allowed(probe, webconfig.load)


def _document(table: str, field: str, value: str) -> str:
    """A config file setting one field of a section to a value written as YAML."""
    section = table.split("/")[1]
    if section == "Top level":
        return f"{field}: {value}"
    if section == "targets":
        return f"targets: [{{{TARGET}}}]" if field == "url" else f"targets: [{{{TARGET}, {field}: {value}}}]"
    if section == "defaults":
        return f"defaults: {{{field}: {value}}}\ntargets: [{{{TARGET}}}]"
    return f"{section}: {{{field}: {value}}}"


CONFIG_ROWS = [(table, row) for table in TABLES if table.startswith("Config file/") for row in TABLES[table]]


@pytest.mark.parametrize(("table", "row"), CONFIG_ROWS, ids=[f"{t}.{r['field']}" for t, r in CONFIG_ROWS])
def test_documented_example_loads(table, row):
    field, example = _code(row["field"]), _code(row["example"])
    assert field and example, f"{table} {row['field']}: the example must be one `code` span"
    if field == "url":
        assert load(f"targets: [{{url: {example}}}]", "c.yml").targets[0].url.startswith(example)
    else:
        load(_document(table, field, example), "c.yml")


# A default that is "(required)", "none" or a description has no value to compare, so its row is not a case.
DEFAULT_ROWS = [(table, row) for table, row in CONFIG_ROWS if _code(row["default"]) is not None]


@pytest.mark.parametrize(("table", "row"), DEFAULT_ROWS, ids=[f"{t}.{r['field']}" for t, r in DEFAULT_ROWS])
def test_documented_default_equals_leaving_the_field_out(table, row):
    field, default = _code(row["field"]), _code(row["default"])
    without = load(f"targets: [{{{TARGET}}}]" if table.endswith(("targets", "defaults")) else "", "c.yml")
    assert load(_document(table, field, f'"{default}"'), "c.yml") == without


def test_defaults_apply_to_targets_like_the_target_field():
    for row in TABLES["Config file/defaults"]:
        field, example = _code(row["field"]), _code(row["example"])
        via_defaults = load(_document("Config file/defaults", field, example), "c.yml").targets[0]
        direct = load(_document("Config file/targets", field, example), "c.yml").targets[0]
        assert via_defaults == direct, field


def _yaml_block(section: str) -> str:
    part = DOC.split(f"## {section}\n", 1)[1]
    return re.search(r"```yaml\n(.*?)```", part, re.DOTALL).group(1)


def test_config_file_example_loads():
    config = load(_yaml_block("Config file"), "example.yml")
    assert [t.name for t in config.targets] == ["vllm-qwen", "tgi-qwen"]
    assert config.targets[1].bearer_token_file == "/var/run/secrets/tgi/token"


def test_web_config_example_loads(tmp_path):
    for name, fixture in (("tls.crt", "test-cert.pem"), ("tls.key", "test-key.pem")):
        (tmp_path / name).write_bytes((REPO / "tests" / "fixtures" / "config" / fixture).read_bytes())
    text = _yaml_block("Web config file").replace("/etc/llm-exporter/", f"{tmp_path}/")
    web = webconfig.load(text, "web.yml")
    assert web.tls is not None and web.tls.min_version == "TLS12"
    assert [user for user, _ in web.users] == ["prometheus"]
    assert yaml.safe_load(text)["basic_auth_users"]["prometheus"].startswith("$2y$")


def _tour_sections() -> dict[str, str]:
    tour = (REPO / "docs" / "dashboards-tour.md").read_text(encoding="utf-8")
    return {part.split("\n", 1)[0]: part for part in tour.split("\n## ")[1:]}


def test_dashboards_tour_walks_every_dashboard_and_row():
    sections = _tour_sections()
    dashboards = [json.loads(path.read_text()) for path in sorted((REPO / "dashboards").glob("*.json"))]
    assert sorted(sections) == sorted(dashboard["title"] for dashboard in dashboards)
    for dashboard in dashboards:
        rows = [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"]
        text = sections[dashboard["title"]]
        assert [row for row in rows if f"**{row}**" not in text] == [], dashboard["title"]
