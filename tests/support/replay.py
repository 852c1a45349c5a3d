"""A stand-in engine that replays a real /metrics capture, for tests that need an engine without running one."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.http_server import LocalHTTPServer, QuietHandler

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class _ReplayHandler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server dispatches on this name
        replay: ReplayServer = self.owner
        replay.record(self.path)
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self.send_body(200, replay.metrics, replay.content_type)
        elif path in replay.json_routes:
            self.send_body(200, json.dumps(replay.json_routes[path]).encode(), "application/json")
        else:
            self.send_body(404, b"not found\n", "text/plain")


class ReplayServer(LocalHTTPServer):
    """Serves fixed bytes as GET /metrics and JSON documents at other paths; records every path requested."""

    def __init__(
        self,
        metrics: bytes,
        json_routes: Mapping[str, Any] | None = None,
        content_type: str = PROMETHEUS_TEXT,
        port: int | None = None,
    ) -> None:
        super().__init__(_ReplayHandler, port)
        self.metrics = metrics
        self.json_routes = dict(json_routes or {})
        self.content_type = content_type
        self._requests: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, fixture: Path, json_routes: Mapping[str, Any] | None = None) -> ReplayServer:
        """A replay server for the bytes of `fixture`."""
        return cls(fixture.read_bytes(), json_routes)

    def set_metrics(self, metrics: bytes) -> None:
        """Serve `metrics` from now on (e.g. a later capture, to move counters forward)."""
        self.metrics = metrics

    def record(self, path: str) -> None:
        """Remember that `path` was requested."""
        with self._lock:
            self._requests.append(path)

    @property
    def requests(self) -> list[str]:
        """Paths requested so far, in order."""
        with self._lock:
            return list(self._requests)
