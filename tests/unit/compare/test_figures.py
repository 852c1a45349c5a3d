"""compare's figures equal what the engines' own counters and histograms say, read from the raw captures.

Each side is a real capture served twice: first as its engine looked before its first request (every counter
and bucket at zero), then as captured; or, for an engine busy before the window, as captured and then after
serving the same requests again. The expected figures are computed here from the capture's own engine
names with prometheus_client's parser, independently of the exporter's tables and normalizer.
"""

from __future__ import annotations

import math

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.compare.figures import Figure, compare
from exporter.compare.sampling import Side
from tests.support.engine_names import OWN
from tests.support.fresh import at_start, served_twice
from tests.support.scripted import Engines, capture, watched

WINDOW = 60.0
VLLM, SGLANG, TGI = "vllm-0.32.0-cpu-live.prom", "sglang-0.5.23-cpu-live.prom", "tgi-3.3.5-datadog-fixture.prom"
LATENCY_KEYS = ("ttft", "itl", "tpot", "e2e", "queue")
COUNTER_KEYS = ("generation", "prompt", "hits", "queries")


def _raw(name: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(capture(name)):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _total(raw: dict[str, list[tuple[dict[str, str], float]]], name: str, **match: str) -> float:
    return sum(v for labels, v in raw[name] if all(labels.get(k) == want for k, want in match.items()))


def _rank_bucket(raw: dict[str, list[tuple[dict[str, str], float]]], histogram: str, q: float) -> float:
    """The upper bound of the bucket holding the q-th observation: the bucket the quantile must lie in."""
    cumulative: dict[float, float] = {}
    for labels, value in raw[f"{histogram}_bucket"]:
        cumulative[float(labels["le"])] = cumulative.get(float(labels["le"]), 0.0) + value
    bounds = sorted(cumulative)
    total = cumulative[math.inf]
    upper = next(b for b in bounds if cumulative[b] >= q * total)
    return upper if not math.isinf(upper) else bounds[-2]


def _figures(
    client: httpx.Client,
    engines: Engines,
    before: tuple[str, str],
    after: tuple[str, str],
    served_before: bool = False,
) -> list[Figure]:
    """Figures over a window in which each engine served its capture's requests (`served_before`: once more)."""

    def script(text: str) -> list[str | Exception]:
        return [text, served_twice(text)] if served_before else [at_start(text), text]

    urls = tuple(
        engines.add(f"{role}-host", engine_type, script(capture(name)))
        for role, (engine_type, name) in zip(("before", "after"), (before, after), strict=True)
    )
    sides: tuple[Side, Side] = watched(client, (urls[0], urls[1]), reads=3, step=WINDOW / 2)
    return compare(*sides, prices=(4.0, 2.5))


def _by_key(figures: list[Figure]) -> dict[str, Figure]:
    return {figure.key: figure for figure in figures}


@pytest.mark.parametrize("served_before", [False, True], ids=["fresh-engines", "busy-engines"])
@pytest.mark.parametrize("engine_type,name", [("vllm", VLLM), ("sglang", SGLANG)])
def test_rates_ratios_and_cost_equal_the_engines_counters(
    client: httpx.Client, engines: Engines, engine_type: str, name: str, served_before: bool
) -> None:
    figures = _by_key(_figures(client, engines, ("tgi", TGI), (engine_type, name), served_before))
    raw = _raw(name)
    generation, prompt, hits, queries = (_total(raw, OWN[engine_type][key]) for key in COUNTER_KEYS)
    after = {key: figure.after.value for key, figure in figures.items()}
    assert after["output_tokens_per_second"] == pytest.approx(generation / WINDOW)
    assert after["total_tokens_per_second"] == pytest.approx((prompt + generation) / WINDOW)
    assert after["prefix_cache_hit_ratio"] == pytest.approx(hits / queries)
    assert after["cost_per_million_output_tokens"] == pytest.approx((2.5 / 3600) / (generation / WINDOW / 1e6))
    tgi = _raw(TGI)
    assert figures["output_tokens_per_second"].before.value == pytest.approx(
        _total(tgi, "tgi_request_generated_tokens_sum") / WINDOW
    )
    assert figures["error_ratio_rejected"].before.value == pytest.approx(
        _total(tgi, "tgi_request_failure_total", err="validation")
        / (_total(tgi, "tgi_request_success_total") + _total(tgi, "tgi_request_failure_total"))
    )


@pytest.mark.parametrize("served_before", [False, True], ids=["fresh-engines", "busy-engines"])
@pytest.mark.parametrize("engine_type,name", [("vllm", VLLM), ("sglang", SGLANG)])
def test_each_latency_quantile_lies_in_the_bucket_of_its_rank(
    client: httpx.Client, engines: Engines, engine_type: str, name: str, served_before: bool
) -> None:
    figures = _by_key(_figures(client, engines, (engine_type, name), ("tgi", TGI), served_before))
    raw = _raw(name)
    for key in LATENCY_KEYS:
        histogram = OWN[engine_type][key]
        for q in (0.5, 0.95, 0.99):
            value = figures[f"{key}_p{round(q * 100)}"].before
            assert value.value is not None and value.bucket is not None, (key, q, value.reason)
            lower, upper = value.bucket
            assert upper == _rank_bucket(raw, histogram, q) or math.isinf(upper), (key, q)
            assert lower <= value.value <= upper


def test_vllm_error_ratios_split_by_finish_reason(client: httpx.Client, engines: Engines) -> None:
    figures = _by_key(_figures(client, engines, ("vllm", VLLM), ("sglang", SGLANG)))
    raw = _raw(VLLM)
    finished = _total(raw, "vllm:request_success_total")
    for kind in ("error", "abort"):
        expected = _total(raw, "vllm:request_success_total", finished_reason=kind) / finished
        assert figures[f"error_ratio_{kind}"].before.value == pytest.approx(expected)
    rejected = figures["error_ratio_rejected"].before
    assert rejected.value is None and "reports no finish_reason='rejected'" in rejected.reason
    sglang_error = figures["error_ratio_error"].after
    assert sglang_error.value is None and "aborts are its failures" in sglang_error.reason


def test_figures_tgi_cannot_give_say_what_to_use_instead(client: httpx.Client, engines: Engines) -> None:
    figures = _by_key(_figures(client, engines, ("tgi", TGI), ("vllm", VLLM)))
    assert figures["ttft_p95"].before.value is None
    assert "client-side TTFT" in figures["ttft_p95"].before.reason
    assert "use TPOT" in figures["itl_p50"].before.reason
    assert "prefix reuse shows only once" in figures["prefix_cache_hit_ratio"].before.reason
    assert figures["ttft_p95"].ratio is None and figures["tpot_p50"].ratio is not None
    assert figures["output_tokens_per_second"].before.reason == "tgi counts tokens when a request finishes"


def test_prefix_ratio_carries_the_guides_band(client: httpx.Client, engines: Engines) -> None:
    figure = _by_key(_figures(client, engines, ("tgi", TGI), ("vllm", VLLM)))["prefix_cache_hit_ratio"]
    assert figure.after.value is not None
    expected = "above 70 %" if figure.after.value >= 0.7 else "below 20 %" if figure.after.value < 0.2 else "between"
    assert figure.after.reason.startswith(expected)
