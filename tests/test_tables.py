"""What the engine tables must declare for the rules that read them."""

from __future__ import annotations

import pytest

from exporter.engines import ENGINES, engines_counting

TOKEN_COUNTERS = ("llm_generation_tokens_total",)


@pytest.mark.parametrize("engine_type", sorted(ENGINES))
def test_token_counter_rows_say_when_they_move(engine_type):
    rows = [row for row in ENGINES[engine_type].rows if row.unified in TOKEN_COUNTERS]
    assert all(row.counted in ("per_step", "per_completion") for row in rows), rows


def test_engines_counting_splits_the_engines_that_report_generated_tokens():
    per_step = engines_counting("llm_generation_tokens_total", "per_step")
    per_completion = engines_counting("llm_generation_tokens_total", "per_completion")
    # vLLM counts every scheduler step; SGLang, TGI and llama.cpp only count finished requests (engines.md).
    assert {"vllm", "dynamo"} <= set(per_step)
    assert {"sglang", "tgi", "llamacpp", "triton"} <= set(per_completion)
    assert not set(per_step) & set(per_completion)


def test_client_errors_never_count_as_server_failures():
    for engine in ENGINES.values():
        assert "rejected" not in engine.failure_reasons and "error" in engine.failure_reasons
    assert ENGINES["vllm"].failure_reasons == ("error",)  # a vLLM abort is the client going away
    assert "abort" in ENGINES["sglang"].failure_reasons  # SGLang's only failure signal
