"""The exporter against a live llama.cpp llama-server: every mapped value equals the server's own /metrics and
the per-request accounting it returned (prompt tokens excluding cached ones, cached tokens, busy and deferred
requests). Needs scripts/build-llamacpp.sh to have run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.samples import Sample

from tests.support.engines import EngineServer
from tests.support.exporter import ExporterProcess
from tests.support.exposition import scrape, select, total
from tests.support.live import Observed, observe
from tests.support.llamacpp import SERVED_MODEL, SLOTS
from tests.support.process import running
from tests.support.traffic import build_prompts

# llama.cpp sample -> unified sample; each pair must carry the same value.
MAPPED = {
    "llamacpp:requests_processing": "llm_requests_running",
    "llamacpp:requests_deferred": "llm_requests_waiting",
    "llamacpp:prompt_tokens_cached_total": "llm_prefix_cache_hits_tokens_total",
    "llamacpp:tokens_predicted_total": "llm_generation_tokens_total",
}
# Tokens each burst request generates: at several hundred tokens/s per slot, three rounds of requests on the
# slots span well over the exporter's 1 s poll interval.
GENERATED = 3000
COUNTERS = ("llamacpp:prompt_tokens_total", "llamacpp:prompt_tokens_cached_total", "llamacpp:tokens_predicted_total")


@dataclass(frozen=True)
class Accounting:
    """What the server said, request by request, it did with the traffic."""

    requests: int
    prompt_tokens: int  # usage.prompt_tokens: the whole prompt
    evaluated: int  # timings.prompt_n: prompt tokens computed
    cached: int  # timings.cache_n: prompt tokens reused from the slot's cache
    generated: int  # usage.completion_tokens


def _complete(client: httpx.Client, prompt: str, max_tokens: int, **extra: Any) -> dict[str, Any]:
    body = {"model": SERVED_MODEL, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0, **extra}
    response = client.post("/v1/completions", json=body)
    response.raise_for_status()
    return dict(response.json())


def send_traffic(base_url: str, count: int, shared: int) -> Accounting:
    """`count` sequential completions, `shared` of them repeating a long prefix the server can reuse."""
    with httpx.Client(base_url=base_url, timeout=120.0) as client:
        answers = [_complete(client, prompt, 16) for prompt in build_prompts(count, shared)]
    return Accounting(
        requests=len(answers),
        prompt_tokens=sum(a["usage"]["prompt_tokens"] for a in answers),
        evaluated=sum(a["timings"]["prompt_n"] for a in answers),
        cached=sum(a["timings"]["cache_n"] for a in answers),
        generated=sum(a["usage"]["completion_tokens"] for a in answers),
    )


Seen = Observed[Accounting]


def _counter_values(samples: list[Sample]) -> dict[str, float]:
    return {n: total(samples, n) for n in COUNTERS}


@pytest.fixture(scope="module")
def exporter(llamacpp_engine: EngineServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    log_dir = tmp_path_factory.mktemp("llamacpp-exporter")
    with running(ExporterProcess([llamacpp_engine.base_url], log_dir, "1s")) as process:
        yield process


@pytest.fixture(scope="module")
def observed(llamacpp_engine: EngineServer, exporter: ExporterProcess) -> Seen:
    # 12 requests, 8 sharing a prefix of about 2,000 tokens: all but the first of those reuse it.
    accounting = send_traffic(llamacpp_engine.base_url, count=12, shared=8)
    return observe(llamacpp_engine, exporter, accounting, COUNTERS, _counter_values)


@pytest.mark.parametrize(("llamacpp_name", "unified_name"), MAPPED.items())
def test_exported_value_equals_llamacpp_value(observed: Seen, llamacpp_name: str, unified_name: str) -> None:
    assert total(observed.exported, unified_name, observed.labels) == total(observed.engine, llamacpp_name)


def test_prompt_tokens_are_the_evaluated_plus_the_cached_ones(observed: Seen) -> None:
    used = observed.traffic
    assert used.cached > 0 and used.evaluated > 0, used
    # The server's own counter leaves the cached tokens out; its cached counter holds exactly those.
    assert total(observed.engine, "llamacpp:prompt_tokens_total") == used.evaluated
    assert total(observed.engine, "llamacpp:prompt_tokens_cached_total") == used.cached
    # The unified counter holds every prompt token, as the API's usage counts them.
    assert used.prompt_tokens == used.evaluated + used.cached
    assert total(observed.exported, "llm_prompt_tokens_total", observed.labels) == used.prompt_tokens
    assert total(observed.exported, "llm_prefix_cache_queries_tokens_total", observed.labels) == used.prompt_tokens
    assert total(observed.exported, "llm_generation_tokens_total", observed.labels) == used.generated


def test_model_and_version_come_from_the_server_api(observed: Seen, llamacpp_engine: EngineServer) -> None:
    props = httpx.get(f"{llamacpp_engine.base_url}/props", timeout=10.0).json()
    info = select(observed.exported, "llm_engine_info", {"target": llamacpp_engine.target})
    assert [(s.labels["model"], s.labels["version"]) for s in info] == [(SERVED_MODEL, props["build_info"])]
    engine_series = [
        s
        for s in observed.exported
        if s.labels.get("engine_type") == "llamacpp" and not s.name.startswith("llm_exporter_")
    ]
    assert engine_series and {s.labels["model"] for s in engine_series} == {SERVED_MODEL}


def test_busy_and_deferred_requests_during_a_burst(llamacpp_engine: EngineServer, exporter: ExporterProcess) -> None:
    # Three requests per slot, each generating long enough that the burst spans several exporter polls.
    burst = 3 * SLOTS
    seen_engine: list[tuple[float, float]] = []
    seen_exported: list[tuple[float, float]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            engine = scrape(llamacpp_engine.metrics_url)
            seen_engine.append(
                (total(engine, "llamacpp:requests_processing"), total(engine, "llamacpp:requests_deferred"))
            )
            exported = exporter.scrape()
            seen_exported.append((total(exported, "llm_requests_running"), total(exported, "llm_requests_waiting")))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with (
            httpx.Client(base_url=llamacpp_engine.base_url, timeout=300.0) as client,
            ThreadPoolExecutor(max_workers=burst) as pool,
        ):
            answers = list(
                pool.map(lambda i: _complete(client, f"Burst request {i}.", GENERATED, ignore_eos=True), range(burst))
            )
    finally:
        done.set()
        watcher.join(timeout=30)
    assert [a["usage"]["completion_tokens"] for a in answers] == [GENERATED] * burst
    # The server itself ran every slot and deferred the rest ...
    assert max(p for p, _ in seen_engine) == SLOTS and max(d for _, d in seen_engine) >= 1, seen_engine
    # ... and the exporter, polling once a second, reported states the server was in.
    assert max(r for r, _ in seen_exported) == SLOTS, seen_exported
    assert max(w for _, w in seen_exported) >= 1, seen_exported
    assert all(r <= SLOTS and r + w <= burst for r, w in seen_exported), seen_exported
