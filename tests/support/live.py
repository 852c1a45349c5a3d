"""A live engine and the exporter polling it, both read at one settled moment after the test's traffic."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from prometheus_client.samples import Sample

from tests.support.engines import EngineServer
from tests.support.exporter import ExporterProcess
from tests.support.exposition import scrape, scrape_settled
from tests.support.process import running
from tests.support.traffic import TrafficResult, send_completions

TrafficT = TypeVar("TrafficT")


@dataclass(frozen=True)
class Observed(Generic[TrafficT]):
    """The engine's own /metrics and the exporter's, read at the same settled moment, and the traffic behind them."""

    engine: list[Sample]
    exported: list[Sample]
    labels: dict[str, str]
    traffic: TrafficT


def observe(
    engine: EngineServer,
    exporter: ExporterProcess,
    traffic: TrafficT,
    settle_on: Collection[str],
    read: Callable[[list[Sample]], object],
) -> Observed[TrafficT]:
    """The engine's /metrics once its `settle_on` samples stop moving, and the exporter's after its next poll.

    Raises AssertionError if the engine, as `read` sees it, moved on while the exporter polled: no traffic ran
    since the settled scrape, so the two sides must have seen one state.
    """
    settled = scrape_settled(engine.metrics_url, settle_on)
    exported = exporter.scrape_after_poll(engine.target, since=time.time())
    before, after = read(settled), read(scrape(engine.metrics_url))
    if after != before:
        raise AssertionError(f"{engine.engine_type} moved on while the exporter polled: {before} then {after}")
    return Observed(settled, exported, engine.exported_labels, traffic)


@contextmanager
def observed_after_traffic(
    engine: EngineServer, log_dir: Path, settle_on: Collection[str], read: Callable[[list[Sample]], object]
) -> Iterator[Observed[TrafficResult]]:
    """An exporter polling `engine` each second, `observe`d after 16 completions; stopped when the block ends.

    The 16 requests run 4 at a time, 10 share a ~450-token prefix (prefix-cache hits) and half are streamed.
    """
    engine.ensure_running()
    with running(ExporterProcess([engine.base_url], log_dir, interval="1s")) as exporter:
        traffic = send_completions(
            engine.base_url, engine.model, count=16, shared=10, concurrency=4, mix_streaming=True
        )
        yield observe(engine, exporter, traffic, settle_on, read)
