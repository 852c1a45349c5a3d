"""The project's exporter daemon run as a subprocess (`python -m exporter`) against live or replayed targets."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from prometheus_client.samples import Sample

from tests.support.exposition import scrape, select
from tests.support.ports import Loopback, free_port
from tests.support.process import ManagedProcess, ProcessServer

LAST_SUCCESS = "llm_exporter_last_success_timestamp_seconds"


class ExporterProcess(ProcessServer, Loopback):
    """`python -m exporter --target ... --web.listen-address 127.0.0.1:PORT --scrape.interval ...`."""

    def __init__(
        self, targets: Sequence[str], log_dir: Path, interval: str = "1s", extra_args: Sequence[str] = ()
    ) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "exporter"]
        for target in targets:
            argv += ["--target", target]
        argv += ["--web.listen-address", self.address, "--scrape.interval", interval, *extra_args]
        # /-/ready turns 200 once every target was polled once.
        self.process = ManagedProcess(
            "exporter", argv, f"{self.url}/-/ready", log_dir / f"exporter-{self.port}.log", startup_timeout=30.0
        )

    def scrape(self) -> list[Sample]:
        """The exporter's /metrics, parsed."""
        return scrape(self.metrics_url)

    def scrape_after_poll(self, target: str, since: float, timeout: float = 20.0) -> list[Sample]:
        """/metrics once the exporter has polled `target` successfully after wall-clock time `since`."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self.scrape()
            stamps = [s.value for s in select(samples, LAST_SUCCESS, {"target": target})]
            if stamps and max(stamps) > since:
                return samples
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"exporter did not poll {target} successfully after {since:.3f} within {timeout:.0f}s "
                    f"({LAST_SUCCESS}: {stamps}); {self.process.describe_log()}"
                )
            time.sleep(0.25)
