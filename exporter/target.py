"""One polled engine: fetch, parse, detect, normalize, and the snapshot /metrics renders."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import httpx

from exporter.config import TargetConfig
from exporter.engines import ENGINES
from exporter.family import Family, Sample
from exporter.normalize import Normalizer, Result, detect
from exporter.parse import ParseError, parse
from exporter.scrape import ScrapeError, fetch_identity, fetch_metrics
from exporter.table import Engine

log = logging.getLogger("llm_exporter.target")


@dataclass
class Snapshot:
    """What the last poll of a target left for /metrics to render."""

    up: bool = False
    polled: bool = False
    engine_type: str = "unknown"
    duration: float = 0.0
    last_success: float = 0.0
    families: list[Family] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    error: str = ""


class Target:
    """Polls one engine; poll() runs on the scheduler's thread, snapshot is read by /metrics."""

    def __init__(self, config: TargetConfig, client: httpx.Client):
        self.config = config
        self.client = client
        self.snapshot = Snapshot()
        self.errors: dict[str, int] = {}
        self.identity: dict[str, str] = {}
        self._engine: Engine | None = ENGINES.get(config.engine_type)
        self._normalizer: Normalizer | None = None
        self._detected: Engine | None = None

    def _headers(self) -> dict[str, str] | None:
        if not self.config.bearer_token_file:
            return None
        with open(self.config.bearer_token_file, encoding="utf-8") as handle:
            return {"Authorization": f"Bearer {handle.read().strip()}"}

    def _read_identity(self, engine: Engine) -> None:
        for endpoint in engine.info:
            found = fetch_identity(self.client, self.config.base_url + endpoint.path, endpoint.fields,
                                   self.config.timeout)
            for key, value in found.items():
                self.identity.setdefault(key, value)

    def _normalizer_for(self, engine: Engine) -> Normalizer:
        if self._normalizer is None or self._normalizer.engine is not engine:
            self._read_identity(engine)
            model = self.identity.get("model") or self.config.model
            self._normalizer = Normalizer(engine, self.config.name, model, self.config.histogram_buckets)
        return self._normalizer

    def scrape_once(self) -> tuple[Engine | None, Result | None, list[Family]]:
        """Fetch and map the target once; raises ScrapeError or ParseError."""
        try:
            headers = self._headers()
        except OSError as error:
            raise ScrapeError("auth", f"cannot read bearer_token_file: {error.strerror}") from None
        text = fetch_metrics(self.client, self.config.url, self.config.timeout, self.config.max_response_bytes,
                             headers)
        families = parse(text)
        # A restarting engine (or SGLang before its first request) shows few families: keep the last detection.
        engine = self._engine or detect(families, ENGINES.values()) or self._detected
        self._detected = engine
        if engine is None:
            return None, None, families
        return engine, self._normalizer_for(engine).normalize(families), families

    def poll(self) -> None:
        """One poll; failures become up=0 and one log line, never an exception."""
        started = time.monotonic()
        try:
            engine, result, families = self.scrape_once()
        except (ScrapeError, ParseError) as error:
            kind = error.kind if isinstance(error, ScrapeError) else "parse"
            self._fail(kind, str(error), time.monotonic() - started)
            return
        snapshot = Snapshot(up=True, polled=True, duration=time.monotonic() - started, last_success=time.time())
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
        labels = {"engine_type": engine.engine_type, "model": model or self.identity.get("model") or
                  self.config.model or "unknown", "target": self.config.name,
                  "version": self.identity.get("version", "")}
        return Family("llm_engine_info", "info", "Engine identity: type, model and version.",
                      [Sample("llm_engine_info", labels, 1.0)])

    def _fail(self, kind: str, message: str, duration: float) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        previous = self.snapshot
        if previous.error != message:
            log.warning("target %s: %s", self.config.name, message)
        self.snapshot = Snapshot(up=False, polled=True, engine_type=previous.engine_type, duration=duration,
                                 last_success=previous.last_success, error=message)
