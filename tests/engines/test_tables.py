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


def _golden_bounds(engine_type: str, unified: str) -> list[tuple[float, ...]]:
    from pathlib import Path

    from exporter.parse import parse

    found = []
    for golden in sorted((Path(__file__).parents[1] / "goldens").glob(f"{engine_type}-*.prom")):
        for family in parse(golden.read_text(encoding="utf-8")):
            if family.name == unified:
                les = {s.labels["le"] for s in family.samples if s.labels.get("le", "+Inf") != "+Inf"}
                found.append(tuple(sorted(float(le) for le in les)))
    return found


@pytest.mark.parametrize("engine_type", sorted(ENGINES))
def test_declared_bounds_are_those_a_real_capture_shows(engine_type):
    for unified, bounds in ENGINES[engine_type].bounds:
        assert tuple(bounds) == tuple(sorted(bounds))
        assert tuple(bounds) in _golden_bounds(engine_type, unified), (unified, _golden_bounds(engine_type, unified))


@pytest.mark.parametrize(
    "unified", ["gen_ai_server_time_to_first_token_seconds", "gen_ai_server_time_per_output_token_seconds"]
)
def test_every_engine_with_an_slo_histogram_declares_its_bounds(unified):
    for engine in ENGINES.values():
        reported = any(row.unified == unified for row in engine.rows)
        captured = _golden_bounds(engine.engine_type, unified)
        if reported and captured:
            assert engine.bounds_of(unified), f"{engine.engine_type} reports {unified}: declare its bounds"
