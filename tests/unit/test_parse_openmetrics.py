"""An engine answering in OpenMetrics (exemplars, timestamps, `# EOF`) is read as its text-format answer is
(review-2026-11-qa finding 16: an exemplar or a float timestamp failed the whole target as `malformed labels`).

The bodies come from prometheus_client, the library vLLM and SGLang serve /metrics with, in both of its formats, over
one registry holding vLLM's families with vLLM's bucket bounds (read from the vLLM capture). Names keep their colons
(`escaping="allow-utf-8"`), as the prometheus_client versions engines pin write them.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter.config import TargetConfig
from exporter.parse import parse
from exporter.target import Target

CAPTURE = (Path(__file__).parents[1] / "fixtures" / "engines" / "vllm-0.32.0-cpu-live.prom").read_text()
TTFT = next(f for f in parse(CAPTURE) if f.name == "vllm:time_to_first_token_seconds")
BOUNDS = [float(s.labels["le"]) for s in TTFT.samples if s.name.endswith("_bucket") and s.labels["le"] != "+Inf"]
LABELS = {"engine": "0", "model_name": "Qwen/Qwen2.5-0.5B-Instruct"}


class _Waiting:
    """A collector that stamps its sample, as a custom collector in an engine may."""

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily("vllm:num_requests_waiting", "Requests waiting.", labels=list(LABELS))
        family.add_metric(list(LABELS.values()), 2.0, timestamp=1_764_543_595.125)
        return [family]


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    ttft = Histogram(
        "vllm:time_to_first_token_seconds", "TTFT.", list(LABELS), buckets=BOUNDS, registry=registry
    ).labels(**LABELS)
    prompt = Counter("vllm:prompt_tokens", "Prompt tokens.", list(LABELS), registry=registry).labels(**LABELS)
    running = Gauge("vllm:num_requests_running", "Running.", list(LABELS), registry=registry).labels(**LABELS)
    for seconds, trace in ((0.031, "4bf92f3577b34da6a3ce929d0e0e4736"), (0.27, "00f067aa0ba902b7"), (1.9, "a1")):
        ttft.observe(seconds, exemplar={"trace_id": trace})
    prompt.inc(3197, exemplar={"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})
    running.set(3)
    registry.register(_Waiting())
    return registry


def _samples(text: str) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    return sorted(
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in parse(text)
        for s in family.samples
        if not s.name.endswith("_created")  # the two formats time-stamp creation apart
    )


def test_the_openmetrics_body_has_what_the_review_saw():
    body = generate_openmetrics(_registry(), escaping="allow-utf-8").decode()
    assert ' # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.031 ' in body
    assert "vllm:num_requests_waiting{" in body and "} 2.0 1764543595.125\n" in body
    assert body.endswith("# EOF\n")


def test_openmetrics_and_text_bodies_of_one_registry_parse_to_the_same_samples():
    registry = _registry()
    assert _samples(generate_openmetrics(registry, escaping="allow-utf-8").decode()) == _samples(
        generate_latest(registry).decode()
    )


def test_a_target_answering_openmetrics_is_up_with_its_histogram_mapped():
    body = generate_openmetrics(_registry(), escaping="allow-utf-8")
    client = httpx.Client(
        transport=httpx.MockTransport(
            lambda _: httpx.Response(200, content=body, headers={"content-type": CONTENT_TYPE_LATEST})
        )
    )
    target = Target(TargetConfig(url="http://engine/metrics", name="t0", engine_type="vllm"), client)
    target.poll()
    assert (target.snapshot.up, target.errors) == (True, {})
    families = {family.name: family for family in target.snapshot.families}
    count = next(s for s in families["gen_ai_server_time_to_first_token_seconds"].samples if s.name.endswith("_count"))
    assert count.value == 3
    assert [s.value for s in families["llm_requests_running"].samples] == [3]
    assert [s.value for s in families["llm_requests_waiting"].samples] == [2]  # the time-stamped sample
    assert [s.value for s in families["llm_prompt_tokens_total"].samples] == [3197]  # the counter with an exemplar
