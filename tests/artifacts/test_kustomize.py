"""kubectl's built-in kustomize builds deploy/kubernetes into exactly the objects its files hold."""

from __future__ import annotations

import subprocess

import yaml

from tests.support.tools import tool
from tests.unit.mixin.test_kubernetes import DEPLOY, _objects


def test_kustomize_builds_every_object() -> None:
    result = subprocess.run([tool("kubectl"), "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=120,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    built = [document for document in yaml.safe_load_all(result.stdout) if document]
    assert sorted(document["kind"] for document in built) == sorted(document["kind"] for _, document in _objects())
