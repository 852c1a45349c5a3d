"""promtool accepts the generated rules and every unit test in alerts/tests/ passes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ALERTS_DIR = Path(__file__).resolve().parent.parent / "alerts"
TEST_FILES = sorted((ALERTS_DIR / "tests").glob("*.yaml"))
PROMTOOL = shutil.which("promtool")


@pytest.fixture(autouse=True)
def _promtool_installed():
    assert PROMTOOL, "promtool is not installed: run scripts/install-test-deps.sh"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, timeout=300, check=False)


def test_check_rules_accepts_the_rule_file() -> None:
    path = ALERTS_DIR / "llm-exporter.rules.yaml"
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(group["rules"]) for group in yaml.safe_load(path.read_text())["groups"])
    assert count > 60 and f"SUCCESS: {count} rules found" in result.stdout


def test_there_is_a_test_file_per_alert_family() -> None:
    assert [p.stem for p in TEST_FILES] == [
        "availability",
        "errors",
        "gpu",
        "kv_cache",
        "kv_hpa",
        "lifecycle",
        "preemption",
        "prefix_cache",
        "prefix_rollout",
        "queue",
        "queue_pressure",
        "recording",
        "replicas",
        "slo",
        "slo_engines",
        "stalled",
    ]


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.stem)
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    result = _promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
