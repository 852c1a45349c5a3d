"""Redirects from an engine or the proxy in front of it are followed, up to a bound, for /metrics and identity
(review-2026-11-qa finding 17: `HTTP 307 from …/metrics`, where Prometheus would have followed)."""

from __future__ import annotations

import json
from pathlib import Path

from exporter.client import MAX_REDIRECTS
from exporter.config import Config, TargetConfig
from exporter.daemon import Daemon
from tests.support.http_server import LocalHTTPServer, QuietHandler

FIXTURES = Path(__file__).parents[1] / "fixtures" / "engines"
VLLM = (FIXTURES / "vllm-0.32.0-cpu-live.prom").read_bytes()
TGI = (FIXTURES / "tgi-3.3.5-datadog-fixture.prom").read_bytes()
INFO = json.dumps({"model_id": "Qwen/Qwen2.5-0.5B-Instruct", "version": "3.3.5"}).encode()


class _Proxy(QuietHandler):
    """A proxy that moved its routes: /old/* redirects to /*, /loop redirects to itself, /gone to a 404."""

    hits: list[str] = []
    metrics = VLLM

    def do_GET(self) -> None:  # noqa: N802 - http.server dispatches on this name
        """Answer as the proxy's routes say."""
        self.hits.append(self.path)
        if self.path.startswith("/old/"):
            self._redirect(308, self.path.removeprefix("/old"))
        elif self.path.startswith("/loop"):
            self._redirect(302, f"/loop{len(self.hits) % 2}/metrics")
        elif self.path == "/metrics":
            self.send_body(200, self.metrics, "text/plain; version=0.0.4")
        elif self.path == "/info":
            self.send_body(200, INFO, "application/json")
        else:
            self.send_body(404, b"not found\n", "text/plain")

    def _redirect(self, status: int, location: str) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _poll(url: str) -> Daemon:
    daemon = Daemon(Config(targets=(TargetConfig(url=url, name="t0"),)))
    daemon.targets[0].poll()
    return daemon


def test_a_redirected_metrics_url_is_followed():
    _Proxy.hits, _Proxy.metrics = [], VLLM
    with LocalHTTPServer(_Proxy) as proxy:
        target = _poll(f"{proxy.url}/old/metrics").targets[0]
    assert (target.snapshot.up, target.snapshot.engine_type, target.errors) == (True, "vllm", {})
    assert _Proxy.hits[:2] == ["/old/metrics", "/metrics"]


def test_identity_endpoints_follow_redirects_too():
    _Proxy.hits, _Proxy.metrics = [], TGI
    with LocalHTTPServer(_Proxy) as proxy:
        target = _poll(f"{proxy.url}/old/metrics").targets[0]
    assert "/old/info" in _Proxy.hits and "/info" in _Proxy.hits
    info = next(f for f in target.snapshot.families if f.name == "llm_engine_info").samples[0].labels
    assert (info["model"], info["version"]) == ("Qwen/Qwen2.5-0.5B-Instruct", "3.3.5")


def test_a_redirect_loop_is_a_redirect_error_after_a_bounded_number_of_requests():
    _Proxy.hits = []
    with LocalHTTPServer(_Proxy) as proxy:
        target = _poll(f"{proxy.url}/loop/metrics").targets[0]
    assert (target.snapshot.up, target.errors) == (False, {"redirect": 1})
    assert target.snapshot.error == (
        f"{proxy.url}/loop/metrics redirected more than {MAX_REDIRECTS} times (a redirect loop?)"
    )
    # The first request and MAX_REDIRECTS more; the poll's health check asks for /health once after that.
    assert len([hit for hit in _Proxy.hits if hit.startswith("/loop")]) == MAX_REDIRECTS + 1


def test_an_error_after_a_redirect_names_where_it_led():
    _Proxy.hits = []
    with LocalHTTPServer(_Proxy) as proxy:
        target = _poll(f"{proxy.url}/old/gone/metrics").targets[0]
    assert target.errors == {"http_status": 1}
    assert (
        target.snapshot.error == f"HTTP 404 from {proxy.url}/old/gone/metrics (redirected to {proxy.url}/gone/metrics)"
    )
