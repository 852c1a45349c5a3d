"""Adding an engine is one table module and one fixture, then the project's generators: performed here for a
throw-away engine in a copy of the checkout, which then runs the CLI, `check-config` and the fixture tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

TABLE = '''"""toy: a throw-away engine for the add-an-engine test (names invented, shaped like vLLM's)."""

from exporter.table import Engine, Row

ENGINE = Engine(
    engine_type="toy",
    prefixes=("toy:",),
    labels=(("model_name", "model"),),
    rows=(
        Row("num_requests_running", "llm_requests_running"),
        Row("num_requests_waiting", "llm_requests_waiting"),
        Row("prompt_tokens", "llm_prompt_tokens_total"),
    ),
    ignored=("build_info",),
    programs=("toy-server",),
)
'''

FIXTURE = """# source: invented for tests/integration/test_new_engine.py (no real engine is called toy)
# HELP toy:num_requests_running Requests running.
# TYPE toy:num_requests_running gauge
toy:num_requests_running{model_name="toy-1b"} 3.0
# HELP toy:num_requests_waiting Requests waiting.
# TYPE toy:num_requests_waiting gauge
toy:num_requests_waiting{model_name="toy-1b"} 7.0
# HELP toy:prompt_tokens_total Prompt tokens.
# TYPE toy:prompt_tokens_total counter
toy:prompt_tokens_total{model_name="toy-1b"} 1234.0
# HELP toy:build_info Build.
# TYPE toy:build_info gauge
toy:build_info{version="0.1"} 1.0
"""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this checkout's files (tracked and new), committed so that changes can be listed."""
    copy = tmp_path_factory.mktemp("checkout")
    files = _git(REPO, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    _git(copy, "init", "-q")
    _git(copy, "add", "-A")
    _git(copy, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    return copy


@pytest.fixture(scope="module")
def with_toy(checkout: Path) -> Path:
    """The copy after exactly the documented steps: table, fixture, goldens, `generate all`."""
    (checkout / "exporter" / "engines" / "toy.py").write_text(TABLE, encoding="utf-8")
    (checkout / "tests" / "fixtures" / "engines" / "toy-0.1-synthetic.prom").write_text(FIXTURE, encoding="utf-8")
    for step in (["scripts/update-goldens.py"], ["-m", "exporter", "generate", "all"]):
        done = _run([sys.executable, *step], checkout)
        assert done.returncode == 0, done.stdout + done.stderr
    return checkout


def test_two_hand_made_files_and_the_rest_generated(with_toy: Path):
    changed = {line[3:] for line in _git(with_toy, "status", "--porcelain", "-uall").splitlines()}
    hand_made = {"exporter/engines/toy.py", "tests/fixtures/engines/toy-0.1-synthetic.prom"}
    # Written by the two commands: the golden, the docs' engine tables, runbooks and panels that name the engines
    # lacking a family.
    generated = changed - hand_made
    assert hand_made <= changed
    assert {"README.md", "docs/METRICS.md", "tests/goldens/toy-0.1-synthetic.prom"} <= generated
    outputs = ("README.md", "docs/", "dashboards/", "deploy/kubernetes/dashboards/", "alerts/", "tests/goldens/")
    assert all(path.startswith(outputs) for path in generated), sorted(generated)
    print(f"adding an engine: {len(hand_made)} files by hand, {len(generated)} written by the generators")
    golden = (with_toy / "tests" / "goldens" / "toy-0.1-synthetic.prom").read_text(encoding="utf-8")
    assert 'llm_requests_waiting{engine_type="toy",model="toy-1b",target="toy-0.1-synthetic"} 7.0' in golden


def test_the_cli_and_check_config_accept_the_new_engine(with_toy: Path, tmp_path: Path):
    helped = _run([sys.executable, "-m", "exporter", "--help"], with_toy)
    assert "toy" in helped.stdout
    config = tmp_path / "exporter.yml"
    config.write_text("targets:\n  - url: http://127.0.0.1:9/metrics\n    engine_type: toy\n", encoding="utf-8")
    checked = _run([sys.executable, "-m", "exporter", "check-config", str(config)], with_toy)
    assert checked.returncode == 0, checked.stderr
    assert "engine_type=toy" in checked.stdout
    programs = _run(
        [
            sys.executable,
            "-c",
            "from exporter.gpu.pids import engine_of_command as e; print(e(['/usr/bin/toy-server', '--port', '1']))",
        ],
        with_toy,
    )
    assert programs.stdout.strip() == "toy"


def test_the_fixture_tests_run_for_the_new_engine(with_toy: Path):
    done = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:cacheprovider",
            "-m",
            "not e2e and not gpu",
            "-k",
            "toy",
            "tests",
        ],
        with_toy,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    passed = {line.split("::")[-1].split(" PASSED")[0] for line in done.stdout.splitlines() if " PASSED" in line}
    expected = {
        "test_detection[toy-0.1-synthetic]",
        "test_every_engine_family_is_mapped_or_ignored[toy-0.1-synthetic]",
        "test_every_table_row_is_used_by_some_fixture[toy]",
        "test_golden[toy-0.1-synthetic]",
        "test_golden_parses_back_without_loss[toy-0.1-synthetic]",
    }
    assert expected <= passed, sorted(passed)
