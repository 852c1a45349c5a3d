"""promtool of every supported Prometheus release accepts the generated rules and passes every unit test in
alerts/tests/."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.deps import PROMETHEUS_RELEASES
from tests.support.tools import promtool

ALERTS_DIR = Path(__file__).resolve().parents[2] / "alerts"
TEST_FILES = sorted((ALERTS_DIR / "tests").glob("*.yaml"))

release = pytest.mark.parametrize("release", PROMETHEUS_RELEASES, ids=lambda r: f"prometheus{r}")


def _promtool(release: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(release), *args], capture_output=True, text=True, timeout=300, check=False)


@release
def test_check_rules_accepts_the_rule_file(release: str) -> None:
    path = ALERTS_DIR / "llm-exporter.rules.yaml"
    result = _promtool(release, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(group["rules"]) for group in yaml.safe_load(path.read_text())["groups"])
    assert count > 60 and f"SUCCESS: {count} rules found" in result.stdout


@release
@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.stem)
def test_promtool_unit_tests_pass(release: str, test_file: Path) -> None:
    result = _promtool(release, "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
