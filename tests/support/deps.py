"""Where scripts/install-test-deps.sh puts the engine venvs and Prometheus releases; a clear error when missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

INSTALL_HINT = "run scripts/install-test-deps.sh first (it installs the engines and Prometheus for the e2e tests)"


class MissingTestDependencyError(RuntimeError):
    """Something the live tests need was not installed."""


def cache_dir() -> Path:
    """The install script's cache: $LLM_EXPORTER_CACHE, else ~/.cache/llm-exporter."""
    configured = os.environ.get("LLM_EXPORTER_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "llm-exporter"


def venv_python(name: str) -> Path:
    """Python of the engine venv `name` ("vllm" or "sglang"); MissingTestDependencyError if not installed."""
    venv = cache_dir() / f"{name}-venv"
    python = venv / "bin" / "python"
    # The install script writes the marker last, so a venv without it is a broken or interrupted install.
    if not python.exists() or not (venv / ".llm-exporter-install").exists():
        raise MissingTestDependencyError(f"no complete {name} venv at {venv}: {INSTALL_HINT}")
    return python


def cuda_stub_dir() -> Path:
    """Folder holding the stub libcuda.so.1 that SGLang's CPU engine loads."""
    stub = cache_dir() / "cudastub"
    if not (stub / "libcuda.so.1").exists():
        raise MissingTestDependencyError(f"no stub libcuda.so.1 in {stub}: {INSTALL_HINT}")
    return stub


def require_binary(name: str) -> str:
    """Full path of the program `name` on PATH; raise MissingTestDependencyError if absent."""
    found = shutil.which(name)
    if found is None:
        raise MissingTestDependencyError(f"{name} is not on PATH: {INSTALL_HINT}")
    return found


# Prometheus releases the tests know: Debian bookworm's 2.42 (with Alertmanager 0.25), installed system-wide, and
# Debian sid's 3.5 LTS (with Alertmanager 0.33), unpacked into the cache by scripts/install-test-deps.sh.
PROMETHEUS_RELEASES = ("2", "3")
# The live tests run the release most users run; LLM_EXPORTER_PROMETHEUS=2 runs them on the 2.x one instead.
LIVE_PROMETHEUS_RELEASE = os.environ.get("LLM_EXPORTER_PROMETHEUS", "3")


def prometheus_binary(program: str, release: str = LIVE_PROMETHEUS_RELEASE) -> str:
    """Path of `program` (prometheus, promtool, amtool, prometheus-alertmanager) from Prometheus `release`."""
    if release not in PROMETHEUS_RELEASES:
        raise ValueError(f"unknown Prometheus release {release!r}: expected one of {PROMETHEUS_RELEASES}")
    if release == "2":
        return require_binary(program)
    binary = cache_dir() / "prom3" / "usr" / "bin" / program
    if not os.access(binary, os.X_OK):
        raise MissingTestDependencyError(f"no {program} from Prometheus 3 at {binary}: {INSTALL_HINT}")
    return str(binary)
