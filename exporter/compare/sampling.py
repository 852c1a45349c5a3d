"""Watch two engines' /metrics over one window: both read at the same moments, each reading mapped onto the schema."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from exporter.config import TargetConfig, metrics_url, redact
from exporter.engines import ENGINES
from exporter.family import Family
from exporter.parse import ParseError, parse
from exporter.scrape import ScrapeError, fetch_metrics
from exporter.table import Engine
from exporter.target import Target


@dataclass(frozen=True)
class Reading:
    """One successful read of a side: when (seconds into the watch, and Unix time) and its unified families by name."""

    at: float
    families: dict[str, Family]
    unix: float = 0.0


@dataclass
class Side:
    """One engine under comparison: where it is, what it turned out to be, what was read and what went wrong."""

    role: str  # before | after
    url: str
    target: Target
    readings: list[Reading] = field(default_factory=list)
    error: str = ""  # set when a read failed; the side is read no more after that
    failed_at: float | None = None
    gpu_url: str = ""  # an llm-exporter's /metrics with the GPUs of the engine's node, when given
    gpu_error: str = ""  # the last failed read of gpu_url; the engine's figures do not depend on it

    @property
    def engine(self) -> Engine | None:
        """The detected engine table, None until a read recognised one."""
        return ENGINES.get(self.target.snapshot.engine_type)

    @property
    def engine_type(self) -> str:
        """The detected engine type, or unknown."""
        return self.target.snapshot.engine_type

    @property
    def model(self) -> str:
        """The model the engine serves, as its metrics or API name it."""
        for reading in self.readings[-1:]:
            for family in reading.families.values():
                for sample in family.samples:
                    return sample.labels.get("model", "unknown")
        return self.target.identity.get("model", "unknown")

    @property
    def version(self) -> str:
        """The engine version its API reports; empty when it reports none."""
        return self.target.identity.get("version", "")

    @property
    def shown_url(self) -> str:
        """The URL as it may be printed (a password in it redacted)."""
        return redact(self.url)


def _checked(role: str, what: str, url: str) -> str:
    try:
        return metrics_url(url)
    except ValueError as error:
        raise ValueError(f"{role} {what} {url!r}: {error}") from None


def open_side(role: str, url: str, client: httpx.Client, timeout: float, gpu_url: str = "") -> Side:
    """A side for a user-typed URL (host:port, base URL or /metrics URL); ValueError names a bad URL.

    `gpu_url` is an llm-exporter next to the engine, whose /metrics carries the node's GPUs.
    """
    full = _checked(role, "URL", url)
    # Native bounds: a comparison wants each engine's full resolution, not the fleet's common bounds.
    config = TargetConfig(url=full, name=role, timeout=timeout, interval=timeout, histogram_buckets="native")
    return Side(role, full, Target(config, client), gpu_url=_checked(role, "GPU URL", gpu_url) if gpu_url else "")


def _gpu_families(side: Side) -> dict[str, Family]:
    """The llm_gpu_* families of the side's GPU URL; empty (and gpu_error set) when it cannot be read."""
    config = side.target.config
    try:
        text = fetch_metrics(side.target.client, side.gpu_url, config.timeout, config.max_response_bytes)
        families = parse(text)
    except (ScrapeError, ParseError) as error:
        side.gpu_error = f"GPU URL: {error}"
        return {}
    side.gpu_error = ""
    return {family.name: family for family in families if family.name.startswith("llm_gpu_")}


def read(side: Side, at: float, unix: float = 0.0) -> None:
    """Read a side once; a failure or an unrecognised engine ends the side's window with a one-line reason."""
    side.target.poll()
    snapshot = side.target.snapshot
    if not snapshot.up:
        side.error, side.failed_at = snapshot.error, at
    elif side.engine is None:
        side.error, side.failed_at = f"{side.shown_url} serves no engine metrics llm-exporter knows", at
    else:
        families = {family.name: family for family in snapshot.families}
        if side.gpu_url:
            families |= _gpu_families(side)
        side.readings.append(Reading(at, families, unix))


Progress = Callable[[float, Sequence[Side]], None]


def watch(
    sides: Sequence[Side],
    duration: float,
    interval: float,
    progress: Progress,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Read every side at the same moments until `duration` has passed, every side failed, or one never answered.

    A side that fails at its first read ends the watch at once: there is nothing to compare it with.
    Returns False when the watch was cut short by Ctrl-C (the readings so far still make a report).
    """
    start = clock()
    with ThreadPoolExecutor(max_workers=len(sides)) as pool:
        try:
            while True:
                at, unix = clock() - start, time.time()
                live = [side for side in sides if not side.error]
                list(pool.map(read, live, [at] * len(live), [unix] * len(live)))
                progress(at, sides)
                left = duration - (clock() - start)
                never = any(side.error and not side.readings for side in sides)
                if left <= 0 or never or all(side.error for side in sides):
                    return True
                sleep(min(interval, left))
        except KeyboardInterrupt:
            return False
