"""A forced engine_type that maps none of the scraped families warns once, naming the engine they look like
(review-2026-11-qa finding 19: `--engine.type tgi` on a vLLM endpoint gave up 1, no engine series and no word), and
what probe prints of it and of label values."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from exporter.config import TargetConfig
from exporter.parse import parse
from exporter.probe import report
from exporter.target import Target

FIXTURES = Path(__file__).parents[1] / "fixtures" / "engines"
VLLM = (FIXTURES / "vllm-0.32.0-cpu-live.prom").read_bytes()
# What any Python process exposes before an engine registers its own families (prometheus_client's defaults).
PROCESS_ONLY = b"".join(line + b"\n" for line in VLLM.splitlines() if line.startswith((b"process_", b"python_")))
WARNING = "engine_type tgi maps none of the {} families; they look like vllm (set engine_type: vllm, or auto)"


def _client(body: bytes) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body)))


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_wrong_forced_engine_warns_once_naming_the_detected_one(caplog):
    target = Target(TargetConfig(url="http://engine/metrics", name="t0", engine_type="tgi"), _client(VLLM))
    with caplog.at_level(logging.WARNING, logger="llm_exporter"):
        for _ in range(3):
            target.poll()
    families = len(parse(VLLM.decode()))
    assert _warnings(caplog) == [f"target t0: {WARNING.format(families)}"]
    assert target.snapshot.up  # the engine answered; the warning is about the config


@pytest.mark.parametrize(("engine_type", "body"), [("vllm", VLLM), ("tgi", PROCESS_ONLY)])
def test_no_warning_when_the_engine_matches_or_no_table_knows_the_families(engine_type, body, caplog):
    target = Target(TargetConfig(url="http://engine/metrics", name="t0", engine_type=engine_type), _client(body))
    with caplog.at_level(logging.WARNING, logger="llm_exporter"):
        target.poll()
    assert target.snapshot.up and PROCESS_ONLY
    assert _warnings(caplog) == [] and target.mismatch == ""


def test_probe_prints_the_warning():
    text = report(_client(VLLM), "http://engine/metrics", "tgi", "", 5.0)
    assert "\nwarning:  engine_type tgi maps none of the " in text and "they look like vllm" in text


def test_probe_escapes_label_values_so_each_sample_stays_one_line():
    # review-2026-11-qa §23: a model name with a newline broke probe's output line.
    body = VLLM.replace(b'model_name="tiny"', b'model_name="a\\"b\\\\c\\nd"')
    text = report(_client(body), "http://engine/metrics", "vllm", "", 5.0)
    assert 'llm_requests_running{model="a\\"b\\\\c\\nd"' in text
