"""What an adoption test broke (review-2026-11-qa): secrets, bounded input, the HTTP server under abuse, IPv6."""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from exporter.config import Config, ConfigError, TargetConfig, load, metrics_url, redact
from exporter.daemon import Daemon
from exporter.server import _TlsServer, parse_listen_address, serve
from exporter.target import Target

FIXTURES = Path(__file__).parents[1] / "fixtures" / "engines"
VLLM = (FIXTURES / "vllm-0.32.0-cpu-live.prom").read_bytes()


def _serving(daemon: Daemon, address: str = "127.0.0.1:0", **kwargs: object):
    server = serve(daemon, address, **kwargs)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server


def _stop(server) -> None:
    server.shutdown()
    server.server_close()


def test_a_password_in_a_target_url_never_shows(caplog):
    url = "http://admin:S3cretPass@127.0.0.1:9/metrics"
    assert redact(url) == "http://admin:xxxxx@127.0.0.1:9/metrics"
    config = load(f"targets:\n  - url: {url}\n", "x.yml")
    daemon = Daemon(config)
    with caplog.at_level("DEBUG"):
        daemon.targets[0].poll()
    server = _serving(daemon)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        shown = httpx.get(f"{base}/metrics").text + httpx.get(f"{base}/").text
    finally:
        _stop(server)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "S3cretPass" not in shown + logged + daemon.targets[0].snapshot.error
    assert "admin:xxxxx@127.0.0.1:9" in shown


@pytest.mark.parametrize("url", ["http://127.0.0.1:abc", "127.0.0.1:99999", "http://:8000"])
def test_invalid_urls_are_config_errors(url):
    with pytest.raises(ValueError, match="must be an http"):
        metrics_url(url)


def test_over_the_sample_limit_is_up_zero_too_many_series():
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, content=VLLM)))
    target = Target(TargetConfig(url="http://engine/metrics", name="t0", sample_limit=100), client)
    target.poll()
    assert not target.snapshot.up and target.errors == {"too_many_series": 1}
    assert target.snapshot.families == []
    generous = Target(TargetConfig(url="http://engine/metrics", name="t1"), client)
    generous.poll()
    assert generous.snapshot.up


def test_sample_limit_is_validated():
    with pytest.raises(ConfigError) as error:
        load("targets:\n  - url: http://a:1\n    sample_limit: lots\n", "x.yml")
    assert error.value.problems == [
        "x.yml:3: targets[0].sample_limit: must be a whole number (0 for no limit), got 'lots'"
    ]


def test_reload_is_opt_in():
    daemon = Daemon(Config())
    server = _serving(daemon)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        response = httpx.post(f"{base}/-/reload")
    finally:
        _stop(server)
    assert response.status_code == 403 and "--web.enable-lifecycle" in response.text


def test_a_request_body_does_not_desync_keep_alive():
    daemon = Daemon(Config())
    reloads: list[int] = []
    server = _serving(daemon, reload=lambda: reloads.append(1) or [])
    try:
        port = server.server_address[1]
        with socket.create_connection(("127.0.0.1", port)) as conn:
            body = b"GET /nope HTTP/1.1\r\n\r\n"  # a body that looks like a request must not be read as one
            conn.sendall(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            conn.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            conn.settimeout(5)
            answers = b""
            while answers.count(b"HTTP/1.1 ") < 2:
                answers += conn.recv(65536)
    finally:
        _stop(server)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answers)
    assert statuses == [b"200", b"200"] and reloads == [1]
    assert b"Healthy" in answers and b"Not found" not in answers


def test_a_silent_tls_client_is_dropped_after_the_handshake_deadline(monkeypatch, tmp_path):
    from exporter.webconfig import load_file
    from tests.support.pki import make_pki, web_config

    monkeypatch.setattr(_TlsServer, "handshake_timeout", 0.5)
    pki = make_pki(tmp_path)
    web = load_file(str(web_config(tmp_path / "web.yml", pki, client_auth="NoClientCert")))
    server = _serving(Daemon(Config()), web=web)
    try:
        port = server.server_address[1]
        silent = socket.create_connection(("127.0.0.1", port))
        silent.settimeout(5)
        started = time.monotonic()
        assert silent.recv(1) == b""  # the server hung up on us
        assert time.monotonic() - started < 4
        silent.close()
        context = ssl.create_default_context(cafile=str(pki.ca))
        with httpx.Client(verify=context) as client:
            assert client.get(f"https://localhost:{port}/-/healthy").status_code == 200
    finally:
        _stop(server)


def test_open_connections_are_capped(monkeypatch):
    from exporter import server as server_module

    monkeypatch.setattr(server_module._Server, "max_connections", 2)
    server = _serving(Daemon(Config()))
    try:
        port = server.server_address[1]
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", port))
        extra.settimeout(5)
        assert extra.recv(1) == b""  # refused while two are open
        extra.close()
        for conn in held:
            conn.close()
        deadline = time.monotonic() + 5
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/-/healthy", timeout=1).status_code == 200
                break
            except (httpx.TransportError, AssertionError):
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        _stop(server)


def test_ipv6_listen_addresses():
    assert parse_listen_address("[::1]:10117") == ("::1", 10117)
    assert parse_listen_address(":10117")[0] in ("::", "0.0.0.0")
    server = _serving(Daemon(Config()), "[::1]:0")
    try:
        assert httpx.get(f"http://[::1]:{server.server_address[1]}/-/healthy").status_code == 200
    finally:
        _stop(server)
    everywhere = _serving(Daemon(Config()), ":0")
    try:
        port = everywhere.server_address[1]
        assert httpx.get(f"http://127.0.0.1:{port}/-/healthy").status_code == 200
        assert httpx.get(f"http://[::1]:{port}/-/healthy").status_code == 200
    finally:
        _stop(everywhere)


def test_a_reload_of_an_unchanged_config_keeps_every_target_and_its_schedule():
    config = Config(
        targets=(
            TargetConfig(url="http://127.0.0.1:9/metrics", name="a", interval=60.0, timeout=1.0),
            TargetConfig(url="http://127.0.0.1:9/metrics", name="b", interval=60.0, timeout=1.0),
        )
    )
    daemon = Daemon(config)
    daemon.start()
    try:
        deadline = time.monotonic() + 10
        while not all(target.snapshot.polled for target in daemon.targets):  # the first polls ran
            assert time.monotonic() < deadline
            time.sleep(0.05)
        jobs = {job.id: job.next_run_time for job in daemon.scheduler.get_jobs()}  # a minute away
        before = list(daemon.targets)
        daemon.apply(config)
        assert all(a is b for a, b in zip(daemon.targets, before, strict=True))
        assert {job.id: job.next_run_time for job in daemon.scheduler.get_jobs()} == jobs  # no re-poll
        changed = Config(targets=(config.targets[0], TargetConfig(url="http://127.0.0.1:9/metrics", name="c")))
        daemon.apply(changed)
        assert daemon.targets[0] is before[0]
        assert sorted(job.id for job in daemon.scheduler.get_jobs()) == ["target:a", "target:c"]
    finally:
        daemon.stop()
