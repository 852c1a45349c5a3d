"""A real Prometheus scrapes the exporter over TLS with a client certificate and basic auth."""

from __future__ import annotations

from pathlib import Path

from tests.support.http_server import EngineStub, respond
from tests.support.pki import PASSWORD, Exporter, make_pki, web_config

VLLM = (Path(__file__).parents[1] / "fixtures" / "engines" / "vllm-0.32.0-cpu-live.prom").read_bytes()


def _job(name: str, port: int, pki, password: str) -> dict:
    return {
        "job_name": name,
        "scheme": "https",
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "tls_config": {"ca_file": str(pki.ca), "cert_file": str(pki.client_cert), "key_file": str(pki.client_key)},
        "basic_auth": {"username": "prometheus", "password": password},
        "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
    }


def test_prometheus_scrapes_over_tls_with_basic_auth(tmp_path, prometheus_factory):
    pki = make_pki(tmp_path)
    config = web_config(tmp_path / "web.yml", pki)
    with EngineStub(respond(VLLM)) as engine:
        exporter = Exporter("--target", engine.url, "--web.config.file", str(config))
        try:
            exporter.wait_listening()
            prometheus = prometheus_factory(
                {
                    "global": {"scrape_interval": "1s"},
                    "scrape_configs": [
                        _job("tls-good", exporter.port, pki, PASSWORD),
                        _job("tls-wrong-password", exporter.port, pki, "not-the-password"),
                    ],
                }
            )
            prometheus.wait_for_query('up{job="tls-good"} == 1', bool, timeout=60)
            running = prometheus.wait_for_query(
                'llm_requests_running{job="tls-good",engine_type="vllm"}', bool, timeout=60
            )
            assert running[0]["metric"]["model"] == "tiny"
            prometheus.wait_for_query('up{job="tls-wrong-password"} == 0', bool, timeout=60)
            assert prometheus.query('llm_requests_running{job="tls-wrong-password"}') == []
        finally:
            stderr = exporter.stop()
    assert PASSWORD not in stderr and "not-the-password" not in stderr
