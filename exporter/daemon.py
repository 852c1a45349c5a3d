"""The running exporter: a scheduler job per target (and one for GPUs), and the body /metrics serves."""

from __future__ import annotations

import logging
import platform
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from exporter import __version__, schema
from exporter.client import Clients
from exporter.config import Config
from exporter.exposition import (
    Encoder,
    FamiliesCollector,
    Part,
    TextEncoder,
    accepts_gzip,
    compress,
    encoder_for,
    family_parts,
    join_parts,
)
from exporter.family import Family, Sample
from exporter.target import TARGET_STATES, Snapshot, Target

log = logging.getLogger("llm_exporter")

# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms). A scrape's thread waits
# for it at each socket call; behind a poll thread parsing a body, 5 ms per wait made the p99 of /metrics several
# times its p50. Switching costs nothing while only one thread runs.
GIL_SWITCH_INTERVAL_S = 0.0005

# A new /metrics body is published at most once per this many times the CPU its last build took (so rebuilding
# stays under about a tenth of a core). With one target that is every poll; with 200 targets polls end 40 times a
# second, and a rebuild after each (each of them over every target) saturated a core.
PUBLISH_GAP_FACTOR = 10.0


class _PhasedInterval(IntervalTrigger):  # type: ignore[misc]  # apscheduler 3 ships no types
    """Every interval from a start date; a first run before it (at once, for readiness) is followed by the start.

    Polls of many targets that all ran every interval from the same instant queued behind each other for the GIL
    at every tick; spread over the interval (as Prometheus spreads its scrapes), each runs nearly alone.
    """

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """The start date after a run before it, else the next tick of the interval."""
        if previous_fire_time is not None and previous_fire_time < self.start_date:
            previous_fire_time = None
        fire_time: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        return fire_time


def _phase(name: str, interval: float) -> float:
    """Where in the interval a target's polls fall: fixed by its name, so a restart keeps the spread."""
    return interval * zlib.crc32(name.encode()) / 2**32


class Collector(Protocol):
    """What the daemon needs of a background collector such as the GPU one."""

    @property
    def up(self) -> bool: ...

    def poll(self) -> None: ...

    def families(self) -> list[Family]: ...

    def close(self) -> None: ...


def _self_family(name: str, samples: list[Sample]) -> Family:
    """A self-metric family with the type and help its schema spec gives (counters stay counters)."""
    spec = schema.spec(name)
    return Family(name, spec.type, spec.help, samples)


# The order engine families take in /metrics, merged from the targets' families or joined from their shares.
_ENGINE_ORDER = [spec.name for spec in schema.ENGINE_SPECS]


def _engine_families(per_target: list[list[Family]]) -> list[Family]:
    """The targets' unified families merged by name, in schema order."""
    engine: dict[str, Family] = {}
    for families in per_target:
        for family in families:
            merged = engine.setdefault(family.name, Family(family.name, family.type, family.help))
            merged.samples.extend(family.samples)
    return [engine[name] for name in _ENGINE_ORDER if name in engine]


class _Share:
    """One target's engine families encoded in each format asked for, kept while its snapshot stays the same.

    A body is the targets' shares joined family by family, so a target's samples are encoded once per poll of
    that target: re-encoding every target after each poll made the work per interval grow with targets squared.
    """

    def __init__(self) -> None:
        self._text = TextEncoder()  # each target remembers its own series' line prefixes
        self._encoded: tuple[Snapshot | None, dict[str, dict[str, Part]]] = (None, {})

    def parts(self, snapshot: Snapshot, content_type: str, encoder: Encoder) -> dict[str, Part]:
        """The snapshot's families in one format, encoded on first use."""
        held, encoded = self._encoded
        if held is not snapshot:
            encoded = {}
            self._encoded = (snapshot, encoded)  # one assignment: a reader sees the old pair or the new one
        parts = encoded.get(content_type)
        if parts is None:
            own = self._text if isinstance(encoder, TextEncoder) else encoder
            parts = encoded[content_type] = family_parts(own, snapshot.families)
        return parts


