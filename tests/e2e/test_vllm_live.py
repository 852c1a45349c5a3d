"""The exporter against a live vLLM: after real traffic, every mapped value equals what vLLM itself reports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.samples import Sample

from tests.support.engines import EngineServer
from tests.support.exposition import cumulative_buckets, total
from tests.support.live import Observed, observed_after_traffic
from tests.support.traffic import TrafficResult

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


def _source_values(samples: list[Sample]) -> dict[str, float]:
    return {n: total(samples, n, VLLM_SELECTOR) for n in MAPPED}


@pytest.fixture(scope="module")
def observed(vllm_engine: EngineServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed[TrafficResult]]:
    # The prefix shared by 10 of the requests makes prefix-cache hits.
    log_dir = tmp_path_factory.mktemp("vllm-exporter")
    with observed_after_traffic(vllm_engine, log_dir, MAPPED.keys(), _source_values) as seen:
        yield seen


@pytest.mark.parametrize(("vllm_name", "unified_name"), MAPPED.items())
def test_exported_value_equals_vllm_value(observed: Observed[TrafficResult], vllm_name: str, unified_name: str) -> None:
    assert total(observed.exported, unified_name, observed.labels) == total(observed.engine, vllm_name, VLLM_SELECTOR)


def test_traffic_is_counted_and_hits_the_prefix_cache(observed: Observed[TrafficResult]) -> None:
    # The session engine may have served earlier tests, hence >=.
    assert total(observed.exported, "llm_prompt_tokens_total", observed.labels) >= observed.traffic.prompt_tokens
    assert (
        total(observed.exported, "llm_generation_tokens_total", observed.labels) >= observed.traffic.completion_tokens
    )
    assert total(observed.exported, f"{TTFT}_count", observed.labels) >= observed.traffic.requests
    assert total(observed.exported, "llm_prefix_cache_hits_tokens_total", observed.labels) > 0


def test_ttft_buckets_are_vllm_counts_at_shared_bounds(observed: Observed[TrafficResult]) -> None:
    exported = cumulative_buckets(observed.exported, TTFT, observed.labels)
    source = cumulative_buckets(observed.engine, "vllm:time_to_first_token_seconds", VLLM_SELECTOR)
    shared = sorted(set(exported) & set(source))
    assert len(shared) >= 10, f"too few common bounds: exported {sorted(exported)}, vLLM {sorted(source)}"
    assert {b: exported[b] for b in shared} == {b: source[b] for b in shared}
    # Re-bucketing copies, never interpolates: no exported bound that vLLM lacks.
    assert set(exported) <= set(source)
    assert exported[float("inf")] == total(observed.engine, "vllm:time_to_first_token_seconds_count", VLLM_SELECTOR)
