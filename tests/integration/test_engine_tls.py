"""Per-target tls_config against an HTTPS engine behind a self-signed CA (review-2026-11-qa finding 17: there was
no way but SSL_CERT_FILE, which replaces the whole trust store, to scrape such an engine)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from exporter.config import ConfigError, load
from exporter.daemon import Daemon
from exporter.target import Target
from tests.support.http_server import EngineStub, respond
from tests.support.pki import Pki, make_pki

VLLM = (Path(__file__).parents[1] / "fixtures" / "engines" / "vllm-0.32.0-cpu-live.prom").read_bytes()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _engine_tls(pki: Pki, client_ca: bool = False) -> ssl.SSLContext:
    """The engine's server context: its certificate (for 127.0.0.1 and localhost), optionally requiring a client's."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if client_ca:
        context.load_verify_locations(pki.ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _poll(url: str, tls_yaml: str = "") -> Target:
    text = f"targets:\n  - url: {url}\n    name: t0\n" + (f"    tls_config:\n{tls_yaml}" if tls_yaml else "")
    daemon = Daemon(load(text, "t.yml"))
    try:
        daemon.targets[0].poll()
    finally:
        daemon.clients.close()
    return daemon.targets[0]


def test_a_self_signed_engine_fails_without_its_ca_and_works_with_ca_file(pki):
    with EngineStub(respond(VLLM), tls=_engine_tls(pki)) as engine:
        without = _poll(engine.metrics_url)
        with_ca = _poll(engine.metrics_url, f"      ca_file: {pki.ca}\n")
    assert (without.snapshot.up, without.errors) == (False, {"connection": 1})
    assert "CERTIFICATE_VERIFY_FAILED" in without.snapshot.error
    assert (with_ca.snapshot.up, with_ca.snapshot.engine_type) == (True, "vllm")


def test_insecure_skip_verify_accepts_any_certificate(pki):
    with EngineStub(respond(VLLM), tls=_engine_tls(pki)) as engine:
        target = _poll(engine.metrics_url, "      insecure_skip_verify: true\n")
    assert target.snapshot.up


def test_server_name_is_the_name_the_certificate_must_carry(pki):
    with EngineStub(respond(VLLM), tls=_engine_tls(pki)) as engine:
        right = _poll(engine.metrics_url, f"      ca_file: {pki.ca}\n      server_name: localhost\n")
        wrong = _poll(engine.metrics_url, f"      ca_file: {pki.ca}\n      server_name: engine.example\n")
    assert right.snapshot.up
    assert not wrong.snapshot.up and "engine.example" in wrong.snapshot.error


def test_a_client_certificate_is_presented_when_the_engine_requires_one(pki):
    with EngineStub(respond(VLLM), tls=_engine_tls(pki, client_ca=True)) as engine:
        anonymous = _poll(engine.metrics_url, f"      ca_file: {pki.ca}\n")
        with_cert = _poll(
            engine.metrics_url,
            f"      ca_file: {pki.ca}\n      cert_file: {pki.client_cert}\n      key_file: {pki.client_key}\n",
        )
    assert not anonymous.snapshot.up
    assert with_cert.snapshot.up


def test_a_key_that_does_not_fit_the_certificate_is_named(pki):
    text = (
        "targets:\n  - url: https://127.0.0.1:8443\n    tls_config:\n"
        f"      cert_file: {pki.client_cert}\n      key_file: {pki.server_key}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(text, "t.yml")
    [problem] = caught.value.problems
    assert problem.startswith(
        f"t.yml:5: targets[0].tls_config.key_file: '{pki.server_key}' is not the key of cert_file '{pki.client_cert}'"
    )


def test_a_reload_that_drops_a_tls_setting_closes_its_client(pki):
    with_ca = load(f"targets:\n  - url: https://127.0.0.1:8443\n    tls_config:\n      ca_file: {pki.ca}\n", "t.yml")
    daemon = Daemon(with_ca)
    client = daemon.targets[0].client
    daemon.apply(load("targets:\n  - url: http://127.0.0.1:8000\n", "t.yml"))
    assert client.is_closed and not daemon.targets[0].client.is_closed
    daemon.clients.close()