class _Exposition:
    """What /metrics serves for one state: the targets' shares and the rest (GPU, self-metrics), and the bodies
    encoded from them."""

    def __init__(self, state: tuple[object, ...], engine: list[tuple[_Share, Snapshot]], rest: FamiliesCollector):
        self.state = state  # held, so compared with `is`, never by an id that could be reused
        self.engine = engine
        self.rest = rest
        self.bodies: dict[tuple[str, bool], bytes] = {}

    def built_from(self, state: tuple[object, ...]) -> bool:
        """True if state holds the same objects this exposition was built from."""
        return len(state) == len(self.state) and all(a is b for a, b in zip(state, self.state, strict=True))

    def body(self, content_type: str, zipped: bool, encoder: Encoder) -> bytes:
        """The body in one format, encoded on first use."""
        body = self.bodies.get((content_type, zipped))
        if body is None:
            shares = [share.parts(snapshot, content_type, encoder) for share, snapshot in self.engine]
            body = join_parts(_ENGINE_ORDER, shares) + encoder(self.rest)
            body = self.bodies[content_type, zipped] = compress(body) if zipped else body
        return body


class Daemon:
    """Owns the targets, their schedule and the optional GPU collector."""

    def __init__(self, config: Config, gpu_factory: Callable[[Config], Collector] | None = None):
        self.config = config
        self.clients = Clients()
        self.targets = [Target(target, self.clients.get(target.tls)) for target in config.targets]
        self._shares: dict[Target, _Share] = {}
        self.config_reload_ok = True
        self._lock = threading.Lock()
        self._exposition: _Exposition | None = None
        # Poll jobs under way plus a deferred publication: while any is owed, scrapes get the last published body.
        self._owed = 0
        self._owed_lock = threading.Lock()
        self._deferred: threading.Timer | None = None
        self._published_at = 0.0  # monotonic time and thread CPU of the last build
        self._build_cpu = 0.0
        # (content type, gzipped) -> encoder, for every format a scraper asked for: encoded ahead after each poll.
        self._wanted: dict[tuple[str, bool], Encoder] = {}
        self._text = TextEncoder()  # for the GPU and self-metrics; each target's share has its own
        self._gpu_factory = gpu_factory
        self.gpu = self._new_gpu(config)
        # Threads are started lazily, one per job running at once, so a hung engine (or a wedged NVML call) never
        # delays another target; the cap only bounds a config with very many targets.
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(64)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def _schedule(self, targets: list[Target]) -> None:
        now = datetime.now(UTC)
        for target in targets:
            name, interval = target.config.name, target.config.interval
            start = now + timedelta(seconds=_phase(name, interval))
            self.scheduler.add_job(
                self._then_prepare(target.poll),
                _PhasedInterval(seconds=interval, start_date=start, timezone=UTC),
                id=f"target:{name}",
                name=f"poll of target {name}",  # what apscheduler's "skipped" warning names
                next_run_time=now,
            )

    def _new_gpu(self, config: Config) -> Collector | None:
        return self._gpu_factory(config) if self._gpu_factory and config.gpu.enabled != "false" else None

    def _schedule_gpu(self) -> None:
        if self.gpu is not None:
            self.scheduler.add_job(
                self._then_prepare(self.gpu.poll),
                "interval",
                seconds=self.config.gpu.interval,
                id="gpu",
                next_run_time=datetime.now(UTC),
            )

    def _apply_gpu(self, config: Config) -> None:
        """Follow a changed gpu section: the old collector stops, a new one (if enabled) starts at the new interval."""
        gpu = config.gpu
        if gpu == self.config.gpu:
            return
        old, self.gpu = self.gpu, self._new_gpu(config)
        self.config = replace(self.config, gpu=gpu)
        if old is not None:
            if self.scheduler.running:
                self.scheduler.remove_job("gpu")
            old.close()
        if self.scheduler.running:
            self._schedule_gpu()
        log.info("gpu collector %s", f"every {gpu.interval:g}s" if self.gpu is not None else "off")

    def _then_prepare(self, poll: Callable[[], None]) -> Callable[[], None]:
        def job() -> None:
            self._owe(1)
            try:
                poll()
                self._after_poll()
            finally:
                self._owe(-1)

        return job

    def _owe(self, change: int) -> None:
        with self._owed_lock:
            self._owed += change

    def start(self) -> None:
        """Start polling now and then at each target's interval."""
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self._schedule(self.targets)
        self._schedule_gpu()
        self.scheduler.start()
        log.info(
            "polling %d target(s): %s",
            len(self.targets),
            ", ".join(f"{t.config.name} every {t.config.interval:g}s" for t in self.targets) or "none",
        )

    def apply(self, config: Config) -> None:
        """Switch to a new config: unchanged targets keep their state and schedule, the others (and a changed gpu
        section) start afresh."""
        old = {target.config: target for target in self.targets}
        targets = [old.get(target) or Target(target, self.clients.get(target.tls)) for target in config.targets]
        kept = {id(target) for target in targets}
        started = [target for target in targets if target.config not in old]
        if self.scheduler.running:
            for target in self.targets:
                if id(target) not in kept:
                    self.scheduler.remove_job(f"target:{target.config.name}")
            self._schedule(started)
        self.targets = targets
        self.config = replace(self.config, targets=config.targets)
        self.clients.keep_only({target.tls for target in config.targets})
        self._apply_gpu(config)

    def stop(self) -> None:
        """Stop polling and release connections."""
        self.scheduler.shutdown(wait=False)
        with self._owed_lock:
            if self._deferred is not None:
                self._deferred.cancel()
        if self.gpu is not None:
            self.gpu.close()
        self.clients.close()

    @property
    def ready(self) -> bool:
        """True once every target has been polled at least once."""
        return all(target.snapshot.polled for target in self.targets)

    def families(self) -> list[Family]:
        """Every family /metrics serves: engine snapshots, GPU snapshot, self-metrics."""
        return _engine_families([target.snapshot.families for target in self.targets]) + self._rest_families()

    def _rest_families(self) -> list[Family]:
        """The GPU snapshot's families and the self-metrics."""
        gpu = list(self.gpu.families()) if self.gpu is not None else []
        return gpu + self._self_families()

    def _self_families(self) -> list[Family]:
        snaps = [(t.config.name, t.snapshot) for t in self.targets]
        families = [
            _self_family(
                "llm_exporter_target_up",
                [
                    Sample("llm_exporter_target_up", {"target": name, "engine_type": s.engine_type}, float(s.up))
                    for name, s in snaps
                ],
            ),
            _self_family(
                "llm_exporter_target_state",
                [
                    Sample(
                        "llm_exporter_target_state",
                        {"target": name, "engine_type": s.engine_type, "state": state},
                        float(s.state == state),
                    )
                    for name, s in snaps
                    for state in TARGET_STATES
                ],
            ),
            _self_family(
                "llm_exporter_scrape_duration_seconds",
                [
                    Sample("llm_exporter_scrape_duration_seconds", {"target": name}, s.duration)
                    for name, s in snaps
                    if s.polled
                ],
            ),
            _self_family(
                "llm_exporter_last_success_timestamp_seconds",
                [
                    Sample("llm_exporter_last_success_timestamp_seconds", {"target": name}, s.last_success)
                    for name, s in snaps
                    if s.last_success
                ],
            ),
            _self_family(
                "llm_exporter_scrape_errors_total",
                [
                    Sample("llm_exporter_scrape_errors_total", {"target": t.config.name, "error": kind}, float(count))
                    for t in self.targets
                    for kind, count in sorted(t.errors.items())
                ],
            ),
            _self_family(
                "llm_exporter_unmapped_families",
                [
                    Sample("llm_exporter_unmapped_families", {"target": name}, float(len(s.unmapped)))
                    for name, s in snaps
                    if s.up
                ],
            ),
            _self_family(
                "llm_exporter_build_info",
                [
                    Sample(
                        "llm_exporter_build_info",
                        {"version": __version__, "python_version": platform.python_version()},
                        1.0,
                    )
                ],
            ),
            _self_family(
                "llm_exporter_config_last_reload_successful",
                [Sample("llm_exporter_config_last_reload_successful", {}, float(self.config_reload_ok))],
            ),
        ]
        if self.gpu is not None:
            families.append(
                _self_family(
                    "llm_exporter_collector_up",
                    [Sample("llm_exporter_collector_up", {"collector": "gpu"}, float(self.gpu.up))],
                )
            )
        return families

    def _state(self, snapshots: list[Snapshot]) -> tuple[object, ...]:
        """Everything /metrics is built from, the targets' snapshots first; a poll or a reload replaces one."""
        gpu = self.gpu.families() if self.gpu is not None else None
        return (
            *snapshots,
            gpu,
            self.gpu.up if self.gpu is not None else None,
            self.config_reload_ok,
        )

    def _current(self, wait_for_poll: bool = False) -> _Exposition:
        """The exposition of the current state, built when the state changed.

        With wait_for_poll, a scrape that arrives while a publication is owed (a poll job under way, or a rebuild
        deferred) gets the last published exposition instead of building one: scrapes never pay for a poll's work.
        """
        current = self._exposition
        if current is not None and (
            (wait_for_poll and self._owed) or current.built_from(self._state([t.snapshot for t in self.targets]))
        ):
            return current
        with self._lock:
            # Read under the lock: state read before it could be older than what another thread published
            # meanwhile, and a body built from it would take counters backwards (a reset to Prometheus).
            targets = self.targets
            snapshots = [target.snapshot for target in targets]
            state = self._state(snapshots)
            current = self._exposition
            if current is None or not current.built_from(state):
                started, self._published_at = time.thread_time(), time.monotonic()
                self._shares = {target: self._shares.get(target) or _Share() for target in targets}
                engine = [(self._shares[target], snapshot) for target, snapshot in zip(targets, snapshots, strict=True)]
                current = _Exposition(state, engine, FamiliesCollector(self._rest_families()))
                for (content_type, zipped), encoder in list(self._wanted.items()):
                    current.body(content_type, zipped, encoder)
                self._exposition = current
                self._build_cpu = time.thread_time() - started
        return current

    def exposition(self, accept: str | None = None, accept_encoding: str | None = None) -> tuple[bytes, str, bool]:
        """(body, content type, gzipped) of /metrics for a scraper's Accept and Accept-Encoding headers.

        Bodies are built and encoded once per change of state, on the poll's thread for the formats scrapers
        asked for before, so a scrape is a lookup, never an engine call nor, usually, an encoding.
        """
        encoder, content_type = encoder_for(accept, self._text)
        zipped = accepts_gzip(accept_encoding)
        self._wanted[content_type, zipped] = encoder
        return self._current(wait_for_poll=True).body(content_type, zipped, encoder), content_type, zipped

    def _after_poll(self) -> None:
        """Build and encode what the next scrapes will ask for and publish it, now or, if the last build was too
        recent for its cost, once later for every poll that ends meanwhile."""
        with self._owed_lock:
            now = time.monotonic()
            wait = self._published_at + PUBLISH_GAP_FACTOR * self._build_cpu - now
            if wait <= 0:
                self._published_at = now  # this poll builds: polls ending meanwhile wait for the next slot
            elif self._deferred is None:
                self._owed += 1
                self._deferred = threading.Timer(wait, self._publish_deferred)
                self._deferred.daemon = True
                self._deferred.start()
        if wait <= 0:
            self._current()

    def _publish_deferred(self) -> None:
        with self._owed_lock:
            self._deferred = None
        try:
            self._current()
        finally:
            self._owe(-1)

    def render(self) -> str:
        """The text-format /metrics body, uncompressed."""
        return self.exposition()[0].decode("utf-8")
