"""The exporter against a live Dynamo 1.6.1: its frontend (detected as dynamo) and a mocker worker (detected as the
vLLM it imitates), after real traffic including a request for a model nobody serves; every mapped value equals
what Dynamo itself reports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.samples import Sample

from tests.support.engines import dynamo_servers
from tests.support.exporter import ExporterProcess
from tests.support.exposition import scrape, scrape_settled, total
from tests.support.process import running

REQUESTS = 12
MAX_TOKENS = 16
FRONTEND = {"model": "tiny"}


@dataclass(frozen=True)
class Seen:
    """The frontend's, the worker's and the exporter's /metrics, read at one settled moment."""

    frontend: list[Sample]
    worker: list[Sample]
    exported: list[Sample]
    frontend_target: str
    worker_target: str


def _wait_for_model(base_url: str, timeout: float = 120.0) -> None:
    """The frontend answers before the worker has registered; traffic waits until it lists the model."""
    deadline = time.monotonic() + timeout
    while "tiny" not in httpx.get(f"{base_url}/v1/models", timeout=5.0).text:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Dynamo frontend at {base_url} never listed model tiny")
        time.sleep(1.0)


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seen]:
    logs = tmp_path_factory.mktemp("dynamo")
    frontend, worker = dynamo_servers(logs)
    with running(worker), running(frontend):
        _wait_for_model(frontend.base_url)
        targets = [frontend.base_url, worker.base_url]
        with running(ExporterProcess(targets, logs, interval="1s")) as exporter:
            with httpx.Client(base_url=frontend.base_url, timeout=120.0) as client:
                for index in range(REQUESTS):
                    body = {"model": "tiny", "prompt": f"one two three {index}", "max_tokens": MAX_TOKENS}
                    client.post("/v1/completions", json=body).raise_for_status()
                unknown = client.post("/v1/completions", json={"model": "nope", "prompt": "x", "max_tokens": 2})
                assert unknown.status_code == 404
            settled = scrape_settled(frontend.metrics_url, ["dynamo_frontend_requests_total"])
            since = time.time()
            exported = exporter.scrape_after_poll(frontend.target, since=since)
            exported = exporter.scrape_after_poll(worker.target, since=since)
            yield Seen(settled, scrape(worker.metrics_url), exported, frontend.target, worker.target)


def _exported(seen: Seen, name: str, target: str, **labels: str) -> float:
    return total(seen.exported, name, {"target": target, **labels})


def test_each_endpoint_is_detected_as_what_it_serves(seen: Seen) -> None:
    info = {s.labels["target"]: s.labels["engine_type"] for s in seen.exported if s.name == "llm_engine_info"}
    assert info == {seen.frontend_target: "dynamo", seen.worker_target: "vllm"}
    unmapped = {s.labels["target"]: s.value for s in seen.exported if s.name == "llm_exporter_unmapped_families"}
    assert unmapped == {seen.frontend_target: 0.0, seen.worker_target: 0.0}


def test_frontend_request_counts_equal_dynamos(seen: Seen) -> None:
    success = total(seen.frontend, "dynamo_frontend_requests_total", {**FRONTEND, "status": "success"})
    assert success == REQUESTS
    assert _exported(seen, "llm_requests_finished_total", seen.frontend_target, finish_reason="unknown") == success
    # The unknown model is the client's mistake: rejected, never an error of the server.
    not_found = total(seen.frontend, "dynamo_frontend_requests_total", {"error_type": "not_found"})
    assert _exported(seen, "llm_requests_finished_total", seen.frontend_target, finish_reason="rejected") == not_found
    assert not [s for s in seen.exported if s.name == "llm_requests_finished_total" and "error" in s.labels.values()]


@pytest.mark.parametrize(
    ("dynamo_name", "unified_name"),
    [
        ("dynamo_frontend_output_tokens_total", "llm_generation_tokens_total"),
        ("dynamo_frontend_input_sequence_tokens_sum", "llm_prompt_tokens_total"),
        ("dynamo_frontend_time_to_first_token_seconds_count", "gen_ai_server_time_to_first_token_seconds_count"),
        ("dynamo_frontend_active_requests", "llm_requests_running"),
    ],
)
def test_frontend_value_equals_dynamos(seen: Seen, dynamo_name: str, unified_name: str) -> None:
    expected = total(seen.frontend, dynamo_name, FRONTEND)
    assert _exported(seen, unified_name, seen.frontend_target, model="tiny") == expected


def test_worker_values_equal_the_mockers(seen: Seen) -> None:
    assert _exported(seen, "llm_kv_cache_usage_ratio", seen.worker_target) == total(
        seen.worker, "vllm:kv_cache_usage_perc"
    )
    assert _exported(seen, "llm_requests_running", seen.worker_target) == total(
        seen.worker, "vllm:num_requests_running"
    )
    assert _exported(seen, "gen_ai_server_time_to_first_token_seconds_count", seen.worker_target) >= REQUESTS
