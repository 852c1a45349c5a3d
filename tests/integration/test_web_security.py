"""TLS, basic auth, engine auth and config reload, through a real exporter process and real TLS clients."""

from __future__ import annotations

import signal
import ssl
import time
from pathlib import Path

import httpx
import pytest

from exporter.config import ConfigError
from exporter.webconfig import load
from tests.support.http_server import EngineStub, respond
from tests.support.pki import PASSWORD, Exporter, make_pki, web_config

VLLM = (Path(__file__).parents[1] / "fixtures" / "engines" / "vllm-0.32.0-cpu-live.prom").read_bytes()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_tls_client_certs_and_basic_auth(tmp_path, pki):
    config = web_config(tmp_path / "web.yml", pki)
    with EngineStub(respond(VLLM)) as engine:
        exporter = Exporter("--target", engine.url, "--web.config.file", str(config))
        try:
            exporter.wait_listening()
            base = f"https://127.0.0.1:{exporter.port}"
            client_ctx = ssl.create_default_context(cafile=str(pki.ca))
            client_ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
            with httpx.Client(verify=client_ctx) as client:
                assert client.get(f"{base}/metrics").status_code == 401
                assert client.get(f"{base}/metrics", auth=("prometheus", "wrong")).status_code == 401
                assert client.get(f"{base}/metrics", auth=("nobody", PASSWORD)).status_code == 401
                ok = client.get(f"{base}/metrics", auth=("prometheus", PASSWORD))
                assert ok.status_code == 200 and "llm_exporter_build_info" in ok.text
            no_cert = ssl.create_default_context(cafile=str(pki.ca))
            with httpx.Client(verify=no_cert) as client, pytest.raises(httpx.TransportError):
                client.get(f"{base}/metrics", auth=("prometheus", PASSWORD))
            with httpx.Client() as client, pytest.raises(httpx.TransportError):
                client.get(f"{base}/metrics")  # the system CAs do not trust our CA
            with httpx.Client() as client, pytest.raises(httpx.TransportError):
                client.get(f"http://127.0.0.1:{exporter.port}/metrics")
            with httpx.Client(verify=client_ctx) as client:  # still serving after the failed handshakes
                assert client.get(f"{base}/metrics", auth=("prometheus", PASSWORD)).status_code == 200
                assert client.get(f"{base}/-/healthy").status_code == 200  # probes need no password
                assert client.get(f"{base}/").status_code == 401
        finally:
            stderr = exporter.stop()
    assert PASSWORD not in stderr and "wrong" not in stderr


def test_minimum_tls_version_is_enforced(tmp_path, pki):
    config = web_config(tmp_path / "web.yml", pki, "NoClientCert")
    config.write_text(config.read_text().replace("min_version: TLS12", "min_version: TLS13"))
    exporter = Exporter("--web.config.file", str(config))
    try:
        exporter.wait_listening()
        old = ssl.create_default_context(cafile=str(pki.ca))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with httpx.Client(verify=old) as client, pytest.raises(httpx.TransportError):
            client.get(f"https://127.0.0.1:{exporter.port}/-/healthy")
        new = ssl.create_default_context(cafile=str(pki.ca))
        with httpx.Client(verify=new) as client:
            assert (
                client.get(f"https://127.0.0.1:{exporter.port}/-/healthy", auth=("prometheus", PASSWORD)).status_code
                == 200
            )
    finally:
        exporter.stop()


def test_web_config_problems_are_named(tmp_path):
    with pytest.raises(ConfigError) as error:
        load(
            "tls_server_config:\n  cert_file: /nope.pem\n  client_auth_type: Sometimes\n"
            "basic_auth_users:\n  alice: plaintext-password\n",
            "web.yml",
        )
    assert error.value.problems == [
        "web.yml:2: tls_server_config.cert_file: no such file '/nope.pem'",
        "web.yml:2: tls_server_config.key_file: is required",
        "web.yml:3: tls_server_config.client_auth_type: must be one of NoClientCert, VerifyClientCertIfGiven, "
        "RequireAndVerifyClientCert",
        "web.yml:5: basic_auth_users.alice: must be a bcrypt hash ($2y$…)",
    ]
    assert "plaintext-password" not in str(error.value)


def test_bearer_token_reaches_the_engine_and_is_never_logged(tmp_path):
    token = tmp_path / "token"
    token.write_text("tok-123456789\n")
    seen: list[str | None] = []

    def behaviour(handler):
        seen.append(handler.headers.get("Authorization"))
        respond(
            VLLM if seen[-1] == "Bearer tok-123456789" else b"denied\n",
            200 if seen[-1] == "Bearer tok-123456789" else 401,
        )(handler)

    with EngineStub(behaviour) as engine:
        config = tmp_path / "exporter.yml"
        config.write_text(
            f"targets:\n  - url: {engine.url}\n    bearer_token_file: {token}\n"
            f"  - url: {engine.url}/metrics?unauthenticated\n    name: no-token\n"
        )
        exporter = Exporter("--config.file", str(config), "--log.level", "debug")
        try:
            exporter.wait_listening()
            time.sleep(2.5)
            text = httpx.get(f"http://127.0.0.1:{exporter.port}/metrics").text
        finally:
            stderr = exporter.stop()
    assert f'llm_exporter_target_up{{engine_type="vllm",target="{engine.url[7:]}"}} 1' in text
    assert 'llm_exporter_target_up{engine_type="unknown",target="no-token"} 0' in text
    assert "tok-123456789" not in stderr and "HTTP 401" in stderr


def _wait_for(base: str, line: str, seconds: float = 20) -> str:
    """The exporter's /metrics once it contains line (polls: the reload and the next poll are asynchronous)."""
    deadline = time.monotonic() + seconds
    while True:
        text = httpx.get(f"{base}/metrics").text
        if line in text or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


def test_reload_rejects_a_bad_config_and_keeps_the_last_good_one(tmp_path):
    with EngineStub(respond(VLLM)) as first, EngineStub(respond(VLLM)) as second:
        config = tmp_path / "exporter.yml"
        config.write_text(f"targets:\n  - url: {first.url}\n    name: first\n    interval: 1s\n    timeout: 1s\n")
        exporter = Exporter("--config.file", str(config), "--web.enable-lifecycle")
        base = f"http://127.0.0.1:{exporter.port}"
        try:
            exporter.wait_listening()
            config.write_text("targets:\n  - url: ftp://nope\n")
            exporter.process.send_signal(signal.SIGHUP)
            text = _wait_for(base, "llm_exporter_config_last_reload_successful 0")
            assert 'target="first"' in text
            response = httpx.post(f"{base}/-/reload")
            assert response.status_code == 500 and "targets[0].url: must be an http(s) URL" in response.text
            config.write_text(f"targets:\n  - url: {second.url}\n    name: second\n    interval: 1s\n    timeout: 1s\n")
            assert httpx.post(f"{base}/-/reload").status_code == 200
            text = _wait_for(base, 'llm_exporter_target_up{engine_type="vllm",target="second"} 1')
            assert "llm_exporter_config_last_reload_successful 1" in text
            assert 'target="first"' not in text
        finally:
            stderr = exporter.stop()
    assert "reload rejected: " in stderr and "config reloaded: 1 target(s)" in stderr
