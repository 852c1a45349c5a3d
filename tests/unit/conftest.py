"""The unit tier starts no process: a test that tries belongs in tests/artifacts or tests/integration."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a unit test started a process: {args[:1]!r}; move it to another tier")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
