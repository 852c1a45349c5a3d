"""server: the exporter's endpoints, basic auth and reload, served in-process on a loopback port."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import bcrypt
import httpx
import pytest

from exporter.config import Config, TargetConfig
from exporter.daemon import Daemon
from exporter.server import _ANY_HOST, Reload, parse_listen_address, serve
from exporter.webconfig import WebConfig
from tests.support.ports import free_port

# rounds=4: the cheapest bcrypt cost, so a test does not spend a second hashing.
ALICE = ("alice", bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode())


def _daemon() -> Daemon:
    """One target, never polled: not ready, up 0, and a name that needs HTML escaping on the landing page."""
    target = TargetConfig(url=f"http://127.0.0.1:{free_port()}/metrics", name="<b>engine</b>", interval=5.0,
                          timeout=1.0, max_response_bytes=1 << 20)  # fmt: skip
    return Daemon(Config(targets=(target,)))


@pytest.fixture
def exporter_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a served daemon; indirect parameters: (web config, reload action)."""
    web, reload = getattr(request, "param", (None, None))
    server = serve(_daemon(), "127.0.0.1:0", web, reload)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("address", "expected"),
    [(":10117", (_ANY_HOST, 10117)), ("127.0.0.1:9", ("127.0.0.1", 9)), ("[::1]:10117", ("::1", 10117))],
)
def test_listen_addresses_like_prometheus_exporters(address: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(address) == expected


@pytest.mark.parametrize("address", ["10117", "127.0.0.1:", "host:port", ":65536"])
def test_a_bad_listen_address_is_named(address: str) -> None:
    with pytest.raises(ValueError, match=r"--web.listen-address must look like"):
        parse_listen_address(address)


def test_a_failure_building_metrics_is_a_500_and_one_log_line(
    exporter_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Daemon, accept: str | None = None, accept_encoding: str | None = None) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Daemon, "exposition", broken)
    with caplog.at_level(logging.INFO, logger="llm_exporter"):
        response = httpx.get(f"{exporter_url}/metrics")
    assert response.status_code == 500 and "exporter's log" in response.text
    assert [r.getMessage() for r in caplog.records] == ["/metrics failed: RuntimeError('a bug')"]


def test_endpoints(exporter_url: str) -> None:
    metrics = httpx.get(f"{exporter_url}/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'llm_exporter_target_up{engine_type="unknown",target="<b>engine</b>"} 0.0' in metrics.text
    assert (httpx.get(f"{exporter_url}/-/healthy").status_code, httpx.get(f"{exporter_url}/-/healthy").text) == (
        200, "Healthy\n")  # fmt: skip
    ready = httpx.get(f"{exporter_url}/-/ready")
    assert (ready.status_code, ready.text) == (503, "Not ready: targets not yet polled\n")
    landing = httpx.get(f"{exporter_url}/")
    assert landing.headers["content-type"].startswith("text/html")
    assert "&lt;b&gt;engine&lt;/b&gt;" in landing.text and "<b>engine</b>" not in landing.text
    assert httpx.get(f"{exporter_url}/nothing").status_code == 404


def test_head_sends_headers_only(exporter_url: str) -> None:
    response = httpx.head(f"{exporter_url}/metrics")
    assert response.status_code == 200 and int(response.headers["content-length"]) > 0 and response.content == b""


def test_reload_is_forbidden_without_the_lifecycle_flag(exporter_url: str) -> None:
    assert httpx.post(f"{exporter_url}/-/reload").status_code == 403


def _reload_with(problems: list[str]) -> Reload:
    return lambda: problems


@pytest.mark.parametrize(
    ("exporter_url", "status", "body"),
    [((None, _reload_with([])), 200, "Reloaded\n"),
     ((None, _reload_with(["c.yml:2: targets: must be a list"])), 500, "c.yml:2: targets: must be a list\n")],
    indirect=["exporter_url"], ids=["applied", "rejected"],
)  # fmt: skip
def test_reload_answers_with_the_new_configs_problems(exporter_url: str, status: int, body: str) -> None:
    response = httpx.post(f"{exporter_url}/-/reload")
    assert (response.status_code, response.text) == (status, body)


@pytest.mark.parametrize("exporter_url", [(WebConfig(users=(ALICE,)), None)], indirect=True)
def test_basic_auth_guards_everything_but_health_and_readiness(exporter_url: str) -> None:
    refused = httpx.get(f"{exporter_url}/metrics")
    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, 'Basic realm="llm-exporter"')
    assert httpx.get(f"{exporter_url}/metrics", auth=("alice", "wrong")).status_code == 401
    assert httpx.get(f"{exporter_url}/metrics", auth=("alice", "s3cret")).status_code == 200
    assert httpx.get(f"{exporter_url}/").status_code == 401
    assert httpx.get(f"{exporter_url}/-/healthy").status_code == 200
    assert httpx.get(f"{exporter_url}/-/ready").status_code == 503
    # HEAD as GET (review-2026-11-qa §11.2: HEAD /-/healthy asked for the password GET did not).
    assert httpx.head(f"{exporter_url}/-/healthy").status_code == 200
    assert httpx.head(f"{exporter_url}/metrics").status_code == 401
