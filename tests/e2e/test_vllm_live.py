"""The exporter against a live vLLM: after real traffic, every mapped value equals what vLLM itself reports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client.samples import Sample

from tests.harness.engines import EngineServer
from tests.harness.exporter import ExporterProcess
from tests.harness.exposition import cumulative_buckets, scrape, scrape_settled, total
from tests.harness.traffic import TrafficResult, send_completions

pytestmark = pytest.mark.e2e

TTFT = "gen_ai_server_time_to_first_token_seconds"
# vLLM sample -> unified sample; each pair must carry the same value.
MAPPED = {
    "vllm:num_requests_running": "llm_requests_running",
    "vllm:num_requests_waiting": "llm_requests_waiting",
    "vllm:kv_cache_usage_perc": "llm_kv_cache_usage_ratio",
    "vllm:time_to_first_token_seconds_count": f"{TTFT}_count",
    "vllm:time_to_first_token_seconds_sum": f"{TTFT}_sum",
    "vllm:prompt_tokens_total": "llm_prompt_tokens_total",
    "vllm:generation_tokens_total": "llm_generation_tokens_total",
    "vllm:prefix_cache_hits_total": "llm_prefix_cache_hits_tokens_total",
    "vllm:prefix_cache_queries_total": "llm_prefix_cache_queries_tokens_total",
}
VLLM_SELECTOR = {"model_name": "tiny"}


@dataclass(frozen=True)
class Observed:
    """vLLM's own /metrics and the exporter's, read at the same settled moment, and the traffic behind them."""

    engine: list[Sample]
    exported: list[Sample]
    labels: dict[str, str]
    traffic: TrafficResult


@pytest.fixture(scope="module")
def observed(vllm_engine: EngineServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    vllm_engine.ensure_running()
    exporter = ExporterProcess([vllm_engine.base_url], tmp_path_factory.mktemp("vllm-exporter"), interval="1s")
    exporter.start()
    try:
        # 16 requests, 10 sharing a ~450-token prefix (prefix-cache hits), 4 at a time, half of them streamed.
        traffic = send_completions(
            vllm_engine.base_url, vllm_engine.model, count=16, shared=10, concurrency=4, mix_streaming=True
        )
        engine = scrape_settled(vllm_engine.metrics_url, MAPPED.keys())
        exported = exporter.scrape_after_poll(vllm_engine.target, since=time.time())
        # No traffic since the settled scrape, so vLLM must still read the same: the two sides saw one state.
        assert {n: total(scrape(vllm_engine.metrics_url), n, VLLM_SELECTOR) for n in MAPPED} == {
            n: total(engine, n, VLLM_SELECTOR) for n in MAPPED
        }
        labels = {"engine_type": "vllm", "model": vllm_engine.model, "target": vllm_engine.target}
        yield Observed(engine, exported, labels, traffic)
    finally:
        exporter.stop()


@pytest.mark.parametrize(("vllm_name", "unified_name"), MAPPED.items())
def test_exported_value_equals_vllm_value(observed: Observed, vllm_name: str, unified_name: str) -> None:
    assert total(observed.exported, unified_name, observed.labels) == total(observed.engine, vllm_name, VLLM_SELECTOR)


def test_traffic_is_counted_and_hits_the_prefix_cache(observed: Observed) -> None:
    # The session engine may have served earlier tests, hence >=.
    assert total(observed.exported, "llm_prompt_tokens_total", observed.labels) >= observed.traffic.prompt_tokens
    assert (
        total(observed.exported, "llm_generation_tokens_total", observed.labels) >= observed.traffic.completion_tokens
    )
    assert total(observed.exported, f"{TTFT}_count", observed.labels) >= observed.traffic.requests
    assert total(observed.exported, "llm_prefix_cache_hits_tokens_total", observed.labels) > 0


def test_ttft_buckets_are_vllm_counts_at_shared_bounds(observed: Observed) -> None:
    exported = cumulative_buckets(observed.exported, TTFT, observed.labels)
    source = cumulative_buckets(observed.engine, "vllm:time_to_first_token_seconds", VLLM_SELECTOR)
    shared = sorted(set(exported) & set(source))
    assert len(shared) >= 10, f"too few common bounds: exported {sorted(exported)}, vLLM {sorted(source)}"
    assert {b: exported[b] for b in shared} == {b: source[b] for b in shared}
    # Re-bucketing copies, never interpolates: no exported bound that vLLM lacks.
    assert set(exported) <= set(source)
    assert exported[float("inf")] == total(observed.engine, "vllm:time_to_first_token_seconds_count", VLLM_SELECTOR)
