"""The gpu section follows a reload (review-2026-11-qa §11.6: after `enabled: "false"` the GPU series and
collector_up stayed, and the reload still answered "Reloaded"), and a bad gpu section is rejected whole."""

from __future__ import annotations

import time
from pathlib import Path

from exporter import cli
from exporter.config import Config
from exporter.daemon import Daemon
from exporter.gpu import GpuCollector
from exporter.parse import parse
from tests.support.fakes.nvml import H200_CAPTURE, FakeGpu, FakeNvml


def _gpu_families(daemon: Daemon) -> set[str]:
    names = {family.name for family in parse(daemon.render())}
    return {name for name in names if name.startswith("llm_gpu_") or name == "llm_exporter_collector_up"}


def _wait_for_gpu(daemon: Daemon) -> set[str]:
    deadline = time.monotonic() + 10
    while "llm_gpu_utilization_ratio" not in _gpu_families(daemon):
        assert time.monotonic() < deadline, "the GPU collector never polled"
        time.sleep(0.05)
    return _gpu_families(daemon)


def _interval(daemon: Daemon) -> float | None:
    job = daemon.scheduler.get_job("gpu")
    return None if job is None else job.trigger.interval.total_seconds()


def test_the_gpu_section_follows_a_reload_and_a_bad_one_is_rejected_whole(tmp_path: Path) -> None:
    path = tmp_path / "exporter.yml"
    path.write_text('gpu:\n  enabled: "true"\n  interval: 5s\n')
    made: list[GpuCollector] = []

    def collector(config: Config) -> GpuCollector:
        made.append(GpuCollector(interval_s=config.gpu.interval, nvml=FakeNvml([FakeGpu.from_capture(H200_CAPTURE)])))
        return made[-1]

    args = cli._run_parser().parse_args(["--config.file", str(path)])
    daemon = Daemon(cli._config(args), collector)
    reload = cli._reloader(args, daemon)
    daemon.start()
    try:
        assert "llm_exporter_collector_up" in _wait_for_gpu(daemon) and _interval(daemon) == 5

        path.write_text('gpu:\n  enabled: "false"\n')
        assert reload() == []
        assert (_gpu_families(daemon), _interval(daemon), daemon.gpu) == (set(), None, None)

        path.write_text("gpu:\n  interval: 2s\n")  # enabled: auto
        assert reload() == []
        assert _wait_for_gpu(daemon) and _interval(daemon) == 2 and len(made) == 2

        path.write_text('gpu:\n  enabled: "false"\n  interval: 0s\n')
        assert reload() == [f"{path}:3: gpu.interval: must be a duration like \"5s\", got '0s'"]
        assert daemon.gpu is made[1] and _interval(daemon) == 2 and not daemon.config_reload_ok
    finally:
        daemon.stop()
