"""The Dockerfile: lint-clean, multi-stage, non-root, on the default port, its build context exact (the steps
that run something are replayed in tests/integration/test_container.py)."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import tomllib
from pathlib import Path

from dockerfile_parse import DockerfileParser

from exporter.config import DEFAULT_LISTEN_ADDRESS
from tests.support.tools import tool

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = DockerfileParser(path=str(REPO / "Dockerfile"))
INSTRUCTIONS = [
    (item["instruction"], item["value"]) for item in DOCKERFILE.structure if item["instruction"] != "COMMENT"
]
PORT = DEFAULT_LISTEN_ADDRESS.rsplit(":", 1)[1]


def _final_stage() -> list[tuple[str, str]]:
    last_from = max(index for index, (name, _) in enumerate(INSTRUCTIONS) if name == "FROM")
    return INSTRUCTIONS[last_from:]


def _value(name: str) -> str:
    (value,) = [value for instruction, value in _final_stage() if instruction == name]
    return value


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [tool("hadolint"), "--format", "json", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0


def test_build_is_multi_stage_on_a_slim_python():
    stages = [value for name, value in INSTRUCTIONS if name == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    assert DOCKERFILE.baseimage.startswith("python:3.11-slim")
    assert any(name == "COPY" and value.startswith("--from=build ") for name, value in _final_stage())


def test_runs_as_a_numeric_non_root_user():
    user, _, group = _value("USER").partition(":")
    assert user.isdigit() and int(user) != 0 and group.isdigit() and int(group) != 0


def test_exposes_the_default_port():
    assert _value("EXPOSE") == PORT


def test_entrypoint_is_the_console_script():
    entrypoint = json.loads(_value("ENTRYPOINT"))
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["llm-exporter"] and "llm-exporter" in scripts


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path (or a parent of it) decides."""
    ignored = False
    parents = [path] + [str(parent) for parent in Path(path).parents if str(parent) != "."]
    for pattern in patterns:
        negated = pattern.startswith("!")
        if any(fnmatch.fnmatch(candidate, pattern.lstrip("!").rstrip("/")) for candidate in parents):
            ignored = not negated
    return ignored


def _build_context() -> list[Path]:
    """The repository files the build context sends to Docker, after .dockerignore."""
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [REPO / name for name in tracked if not _ignored(name, patterns)]


def test_build_context_holds_exactly_what_the_copies_need():
    context = {path.relative_to(REPO).as_posix() for path in _build_context()}
    copied = [
        source
        for name, value in INSTRUCTIONS
        if name == "COPY" and not value.startswith("--from")
        for source in value.split()[:-1]
    ]
    for source in copied:
        assert any(name == source or name.startswith(source + "/") for name in context), f"{source} not in context"
    assert all(name.split("/")[0] in copied for name in context), "files in the context that no COPY uses"
