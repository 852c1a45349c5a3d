"""The running exporter: a scheduler job per target (and one for GPUs), and the body /metrics serves."""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

import httpx
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from exporter import __version__, schema
from exporter.config import Config
from exporter.exposition import FamiliesCollector, accepts_gzip, compress, encoder_for
from exporter.family import Family, Sample
from exporter.target import TARGET_STATES, Target

log = logging.getLogger("llm_exporter")


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


def _engine_families(per_target: list[list[Family]]) -> list[Family]:
    """The targets' unified families merged by name, in schema order."""
    engine: dict[str, Family] = {}
    for families in per_target:
        for family in families:
            merged = engine.setdefault(family.name, Family(family.name, family.type, family.help))
            merged.samples.extend(family.samples)
    return [engine[spec.name] for spec in schema.ENGINE_SPECS if spec.name in engine]


class Daemon:
    """Owns the targets, their schedule and the optional GPU collector."""

    def __init__(self, config: Config, gpu_factory: Callable[[float], Collector] | None = None):
        self.config = config
        self.client = httpx.Client(follow_redirects=False)
        self.targets = [Target(target, self.client) for target in config.targets]
        self.config_reload_ok = True
        self.gpu = gpu_factory(config.gpu.interval) if gpu_factory else None
        # Threads are started lazily, one per job running at once, so a hung engine (or a wedged NVML call) never
        # delays another target; the cap only bounds a config with very many targets.
        self.scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(64)},
                                             job_defaults={"coalesce": True, "max_instances": 1,
                                                           "misfire_grace_time": None})

    def _schedule(self, targets: list[Target]) -> None:
        for target in targets:
            self.scheduler.add_job(target.poll, "interval", seconds=target.config.interval,
                                   id=f"target:{target.config.name}", next_run_time=datetime.now(UTC))

    def start(self) -> None:
        """Start polling now and then at each target's interval."""
        self._schedule(self.targets)
        if self.gpu is not None:
            self.scheduler.add_job(self.gpu.poll, "interval", seconds=self.config.gpu.interval,
                                   id="gpu", next_run_time=datetime.now(UTC))
        self.scheduler.start()
        log.info("polling %d target(s): %s", len(self.targets),
                 ", ".join(f"{t.config.name} every {t.config.interval:g}s" for t in self.targets) or "none")

    def apply(self, config: Config) -> None:
        """Switch to a new target set: unchanged targets keep their state and schedule, the others start afresh."""
        old = {target.config: target for target in self.targets}
        targets = [old.get(target) or Target(target, self.client) for target in config.targets]
        kept = {id(target) for target in targets}
        started = [target for target in targets if target.config not in old]
        if self.scheduler.running:
            for target in self.targets:
                if id(target) not in kept:
                    self.scheduler.remove_job(f"target:{target.config.name}")
            self._schedule(started)
        self.targets = targets
        self.config = replace(self.config, targets=config.targets)

    def stop(self) -> None:
        """Stop polling and release connections."""
        self.scheduler.shutdown(wait=False)
        if self.gpu is not None:
            self.gpu.close()
        self.client.close()

    @property
    def ready(self) -> bool:
        """True once every target has been polled at least once."""
        return all(target.snapshot.polled for target in self.targets)

    # What the last /metrics body was built from, held (so compared with `is`, never by an id that could be
    # reused), and the bodies encoded from it: rebuilt only when a poll or a reload changes something.
    _state: tuple[object, ...] = ()
    _collector: FamiliesCollector | None = None
    _bodies: dict[tuple[str, bool], bytes] = {}

    def families(self) -> list[Family]:
        """Every family /metrics serves: engine snapshots, GPU snapshot, self-metrics."""
        gpu = list(self.gpu.families()) if self.gpu is not None else []
        return _engine_families([target.snapshot.families for target in self.targets]) + gpu + self._self_families()

    def _self_families(self) -> list[Family]:
        snaps = [(t.config.name, t.snapshot) for t in self.targets]
        families = [
            _self_family("llm_exporter_target_up", [Sample("llm_exporter_target_up",
                         {"target": name, "engine_type": s.engine_type}, float(s.up)) for name, s in snaps]),
            _self_family("llm_exporter_target_state", [Sample("llm_exporter_target_state",
                         {"target": name, "engine_type": s.engine_type, "state": state}, float(s.state == state))
                         for name, s in snaps for state in TARGET_STATES]),
            _self_family("llm_exporter_scrape_duration_seconds", [Sample("llm_exporter_scrape_duration_seconds",
                         {"target": name}, s.duration) for name, s in snaps if s.polled]),
            _self_family("llm_exporter_last_success_timestamp_seconds", [Sample(
                "llm_exporter_last_success_timestamp_seconds", {"target": name}, s.last_success)
                for name, s in snaps if s.last_success]),
            _self_family("llm_exporter_scrape_errors_total", [Sample("llm_exporter_scrape_errors_total",
                         {"target": t.config.name, "error": kind}, float(count))
                         for t in self.targets for kind, count in sorted(t.errors.items())]),
            _self_family("llm_exporter_unmapped_families", [Sample("llm_exporter_unmapped_families",
                         {"target": name}, float(len(s.unmapped))) for name, s in snaps if s.up]),
            _self_family("llm_exporter_build_info", [Sample("llm_exporter_build_info",
                         {"version": __version__, "python_version": platform.python_version()}, 1.0)]),
            _self_family("llm_exporter_config_last_reload_successful", [Sample(
                "llm_exporter_config_last_reload_successful", {}, float(self.config_reload_ok))]),
        ]
        if self.gpu is not None:
            families.append(_self_family("llm_exporter_collector_up", [Sample(
                "llm_exporter_collector_up", {"collector": "gpu"}, float(self.gpu.up))]))
        return families

    def exposition(self, accept: str | None = None, accept_encoding: str | None = None) -> tuple[bytes, str, bool]:
        """(body, content type, gzipped) of /metrics for a scraper's Accept and Accept-Encoding headers.

        Built and encoded once per change of the snapshots, so a scrape costs a lookup, never an engine call.
        """
        gpu = self.gpu.families() if self.gpu is not None else None
        state = (*(target.snapshot for target in self.targets), gpu,
                 self.gpu.up if self.gpu is not None else None, self.config_reload_ok)
        if self._collector is None or len(state) != len(self._state) or \
                any(new is not old for new, old in zip(state, self._state, strict=True)):
            self._state, self._collector, self._bodies = state, FamiliesCollector(self.families()), {}
        encoder, content_type = encoder_for(accept)
        zipped = accepts_gzip(accept_encoding)
        body = self._bodies.get((content_type, zipped))
        if body is None:
            body = encoder(self._collector)
            body = self._bodies[content_type, zipped] = compress(body) if zipped else body
        return body, content_type, zipped

    def render(self) -> str:
        """The text-format /metrics body, uncompressed."""
        return self.exposition()[0].decode("utf-8")
