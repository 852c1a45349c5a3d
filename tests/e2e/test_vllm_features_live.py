"""A live vLLM with n-gram speculative decoding and a random LoRA adapter: the exporter's speculative-decoding
and LoRA families equal what vLLM itself reports after real traffic to the base model and the adapter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.samples import Sample

from tests.support.deps import cache_dir, venv_python
from tests.support.engines import EngineServer, vllm_server
from tests.support.exporter import ExporterProcess
from tests.support.exposition import total
from tests.support.live import Observed, observe
from tests.support.process import running
from tests.support.tiny_lora import ensure_tiny_lora
from tests.support.tiny_model import ensure_tiny_model

ADAPTER = "sql-lora"
SPEC = {
    "vllm:spec_decode_num_draft_tokens_total": "llm_spec_decode_draft_tokens_total",
    "vllm:spec_decode_num_accepted_tokens_total": "llm_spec_decode_accepted_tokens_total",
}
# A repetitive prompt gives the n-gram drafter something to match, so drafts are made and some accepted.
PROMPT = "one two three four five " * 4


def _engine_values(samples: list[Sample]) -> dict[str, float]:
    return {name: total(samples, name, {"model_name": "tiny"}) for name in SPEC}


def _newest_lora_counts(samples: list[Sample]) -> dict[str, float]:
    """Adapters running and waiting in vLLM's newest lora_requests_info series (one series per state it was in)."""
    info = [s for s in samples if s.name == "vllm:lora_requests_info"]
    newest = max(info, key=lambda s: s.value)
    return {
        state: float(len([a for a in newest.labels[f"{state}_lora_adapters"].split(",") if a]))
        for state in ("running", "waiting")
    }


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed[int]]:
    python = venv_python("vllm")
    adapter = ensure_tiny_lora(python, ensure_tiny_model(python, cache_dir()))
    speculative = {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 3, "prompt_lookup_min": 1}
    extra = ["--enable-lora", "--max-lora-rank", "8", "--max-loras", "1", "--lora-modules", f"{ADAPTER}={adapter}",
             "--speculative-config", json.dumps(speculative)]  # fmt: skip
    logs: Path = tmp_path_factory.mktemp("vllm-features")
    engine: EngineServer = vllm_server(logs, extra_args=extra)
    with running(engine), running(ExporterProcess([engine.base_url], logs, interval="1s")) as exporter:
        requests = 0
        with httpx.Client(base_url=engine.base_url, timeout=120.0) as client:
            for index in range(6):
                for model in ("tiny", ADAPTER):
                    body = {"model": model, "prompt": f"{PROMPT}{index}", "max_tokens": 24, "temperature": 0.0,
                            "ignore_eos": True}  # fmt: skip
                    client.post("/v1/completions", json=body).raise_for_status()
                    requests += 1
        yield observe(engine, exporter, requests, SPEC.keys(), _engine_values)


@pytest.mark.parametrize(("vllm_name", "unified_name"), SPEC.items())
def test_spec_decode_counter_equals_vllms(observed: Observed[int], vllm_name: str, unified_name: str) -> None:
    assert total(observed.exported, unified_name, observed.labels) == total(
        observed.engine, vllm_name, {"model_name": "tiny"}
    )


def test_drafts_were_made_and_some_accepted(observed: Observed[int]) -> None:
    drafted = total(observed.exported, "llm_spec_decode_draft_tokens_total", observed.labels)
    accepted = total(observed.exported, "llm_spec_decode_accepted_tokens_total", observed.labels)
    assert 0 < accepted <= drafted


def test_lora_adapter_counts_are_vllms_newest_state(observed: Observed[int]) -> None:
    exported = {
        state: total(observed.exported, "llm_lora_adapters", {**observed.labels, "state": state})
        for state in ("running", "waiting")
    }
    assert exported == _newest_lora_counts(observed.engine)
    # The adapter served requests: vLLM listed it as running at some point, so it keeps such a series.
    assert any(ADAPTER in s.labels.get("running_lora_adapters", "") for s in observed.engine)
