"""GPU figures from the llm-exporter next to an engine: SM activity and output tokens per joule over the window."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.compare.figures import Figure, compare
from exporter.compare.sampling import open_side, watch
from tests.support.fresh import at_start
from tests.support.scripted import Engines, capture

GPUS = (Path(__file__).parents[2] / "fixtures" / "gpu" / "2x-h200-live.prom").read_text()
VLLM, SGLANG = capture("vllm-0.32.0-cpu-live.prom"), capture("sglang-0.5.23-cpu-live.prom")
WINDOW = 30.0


def _values(text: str, name: str) -> list[float]:
    return [s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def _earlier(text: str, seconds: float) -> str:
    """The GPU capture `seconds` earlier: each GPU's energy counter less what it draws at its power in that time."""
    power = dict(zip(("0", "1"), _values(text, "llm_gpu_power_watts"), strict=True))

    def back(match: re.Match[str]) -> str:
        return f"{match.group(1)}{float(match.group(3)) - power[match.group(2)] * seconds}"

    return re.sub(r'^(llm_gpu_energy_joules_total\{gpu="(\d)".*\} )(\S+)$', back, text, flags=re.M)


def _figures(client: httpx.Client, engines: Engines, gpu_script: list[str | Exception]) -> dict[str, Figure]:
    before = engines.add("vllm", "vllm", [at_start(VLLM), VLLM])
    after = engines.add("sglang", "sglang", [at_start(SGLANG), SGLANG])
    gpus = engines.add("gpus", "llm-exporter", gpu_script)
    sides = (open_side("before", before, client, 4.0, gpus), open_side("after", after, client, 4.0))
    now = [0.0]
    watch(sides, WINDOW, WINDOW, lambda *_: None, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    return {f.key: f for f in compare(*sides, prices=(None, None))}


@pytest.fixture
def figures(client: httpx.Client, engines: Engines) -> dict[str, Figure]:
    """vLLM with its node's GPUs before, SGLang without after, over a 30 s window."""
    return _figures(client, engines, [_earlier(GPUS, WINDOW), GPUS])


def test_sm_activity_is_the_mean_of_the_nodes_gpus(figures: dict[str, Figure]) -> None:
    active = _values(GPUS, "llm_gpu_sm_active_ratio")
    assert figures["gpu_sm_active"].before.value == pytest.approx(sum(active) / len(active))


def test_tokens_per_joule_divides_output_tokens_by_the_energy_drawn(figures: dict[str, Figure]) -> None:
    drawn = sum(_values(GPUS, "llm_gpu_power_watts")) * WINDOW
    tokens = sum(_values(VLLM, "vllm:generation_tokens_total"))
    assert figures["tokens_per_joule"].before.value == pytest.approx(tokens / drawn)


def test_a_side_without_a_gpu_url_says_how_to_get_one(figures: dict[str, Figure]) -> None:
    for key in ("gpu_sm_active", "tokens_per_joule"):
        value = figures[key].after
        assert value.value is None and "pass --gpu-after the URL of the llm-exporter next to it" in value.reason


def test_an_unreadable_gpu_url_leaves_the_engines_figures_alone(client: httpx.Client, engines: Engines) -> None:
    figures = _figures(client, engines, [httpx.ConnectError("[Errno 111] Connection refused")])
    gpu = figures["tokens_per_joule"].before
    assert gpu.value is None and gpu.reason.startswith("GPU URL: cannot connect to http://gpus:8000/metrics")
    assert figures["output_tokens_per_second"].before.value > 0
