"""Every real capture: detection, coverage both ways, golden output, promtool-clean exposition."""

from __future__ import annotations

import pytest

from exporter.engines import ENGINES
from exporter.parse import parse
from tests.support.fixture_set import FIXTURES, GOLDENS, golden_text, normalized

EXPECTED_ENGINE = {
    "sglang-0.4.0-docs-production-metrics-partial": "sglang",
    "sglang-0.4.9-pr7944-partial": "sglang",
    "sglang-0.5.23-cpu-live": "sglang",
    # synthetic: rendered from the 0.5.23 definitions with invented values; the live 0.5.23 capture sits beside it
    "sglang-0.5.23-synthetic": "sglang",
    "sglang-0.5.3-aibrix-issue1614-dp-partial": "sglang",
    "sglang-0.5.8-dynamo-metrics-example": "sglang",
    "tgi-3.3.5-datadog-fixture": "tgi",
    "llamacpp-2025-06-pr13196-partial": "llamacpp",
    "llamacpp-b11434-cpu-live": "llamacpp",
    "llamacpp-b11434-cpu-live-burst": "llamacpp",
    "triton-2.71-trtllm-synthetic": "triton",  # synthetic: no real Triton + TensorRT-LLM capture exists (engines.md §9)
    "triton-trtllm-0.18.2-readme-example-partial": "triton",
    "trtllm-dynamo-ce30a76-metrics-example": "trtllm",
    "dynamo-frontend-metrics-example": "dynamo",
    "vllm-0.10.0-pr22227-dp-partial": "vllm",
    "vllm-0.32.0-cpu-live": "vllm",
    "vllm-0.8.0-production-stack-issue318-partial": "vllm",
}

ids = [path.stem for path in FIXTURES]


def test_every_fixture_is_listed_and_sourced():
    assert sorted(EXPECTED_ENGINE) == sorted(ids)
    for path in FIXTURES:
        assert path.read_text(encoding="utf-8").startswith("# source: "), path.name


@pytest.mark.parametrize("path", FIXTURES, ids=ids)
def test_detection(path):
    engine_type, _ = normalized(path)
    assert engine_type == EXPECTED_ENGINE[path.stem]


@pytest.mark.parametrize("path", FIXTURES, ids=ids)
def test_every_engine_family_is_mapped_or_ignored(path):
    _, result = normalized(path)
    assert result is not None
    assert result.unmapped == []


@pytest.mark.parametrize("engine_type", sorted({e for e in EXPECTED_ENGINE.values() if e in ENGINES}))
def test_every_table_row_is_used_by_some_fixture(engine_type):
    used: set[str] = set()
    for path in FIXTURES:
        if EXPECTED_ENGINE[path.stem] == engine_type:
            _, result = normalized(path)
            used.update(result.mapped)
    engine = ENGINES[engine_type]
    sources = {name.split(":", 1)[-1] for name in used} | {name[len(engine.prefixes[0]):] for name in used}
    sources |= {name[: -len("_total")] for name in sources if name.endswith("_total")}
    unused = sorted({row.source for row in engine.rows} - sources)
    assert unused == [] or set(unused) <= UNCAPTURED[engine_type], unused


# Rows for names no capture we hold contains, each with the reason it is in the table anyway.
UNCAPTURED = {
    "vllm": {
        "gpu_prefix_cache_hits",  # 0.7.3-0.11 V1 name; the 0.8.0 capture has only the queries half
        "gpu_prefix_cache_hit_rate",  # V0 gauge, visible ≤ 0.8.0 (engines.md §1.3)
        "time_per_output_token_seconds",  # ≤ 0.14 (engines.md §1.2)
        "time_in_queue_requests",  # V0 ≤ 0.9.0 (engines.md §1.3)
    },
    "sglang": {
        "num_retracted_requests",  # ≥ 0.5.8 counter, present only after a retraction
    },
    "tgi": {
        "batch_max_total_tokens",  # ≥ 2.3.0 but absent from the 3.3.5 capture (engines.md §3)
    },
    "llamacpp": {
        "kv_cache_usage_ratio",  # removed 2025-06 (#13660); every capture is newer (engines.md §4)
    },
    "triton": {
        "inference_first_response_histogram_ms",  # opt-in; in no capture: test_engines_more builds one
    },
}


@pytest.mark.parametrize("path", FIXTURES, ids=ids)
def test_golden(path):
    golden = GOLDENS / path.name
    assert golden.exists(), "run: python3 scripts/update-goldens.py"
    assert golden_text(path) == golden.read_text(encoding="utf-8"), "run scripts/update-goldens.py, review the diff"


@pytest.mark.parametrize("path", FIXTURES, ids=ids)
def test_golden_parses_back_without_loss(path):
    text = golden_text(path)
    families = parse(text)
    _, result = normalized(path)
    assert [f.name for f in families] == [f.name for f in result.families]
    assert sum(len(f.samples) for f in families) == sum(len(f.samples) for f in result.families)


