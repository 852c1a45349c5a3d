"""A target given as an engine's base URL finds the metrics where the engine's table says they are: trtllm-serve's
/metrics answers a JSON array of iteration stats, its Prometheus text is at /prometheus/metrics."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from exporter.config import TargetConfig, default_name, metrics_url
from exporter.target import Target
from tests.support.http_server import LocalHTTPServer, QuietHandler

FIXTURES = Path(__file__).parents[1] / "fixtures" / "engines"
TRTLLM = (FIXTURES / "trtllm-050f80de-synthetic.prom").read_bytes()
TRTLLM_BARE = (FIXTURES / "trtllm-2026-03-aibrix-issue2004-bare-partial.prom").read_bytes()
VLLM = (FIXTURES / "vllm-0.32.0-cpu-live.prom").read_bytes()
# What trtllm-serve's /metrics answers (aibrix#2004: `[]` until iteration stats exist, then one object per iteration).
ITERATION_STATS = b'[{"iter": 41, "numActiveRequests": 12, "numQueuedRequests": 5, "kvCacheStats": {}}]'


class _TrtllmServe(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server dispatches on this name
        pages = self.owner.pages
        if self.path in pages:
            body, content_type = pages[self.path]
            self.send_body(200, body, content_type)
        else:
            self.send_body(404, b'{"detail":"Not Found"}', "application/json")


def _serve(pages: dict[str, tuple[bytes, str]]) -> LocalHTTPServer:
    server = LocalHTTPServer(_TrtllmServe)
    server.pages = pages  # type: ignore[attr-defined]
    return server


def _target(base: str, engine_type: str = "auto") -> Target:
    url = metrics_url(base)
    return Target(TargetConfig(url=url, name=default_name(url), engine_type=engine_type, timeout=2.0), httpx.Client())


def _waiting(target: Target) -> float:
    family = next(f for f in target.snapshot.families if f.name == "llm_requests_waiting")
    return family.samples[0].value


TRTLLM_SERVE = {
    "/metrics": (ITERATION_STATS, "application/json"),
    "/prometheus/metrics": (TRTLLM, "text/plain; version=0.0.4; charset=utf-8"),
    "/v1/models": (b'{"object":"list","data":[{"id":"Qwen/Qwen3-8B","object":"model"}]}', "application/json"),
}


@pytest.mark.parametrize("engine_type", ["auto", "trtllm"])
def test_base_url_of_trtllm_serve_finds_prometheus_metrics(engine_type):
    with _serve(TRTLLM_SERVE) as server:
        target = _target(f"127.0.0.1:{server.port}", engine_type)
        target.poll()
        target.poll()  # the second poll reads the found path directly
    assert target.snapshot.up and target.snapshot.engine_type == "trtllm"
    assert target.url == f"http://127.0.0.1:{server.port}/prometheus/metrics"
    assert _waiting(target) == 5.0
    assert target.errors == {}


def test_pre_2026_build_without_prefix_is_detected():
    bare = {"/metrics": (b"[]", "application/json"), "/prometheus/metrics": (TRTLLM_BARE, "text/plain")}
    pages = {**TRTLLM_SERVE, **bare}
    with _serve(pages) as server:
        target = _target(f"http://127.0.0.1:{server.port}/")
        target.poll()
    assert target.snapshot.up and target.snapshot.engine_type == "trtllm"
    names = {f.name for f in target.snapshot.families}
    assert "gen_ai_server_request_duration_seconds" in names


def test_metrics_that_parse_are_never_redirected():
    pages = {"/metrics": (VLLM, "text/plain"), "/prometheus/metrics": (TRTLLM, "text/plain")}
    with _serve(pages) as server:
        target = _target(f"127.0.0.1:{server.port}")
        target.poll()
    assert target.snapshot.engine_type == "vllm"
    assert target.url.endswith(f"{server.port}/metrics")


def test_an_engine_without_another_path_keeps_the_parse_error():
    with _serve(TRTLLM_SERVE) as server:
        target = _target(f"127.0.0.1:{server.port}", "vllm")
        target.poll()
    assert not target.snapshot.up
    assert target.errors == {"parse": 1}
    assert target.url.endswith("/metrics") and "prometheus" not in target.url


def test_a_configured_path_other_than_metrics_is_not_second_guessed():
    with _serve({**TRTLLM_SERVE, "/stats": (ITERATION_STATS, "application/json")}) as server:
        target = _target(f"http://127.0.0.1:{server.port}/stats")
        target.poll()
    assert target.errors == {"parse": 1}
    assert target.url.endswith("/stats")
