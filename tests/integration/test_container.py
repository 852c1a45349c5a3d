"""The Dockerfile's steps replayed without a Docker engine: the build stage's install on exactly the files the
build context lets through, and the HEALTHCHECK command against a live exporter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

from tests.artifacts.test_deploy_docker import PORT, REPO, _build_context, _value
from tests.support.exporter import ExporterProcess


def _healthcheck() -> list[str]:
    value = _value("HEALTHCHECK")
    command = json.loads(value.split("CMD", 1)[1].strip())
    assert f"http://127.0.0.1:{PORT}/-/healthy" in command[-1]
    return command


def _run_healthcheck(port: int) -> int:
    command = [part.replace(f":{PORT}/", f":{port}/") for part in _healthcheck()]
    assert command[0] == "python"
    return subprocess.run([sys.executable, *command[1:]], capture_output=True, timeout=30, check=False).returncode


def test_healthcheck_passes_on_a_live_exporter_and_fails_once_it_stops(tmp_path):
    exporter = ExporterProcess([], tmp_path)
    exporter.start()
    try:
        assert _run_healthcheck(exporter.port) == 0
    finally:
        exporter.stop()
    assert _run_healthcheck(exporter.port) != 0


def test_build_stage_install_works_on_the_build_context(tmp_path):
    source = tmp_path / "src"
    for path in _build_context():
        target = source / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    # The image runs `pip install .`; building the wheel from the same files proves the context is enough.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path / "wheels"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    (wheel,) = (tmp_path / "wheels").glob("llm_exporter-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(archive.read(name).decode() for name in names if name.endswith("entry_points.txt"))
    assert "exporter/cli.py" in names and "exporter/engines/vllm.py" in names
    assert "llm-exporter = exporter.cli:main" in entry_points
