"""Bad engine answers: each gives target_up 0 and one log line, and /metrics keeps serving the rest."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

import exporter.target as target_module
from exporter.config import Config, TargetConfig
from exporter.daemon import Daemon
from exporter.parse import parse
from tests.support.http_server import EngineStub, LocalHTTPServer, QuietHandler, cut_short, respond, stall
from tests.support.ports import free_port

VLLM = (Path(__file__).parents[1] / "fixtures" / "engines" / "vllm-0.32.0-cpu-live.prom").read_bytes()

FAULTS = {
    "truncated": (cut_short(VLLM, len(VLLM) // 2), "http"),
    "no_final_newline": (respond(VLLM.rstrip(b"\n")), "parse"),
    "invalid_utf8": (respond(VLLM[:1000] + b"\xff\xfe bad\n"), "encoding"),
    "duplicate_series": (
        respond(b'vllm:num_requests_running{engine="0"} 1\nvllm:num_requests_running{engine="0"} 2\n'),
        "parse",
    ),
    "huge_body": (respond(b"x 1\n" * (50 * 1024 * 1024 // 4)), "too_large"),
    "html_error_page": (respond(b"<html><body>502 Bad Gateway</body></html>\n", 200, "text/html"), "not_metrics"),
    "html_as_text": (respond(b"<html><body>oops</body></html>\n"), "parse"),
    "http_500": (respond(b"boom\n", 500), "http_status"),
    "timeout": (stall(3.0), "timeout"),
}


def _daemon(*urls: str) -> Daemon:
    targets = tuple(
        TargetConfig(url=f"{url}/metrics", name=f"t{i}", interval=5.0, timeout=1.0, max_response_bytes=16 << 20)
        for i, url in enumerate(urls)
    )
    return Daemon(Config(targets=targets))


def _up(text: str) -> dict[str, float]:
    family = next(f for f in parse(text) if f.name == "llm_exporter_target_up")
    return {s.labels["target"]: s.value for s in family.samples}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_sets_up_zero_and_keeps_healthy_target(fault, caplog):
    behaviour, kind = FAULTS[fault]
    with EngineStub(respond(VLLM)) as healthy, EngineStub(behaviour) as broken:
        daemon = _daemon(healthy.url, broken.url)
        with caplog.at_level(logging.WARNING, logger="llm_exporter"):
            for target in daemon.targets:
                target.poll()
        text = daemon.render()
    assert _up(text) == {"t0": 1.0, "t1": 0.0}
    assert daemon.targets[1].errors == {kind: 1}
    assert daemon.targets[1].snapshot.families == []  # a half-read scrape is never re-exported
    assert 'llm_requests_running{dp_rank="0",engine_type="vllm",model="tiny",target="t0"' in text
    assert 'target="t1"' not in text.split("# HELP llm_exporter_target_up")[0]
    lines = [r.getMessage() for r in caplog.records if "t1" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("target t1: ")


def test_connection_refused():
    daemon = _daemon(f"http://127.0.0.1:{free_port()}")
    daemon.targets[0].poll()
    assert _up(daemon.render()) == {"t0": 0.0}
    assert daemon.targets[0].errors == {"connection": 1}


def test_repeated_failure_logs_once_and_recovery_restores(caplog):
    with EngineStub(respond(b"boom\n", 500)) as stub:
        daemon = _daemon(stub.url)
        with caplog.at_level(logging.INFO, logger="llm_exporter"):
            daemon.targets[0].poll()
            daemon.targets[0].poll()
            stub.behaviour = respond(VLLM)
            daemon.targets[0].poll()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("HTTP 500" in m for m in messages) == 1
    assert any("is back up" in m for m in messages)
    assert _up(daemon.render()) == {"t0": 1.0}
    assert daemon.targets[0].errors == {"http_status": 2}


def test_nan_and_inf_pass_through():
    body = (
        b"# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 1\n"
        b"# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc NaN\n"
        b"# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting +Inf\n"
    )
    with EngineStub(respond(body)) as stub:
        daemon = _daemon(stub.url)
        daemon.targets[0].poll()
    text = daemon.render()
    assert 'llm_kv_cache_usage_ratio{engine_type="vllm",model="unknown",target="t0"} NaN' in text
    assert 'llm_requests_waiting{engine_type="vllm",model="unknown",target="t0"} +Inf' in text


def test_unknown_engine_is_up_with_every_family_unmapped():
    with EngineStub(respond(b"# TYPE foo_requests gauge\nfoo_requests 3\nbar_total 2\n")) as stub:
        daemon = _daemon(stub.url)
        daemon.targets[0].poll()
    text = daemon.render()
    assert 'llm_exporter_target_up{engine_type="unknown",target="t0"} 1' in text
    assert 'llm_exporter_unmapped_families{target="t0"} 2' in text


def test_ready_only_after_every_target_was_polled():
    with EngineStub(respond(VLLM)) as stub:
        daemon = _daemon(stub.url, f"http://127.0.0.1:{free_port()}")
        assert not daemon.ready
        daemon.targets[0].poll()
        assert not daemon.ready
        daemon.targets[1].poll()
        assert daemon.ready


def test_engine_restart_resets_pass_through_unharmed():
    before = VLLM
    after = VLLM.replace(
        b'vllm:prompt_tokens_total{engine="0",model_name="tiny"} 3197.0',
        b'vllm:prompt_tokens_total{engine="0",model_name="tiny"} 12.0',
    )
    assert after != before
    with EngineStub(respond(before)) as stub:
        daemon = _daemon(stub.url)
        daemon.targets[0].poll()
        series = 'llm_prompt_tokens_total{dp_rank="0",engine_type="vllm",model="tiny",target="t0"}'
        assert f"{series} 3197" in daemon.render()
        stub.behaviour = respond(b"")  # the restarting engine answers an empty body before its metrics exist
        daemon.targets[0].poll()
        assert 'llm_exporter_target_up{engine_type="vllm",target="t0"} 1' in daemon.render()
        stub.behaviour = respond(after)
        daemon.targets[0].poll()
    # The counter went down: passed through as is, so Prometheus's rate() sees a reset, not a negative rate.
    assert f"{series} 12" in daemon.render()


class _Hangs(QuietHandler):
    """An engine that answers every path, or, once its owner says so, holds every request for 3 s (wedged)."""

    def do_GET(self) -> None:  # noqa: N802 - http.server dispatches on this name
        """Answer the vLLM capture, or hang first."""
        if self.owner.hang:
            time.sleep(3.0)
        self.send_body(200, VLLM, "text/plain; version=0.0.4")


def test_a_hung_engine_fails_within_its_timeout_and_a_short_health_check(monkeypatch):
    # The health check after a failed fetch waited a whole timeout again: a hung engine's poll took twice its timeout.
    monkeypatch.setattr(target_module, "HEALTH_TIMEOUT_S", 0.25)  # a quarter of the timeout, as 1 s of 4 s
    with LocalHTTPServer(_Hangs) as engine:
        engine.hang = False  # type: ignore[attr-defined]
        daemon = Daemon(Config(targets=(TargetConfig(url=engine.metrics_url, name="t0", timeout=1.0),)))
        daemon.targets[0].poll()
        engine.hang = True  # type: ignore[attr-defined]
        started = time.monotonic()
        daemon.targets[0].poll()
        elapsed = time.monotonic() - started
    assert (daemon.targets[0].snapshot.state, daemon.targets[0].errors) == ("down", {"timeout": 1})
    assert elapsed < 1.0 + 0.25 + 0.35  # twice the timeout would be 2.0


def test_a_skipped_poll_names_its_target(caplog):
    # review-2026-11-qa §11.7: apscheduler's "skipped" warning named a closure, not the target.
    with LocalHTTPServer(_Hangs) as engine:
        engine.hang = True  # type: ignore[attr-defined]
        config = TargetConfig(url=engine.metrics_url, name="t0", interval=0.4, timeout=0.4)
        daemon = Daemon(Config(targets=(config,)))
        with caplog.at_level(logging.WARNING):
            daemon.start()  # each poll hangs its timeout and a health check: longer than the interval
            time.sleep(1.0)
            daemon.stop()
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped and all('"poll of target t0 ' in message for message in skipped)
