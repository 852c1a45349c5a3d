"""One polled engine: fetch, parse, detect, normalize, and the snapshot /metrics renders."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import httpx

from exporter import schema
from exporter.config import TargetConfig
from exporter.engines import ENGINES
from exporter.family import Family, Sample
from exporter.normalize import Normalizer, Resolver, Result, detect
from exporter.parse import ParseError, Parser, SampleLimitError
from exporter.scrape import ScrapeError, fetch_identity, fetch_metrics, fetch_status
from exporter.table import Engine

log = logging.getLogger("llm_exporter.target")

TARGET_STATES = ("ready", "loading", "down")
# A health endpoint answers at once or not at all; after a failed fetch (often a full timeout already) waiting longer
# for it would push the poll past its interval, and the scheduler would skip the next one.
HEALTH_TIMEOUT_S = 1.0


def metrics_paths(engine: Engine | None) -> tuple[str, ...]:
    """Paths other than /metrics where the engine (or, undetected, any engine) serves Prometheus text."""
    engines = [engine] if engine is not None else list(ENGINES.values())
    return tuple(dict.fromkeys(e.metrics_path for e in engines if e.metrics_path != "/metrics"))


@dataclass
class Snapshot:
    """What the last poll of a target left for /metrics to render."""

    up: bool = False
    polled: bool = False
    state: str = "loading"  # ready | loading | down (see llm_exporter_target_state)
    engine_type: str = "unknown"
    duration: float = 0.0
    last_success: float = 0.0
    families: list[Family] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    error: str = ""


class Target:
    """Polls one engine; poll() runs on the scheduler's thread, snapshot is read by /metrics.

    Owns everything that remembers this engine between polls: its parser's and resolver's caches, the detected
    engine, its identity and the normalizer built from them.
    """

    # Identity (model, version) is read again this often, and after every recovery: an engine restarted with
    # another model must not keep the old model label. One small GET a minute costs the engine nothing.
    IDENTITY_REFRESH_S = 60.0

    def __init__(self, config: TargetConfig, client: httpx.Client):
        self.config = config
        self.client = client
        configured = config.engine_type if config.engine_type in ENGINES else "unknown"
        self.snapshot = Snapshot(engine_type=configured)
        self.errors: dict[str, int] = {}
        self.identity: dict[str, str] = {}
        self._engine: Engine | None = ENGINES.get(config.engine_type)
        self._parser = Parser()
        self._resolver = Resolver()
        self._normalizer: Normalizer | None = None
        self._detected: Engine | None = None
        self._identity_read_at = -math.inf
        self._ever_ready = False
        self.mismatch = ""  # why the forced engine_type looks wrong, while it does
        self.url = config.url  # where the metrics are read: the configured URL, or the path a table names

    def _headers(self) -> dict[str, str] | None:
        if not self.config.bearer_token_file:
            return None
        try:
            # utf-8-sig: a token file saved by a Windows editor starts with a byte-order mark.
            with open(self.config.bearer_token_file, encoding="utf-8-sig") as handle:
                return {"Authorization": f"Bearer {handle.read().strip()}"}
        except OSError as error:
            raise ScrapeError("auth", f"cannot read bearer_token_file: {error.strerror}") from None

    def _read_identity(self, engine: Engine, headers: dict[str, str] | None) -> None:
        """Re-read the engine's identity endpoints; a value read now replaces the old one, a failed read keeps it."""
        self._identity_read_at = time.monotonic()
        for endpoint in engine.info:
            found = fetch_identity(
                self.client, self.config.base_url + endpoint.path, endpoint.fields, self.config.timeout, headers
            )
            self.identity.update(found)

    def _normalizer_for(self, engine: Engine, headers: dict[str, str] | None) -> Normalizer:
        stale = time.monotonic() - self._identity_read_at >= self.IDENTITY_REFRESH_S or not self.snapshot.up
        if self._normalizer is None or self._normalizer.engine is not engine or stale:
            self._read_identity(engine, headers)
        model = self.identity.get("model") or self.config.model
        current = self._normalizer
        if current is None or current.engine is not engine or current.model != (model or "unknown"):
            self._normalizer = Normalizer(
                engine, self.config.name, model, self.config.histogram_buckets, self._resolver
            )
        return self._normalizer  # type: ignore[return-value]

    def _read(self, url: str, headers: dict[str, str] | None) -> list[Family]:
        text = fetch_metrics(self.client, url, self.config.timeout, self.config.max_response_bytes, headers)
        return self._parser.parse(text, self.config.sample_limit)

    def _families(self, headers: dict[str, str] | None) -> list[Family]:
        """The parsed scrape; a /metrics that is not Prometheus text sends the target to where a table says the
        engine serves it (trtllm-serve's /prometheus/metrics), and the target stays there."""
        try:
            return self._read(self.url, headers)
        except SampleLimitError:
            raise
        except ParseError:
            if self.url != self.config.url or not self.config.url.endswith("/metrics"):
                raise
            for path in metrics_paths(self._engine):
                try:
                    families = self._read(self.config.base_url + path, headers)
                except (ScrapeError, ParseError):
                    continue
                self.url = self.config.base_url + path
                log.info("target %s: %s is not Prometheus text; reading %s", self.config.name, self.config.url, path)
                return families
            raise

    def scrape_once(self) -> tuple[Engine | None, Result | None, list[Family]]:
        """Fetch and map the target once; raises ScrapeError or ParseError."""
        headers = self._headers()
        families = self._families(headers)
        # A restarting engine (or SGLang before its first request) shows few families: keep the last detection.
        engine = self._engine or detect(families, ENGINES.values(), self._resolver) or self._detected
        self._detected = engine
        if engine is None:
            return None, None, families
        result = self._normalizer_for(engine, headers).normalize(families)
        self._check_forced(result, families)
        return engine, result, families

    def _check_forced(self, result: Result, families: list[Family]) -> None:
        """Warn once when a forced engine_type maps none of the families and another engine's table knows them."""
        looks_like = None if self._engine is None or result.mapped else detect(families, ENGINES.values())
        if looks_like is None:
            self.mismatch = ""
            return
        mismatch = (
            f"engine_type {self.config.engine_type} maps none of the {len(families)} families; "
            f"they look like {looks_like.engine_type} (set engine_type: {looks_like.engine_type}, or auto)"
        )
        if mismatch != self.mismatch:
            log.warning("target %s: %s", self.config.name, mismatch)
        self.mismatch = mismatch

    def poll(self) -> None:
        """One poll; any failure becomes up=0, an error kind and one log line, never an exception."""
        started = time.monotonic()
        try:
            engine, result, families = self.scrape_once()
        except ScrapeError as error:
            self._fail(error.kind, str(error), time.monotonic() - started, error.status)
            return
        except SampleLimitError as error:
            self._fail("too_many_series", str(error), time.monotonic() - started)
            return
        except ParseError as error:
            self._fail("parse", str(error), time.monotonic() - started)
            return
        except Exception as error:  # noqa: BLE001 - a bug must not freeze the target at up=1 with stale data
            log.debug("target %s: internal error while polling", self.config.name, exc_info=True)
            self._fail("internal", f"internal error: {type(error).__name__}: {error}", time.monotonic() - started)
            return
        self._ever_ready = True
        snapshot = Snapshot(
            up=True,
            polled=True,
            state="ready",
            engine_type=self.snapshot.engine_type,
            duration=time.monotonic() - started,
            last_success=time.time(),
        )
        if engine is None or result is None:
            snapshot.unmapped = [family.name for family in families]
        else:
            snapshot.engine_type = engine.engine_type
            snapshot.families = result.families + [self._info_family(engine, result)]
            snapshot.unmapped = result.unmapped
        if not self.snapshot.up and self.snapshot.polled:
            log.info("target %s is back up (%s)", self.config.name, snapshot.engine_type)
        self.snapshot = snapshot

    def _info_family(self, engine: Engine, result: Result) -> Family:
        model = next((s.labels["model"] for f in result.families for s in f.samples), None)
        labels = {
            "engine_type": engine.engine_type,
            "model": model or self.identity.get("model") or self.config.model or "unknown",
            "target": self.config.name,
            "version": self.identity.get("version", ""),
        }
        spec = schema.spec("llm_engine_info")
        return Family(spec.name, spec.type, spec.help, [Sample(spec.name, labels, 1.0)])

    def _state_when_failing(self, status: int | None) -> str:
        """loading when the engine says it is starting or has not been ready since we started; else down."""
        if not self._ever_ready or status == 503:
            return "loading"
        engine = self._engine or self._detected
        path = engine.health if engine is not None else "/health"
        try:
            headers = self._headers()
        except ScrapeError:
            headers = None
        status = fetch_status(
            self.client, self.config.base_url + path, min(self.config.timeout, HEALTH_TIMEOUT_S), headers
        )
        return "loading" if status == 503 else "down"

    def _fail(self, kind: str, message: str, duration: float, status: int | None = None) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        previous = self.snapshot
        if previous.error != message:
            log.warning("target %s: %s", self.config.name, message)
        self.snapshot = Snapshot(
            up=False,
            polled=True,
            state=self._state_when_failing(status),
            engine_type=previous.engine_type,
            duration=duration,
            last_success=previous.last_success,
            error=message,
        )
