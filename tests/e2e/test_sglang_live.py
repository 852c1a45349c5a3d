"""The exporter against a live SGLang: after real traffic, every mapped value equals what SGLang itself reports.

SGLang's rank labels (tp_rank, pp_rank, moe_ep_rank) are dropped, keeping the tp_rank="0" series; the
tokenizer-side counters and histograms are summed over is_streaming.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.samples import Sample

from tests.support.engines import EngineServer
from tests.support.exposition import cumulative_buckets, select, total
from tests.support.live import Observed, observed_after_traffic
from tests.support.traffic import TrafficResult

TTFT = "gen_ai_server_time_to_first_token_seconds"
MODEL = {"model_name": "tiny"}
RANK_0 = {**MODEL, "tp_rank": "0"}
# unified sample -> (SGLang sample, the SGLang series it comes from); each pair must carry the same value.
MAPPED = {
    "llm_requests_waiting": ("sglang:num_queue_reqs", RANK_0),
    "llm_requests_running": ("sglang:num_running_reqs", RANK_0),
    # The full-attention pool's usage: token_usage is rounded to 2 decimals (0.01 for 0.0053) and, on hybrid
    # models, includes the Mamba state pool (the table takes max(full, swa) where SGLang reports them).
    "llm_kv_cache_usage_ratio": ("sglang:full_token_usage", RANK_0),
    "llm_prefix_cache_hit_ratio": ("sglang:cache_hit_rate", RANK_0),
    "llm_prompt_tokens_total": ("sglang:prompt_tokens_total", MODEL),
    "llm_prefix_cache_queries_tokens_total": ("sglang:prompt_tokens_total", MODEL),
    "llm_prefix_cache_hits_tokens_total": ("sglang:cached_tokens_total", MODEL),
    "llm_generation_tokens_total": ("sglang:generation_tokens_total", MODEL),
    f"{TTFT}_count": ("sglang:time_to_first_token_seconds_count", MODEL),
    f"{TTFT}_sum": ("sglang:time_to_first_token_seconds_sum", MODEL),
}
SOURCE_NAMES = {name for name, _ in MAPPED.values()}


def _source_values(samples: list[Sample]) -> dict[str, float]:
    return {unified: total(samples, name, selector) for unified, (name, selector) in MAPPED.items()}


@pytest.fixture(scope="module")
def observed(
    sglang_engine: EngineServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Observed[TrafficResult]]:
    # Half streamed, so both is_streaming series exist and the exporter has to add them up.
    log_dir = tmp_path_factory.mktemp("sglang-exporter")
    with observed_after_traffic(sglang_engine, log_dir, SOURCE_NAMES, _source_values) as seen:
        yield seen


@pytest.mark.parametrize("unified_name", MAPPED)
def test_exported_value_equals_sglang_value(observed: Observed[TrafficResult], unified_name: str) -> None:
    name, selector = MAPPED[unified_name]
    assert total(observed.exported, unified_name, observed.labels) == total(observed.engine, name, selector)


def test_streaming_and_plain_series_are_both_summed(observed: Observed[TrafficResult]) -> None:
    streaming = {
        s.labels["is_streaming"]: s.value for s in select(observed.engine, "sglang:prompt_tokens_total", MODEL)
    }
    assert set(streaming) == {"true", "false"} and all(v > 0 for v in streaming.values())
    assert total(observed.exported, "llm_prompt_tokens_total", observed.labels) == sum(streaming.values())


def test_rank_labels_are_dropped(observed: Observed[TrafficResult]) -> None:
    exported = select(observed.exported, "llm_requests_running", observed.labels)
    assert len(exported) == 1
    assert not {"tp_rank", "pp_rank", "moe_ep_rank", "is_streaming", "model_name"} & set(exported[0].labels)


def test_traffic_is_counted_and_hits_the_prefix_cache(observed: Observed[TrafficResult]) -> None:
    # The session engine may have served earlier tests (and its own warm-up request), hence >=.
    labels = observed.labels
    assert total(observed.exported, "llm_prompt_tokens_total", labels) >= observed.traffic.prompt_tokens
    assert total(observed.exported, "llm_generation_tokens_total", labels) >= observed.traffic.completion_tokens
    assert total(observed.exported, f"{TTFT}_count", labels) >= observed.traffic.requests
    assert total(observed.exported, "llm_prefix_cache_hits_tokens_total", labels) > 0


def test_ttft_buckets_are_sglang_counts_at_shared_bounds(observed: Observed[TrafficResult]) -> None:
    exported = cumulative_buckets(observed.exported, TTFT, observed.labels)
    source = cumulative_buckets(observed.engine, "sglang:time_to_first_token_seconds", MODEL)
    shared = sorted(set(exported) & set(source))
    assert len(shared) >= 5, f"too few common bounds: exported {sorted(exported)}, SGLang {sorted(source)}"
    assert {b: exported[b] for b in shared} == {b: source[b] for b in shared}
    assert set(exported) <= set(source)
    assert exported[float("inf")] == total(observed.engine, "sglang:time_to_first_token_seconds_count", MODEL)
