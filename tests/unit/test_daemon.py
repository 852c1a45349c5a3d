"""The daemon's /metrics text: engine part rendered once per poll, the rest on each request."""

from __future__ import annotations

from exporter.config import Config, TargetConfig
from exporter.daemon import Daemon
from exporter.exposition import render
from exporter.family import Family, Sample
from exporter.target import Snapshot


def test_render_reuses_engine_text_until_a_poll_replaces_a_snapshot():
    daemon = Daemon(Config(targets=(TargetConfig(url="http://127.0.0.1:1/metrics", name="t0"),)))
    labels = {"engine_type": "vllm", "model": "m", "target": "t0"}
    sample = Sample("llm_requests_running", labels, 1.0)
    daemon.targets[0].snapshot = Snapshot(
        up=True, polled=True, engine_type="vllm", families=[Family("llm_requests_running", "gauge", "h", [sample])]
    )
    first = daemon.render()
    sample.value = 2.0  # same snapshot: the cached text stands
    assert daemon.render() == first
    daemon.targets[0].snapshot = Snapshot(
        up=True,
        polled=True,
        engine_type="vllm",
        families=[Family("llm_requests_running", "gauge", "h", [Sample("llm_requests_running", labels, 3.0)])],
    )
    assert 'llm_requests_running{engine_type="vllm",model="m",target="t0"} 3' in daemon.render()
    assert daemon.render() == render(daemon.families())
