"""`llm-exporter compare` on a live vLLM and a live SGLang that receive the same traffic inside its window.

Every figure is checked against the engines' own /metrics, read (settled) before the window opened and after it
closed with no traffic outside it: rates and ratios exactly, quantiles to the bucket their rank falls in. The
same window is also scraped by a real Prometheus through the exporter, and the Migration dashboard's report
tables, queried over exactly that window, must give the same figures within increase()'s extrapolation to the
range's edges (at most a scrape interval over the range, and not alike for every bucket: a bucket at zero is not
extrapolated below it), and quantiles whose bucket the exporter's canonical bounds merge within the merged bucket.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.samples import Sample

from exporter import schema
from exporter.checklist import LATENCIES
from exporter.mixin import dashboards
from exporter.mixin.settings import Settings
from tests.support.browser import screenshot
from tests.support.engine_names import OWN
from tests.support.engines import EngineServer
from tests.support.exporter import ExporterProcess
from tests.support.exposition import cumulative_buckets, scrape, scrape_settled, total
from tests.support.process import running
from tests.support.prometheus import PrometheusServer
from tests.support.traffic import send_completions
from tests.unit.mixin.test_dashboards import ALL_VALUES, interpolate

SETTLE_ON = {side: {own["generation"], own["finished"], own["prompt"]} for side, own in OWN.items()}
# Long enough for 16 requests on each engine at once on a loaded 2-core machine, with room to settle.
DURATION_S = 120
# increase() extrapolates to the range's edges by up to a scrape interval (1 s) over the range: under 2 %.
EXTRAPOLATION = 2 / DURATION_S
# What Prometheus holds lags an engine by up to an exporter poll (2 s) plus a scrape (1 s). Traffic starts this
# long after the window opens and must settle this long before it closes, so that Prometheus's first and last
# samples inside the window hold no request and every request, as compare's first and last readings do (without
# it, queue times observed as the first batch is scheduled fell before Prometheus's first sample: 1 CI run in 4).
QUIET_EDGE_S = 6


@dataclass(frozen=True)
class Window:
    """What compare printed, and each engine's own /metrics at the window's two ends."""

    report: dict[str, Any]
    start: dict[str, list[Sample]]
    end: dict[str, list[Sample]]
    prometheus: PrometheusServer
    targets: dict[str, str]
    html: Path


def _increase(window: Window, engine: str, name: str) -> float:
    try:
        start = total(window.start[engine], name)
    except LookupError:  # SGLang creates some counters with their first count
        start = 0.0
    return total(window.end[engine], name) - start


def _buckets(window: Window, engine: str, histogram: str) -> list[tuple[float, float]]:
    before = _cumulative_or_empty(window.start[engine], histogram)
    after = cumulative_buckets(window.end[engine], histogram)
    return [(bound, count - before.get(bound, 0.0)) for bound, count in sorted(after.items())]


def _cumulative_or_empty(samples: list[Sample], histogram: str) -> dict[float, float]:
    try:
        return cumulative_buckets(samples, histogram)
    except LookupError:  # SGLang creates its histograms with the first request
        return {}


@pytest.fixture(scope="module")
def window(
    vllm_engine: EngineServer, sglang_engine: EngineServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Window]:
    """compare watching vLLM (before) and SGLang (after) while both serve the same 16 completions."""
    workdir = tmp_path_factory.mktemp("compare-e2e")
    engines = {"vllm": vllm_engine, "sglang": sglang_engine}
    for engine in engines.values():
        engine.ensure_running()
    # 2 s, as the other e2e stacks: a CPU vLLM serving a burst can take over a second to answer /metrics, and a
    # poll's timeout is at most its interval; polls that time out through the window leave Prometheus nothing to add.
    exporter = ExporterProcess([e.base_url for e in engines.values()], workdir, interval="2s")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "llm-exporter", "static_configs": [{"targets": [exporter.url.removeprefix("http://")]}]}
        ],
    }
    with running(exporter), running(PrometheusServer(workdir / "prometheus", config)) as prometheus:
        for engine in engines.values():
            # Before the window: a shared prefix, streamed and not, so every series the figures read exists
            # before it opens (SGLang creates its cached-tokens counter with the first hit and a series per
            # is_streaming value with the first such request). increase() cannot count a series' first sample.
            send_completions(engine.base_url, engine.model, count=4, shared=4, mix_streaming=True)
            prometheus.wait_for_query(f'llm_generation_tokens_total{{target="{engine.target}"}}', bool)
        start = {name: scrape_settled(e.metrics_url, SETTLE_ON[name]) for name, e in engines.items()}
        html = workdir / "report.html"
        argv = [sys.executable, "-m", "exporter", "compare", vllm_engine.base_url, sglang_engine.base_url,
                "--duration", f"{DURATION_S}s", "--interval", "2s", "--price-before", "2.5", "--price-after", "2.5",
                "--json", "--html", str(html)]  # fmt: skip
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as compare:
            assert compare.stderr is not None
            first = compare.stderr.readline()  # the first reading of both sides is taken
            assert first.startswith(f"compare: 0/{DURATION_S} s"), first
            opened = time.time()
            time.sleep(QUIET_EDGE_S)
            with ThreadPoolExecutor(2) as pool:
                sent = [
                    pool.submit(send_completions, e.base_url, e.model, 16, 10, 4, 8, True) for e in engines.values()
                ]
                for future in sent:
                    future.result()
            settled = {name: scrape_settled(e.metrics_url, SETTLE_ON[name]) for name, e in engines.items()}
            took = time.time() - opened
            print(f"compare e2e: the traffic settled {took:.0f} s into the {DURATION_S} s window")
            assert took <= DURATION_S - QUIET_EDGE_S, f"the traffic took {took:.0f} s of the window: raise DURATION_S"
            out, err = compare.communicate(timeout=DURATION_S + 60)
        assert compare.returncode == 0, err[-2000:]
        (workdir / "report.json").write_text(out)
        end = {name: scrape(e.metrics_url) for name, e in engines.items()}
        for name in engines:
            moved = {n: (total(settled[name], n), total(end[name], n)) for n in SETTLE_ON[name]}
            assert all(a == b for a, b in moved.values()), f"{name} moved after the window: {moved}"
        # Prometheus must hold the last poll of the window before its queries are compared.
        time.sleep(5)
        targets = {name: e.target for name, e in engines.items()}
        yield Window(json.loads(out), start, end, prometheus, targets, html)


def _figures(window: Window) -> dict[str, dict[str, Any]]:
    return {figure["key"]: figure for figure in window.report["figures"]}


@pytest.mark.parametrize("role,engine", [("before", "vllm"), ("after", "sglang")])
def test_rates_and_ratios_equal_the_engines_counters(window: Window, role: str, engine: str) -> None:
    figures, own = _figures(window), OWN[engine]
    seconds = window.report[role]["window_seconds"]
    assert window.report[role]["engine_type"] == engine and window.report["complete"]
    generation = _increase(window, engine, own["generation"])
    prompt = _increase(window, engine, own["prompt"])
    assert generation >= 16 * 8 / 2, "the traffic did not reach the engine"  # streamed or not, 8 tokens each
    assert figures["output_tokens_per_second"][role]["value"] * seconds == pytest.approx(generation, rel=1e-3)
    assert figures["total_tokens_per_second"][role]["value"] * seconds == pytest.approx(generation + prompt, rel=1e-3)
    assert figures["requests_per_second"][role]["value"] * seconds == pytest.approx(
        _increase(window, engine, own["finished"]), rel=1e-3
    )
    hits, queries = _increase(window, engine, own["hits"]), _increase(window, engine, own["queries"])
    assert figures["prefix_cache_hit_ratio"][role]["value"] == pytest.approx(hits / queries)
    tokens_per_second = generation / seconds
    assert figures["cost_per_million_output_tokens"][role]["value"] == pytest.approx(
        (2.5 / 3600) / (tokens_per_second / 1e6), rel=1e-3
    )


@pytest.mark.parametrize("role,engine", [("before", "vllm"), ("after", "sglang")])
@pytest.mark.parametrize("key", [key for key, _, _ in LATENCIES])
def test_quantiles_lie_in_the_bucket_of_their_rank(window: Window, role: str, engine: str, key: str) -> None:
    buckets = _buckets(window, engine, OWN[engine][key])
    for q in (50, 95, 99):
        figure = _figures(window)[f"{key}_p{q}"][role]
        assert figure["value"] is not None, figure["reason"]
        rank = q / 100 * buckets[-1][1]
        upper = next(bound for bound, count in buckets if count >= rank)
        finite = [bound for bound, _ in buckets if math.isfinite(bound)]
        want = [finite[-1], "+Inf"] if math.isinf(upper) else [max([0.0, *(b for b in finite if b < upper)]), upper]
        assert figure["bucket"] == want, (key, q)
        assert want[0] <= figure["value"] <= (upper if math.isfinite(upper) else finite[-1])


def _range(window: Window) -> tuple[str, float]:
    """compare's window as a PromQL range ending at the returned Unix time."""
    start, end = window.report["before"]["window_unix"]
    return f"{round((end - start) * 1000)}ms", end


@pytest.mark.parametrize("role,engine", [("before", "vllm"), ("after", "sglang")])
@pytest.mark.parametrize("key,family", [(key, family) for key, _, family in LATENCIES])
def test_quantiles_equal_prometheus_over_the_same_window(
    window: Window, role: str, engine: str, key: str, family: str
) -> None:
    span, end = _range(window)
    for q in (0.5, 0.95, 0.99):
        buckets = f'sum by (le) (increase({family}_bucket{{target="{window.targets[engine]}"}}[{span}]))'
        result = window.prometheus.query(f"histogram_quantile({q}, {buckets})", at=end)
        figure = _figures(window)[f"{key}_p{round(q * 100)}"][role]
        assert result, buckets
        theirs = float(result[0]["value"][1])
        # Within bucket resolution: increase() extrapolates each bucket series on its own (a series created
        # mid-window less), which moves the interpolated position inside a bucket, or onto its edge, by more than
        # its few per cent. Where the exporter's canonical bounds merge the bucket, the merged one.
        lower, upper = _allowed(window, engine, key, family, figure)
        assert lower <= theirs <= upper, (q, theirs, figure, window.prometheus.query(buckets, at=end))


def _bound(text: float | str) -> float:
    return math.inf if text == "+Inf" else float(text)


def _dashboard_figures(window: Window) -> dict[tuple[str, str], float]:
    """(figure, side) -> value of the Migration report tables, queried over compare's window, vLLM as A."""
    span, end = _range(window)
    values = ALL_VALUES | {"engine_a": "vllm", "engine_b": "sglang", "__range": span,
                           "__range_s": f"{int(span[:-2]) / 1000}"}  # fmt: skip
    figures = {}
    for panel in dashboards.panels(dashboards.render(dashboards.BUILDERS["migration"], Settings())):
        if any(t["id"] == "groupingToMatrix" for t in panel.get("transformations", ())):
            for item in window.prometheus.query(interpolate(panel["targets"][0]["expr"], values), at=end):
                figures[item["metric"]["figure"], item["metric"]["side"]] = float(item["value"][1])
    return figures


def _allowed(window: Window, engine: str, key: str, family: str, figure: dict[str, Any]) -> tuple[float, float]:
    """Where Prometheus's quantile may lie for compare's figure: the merged bucket, and where the rank falls exactly
    on the bucket's upper edge (the figure is that edge), up to the next bucket holding an observation: increase()
    extrapolates each bucket series by its own amount, so the rank may land just past the edge's count."""
    lower, upper = _merged_bucket(family, figure["bucket"])
    edge = _bound(figure["bucket"][1])
    if math.isfinite(edge) and math.isclose(figure["value"], edge):
        counts = _buckets(window, engine, OWN[engine][key])
        at_edge = next(count for bound, count in counts if bound >= edge)
        following = next((bound for bound, count in counts if count > at_edge), math.inf)
        upper = _merged_bucket(family, [edge, "+Inf" if math.isinf(following) else following])[1]
    return lower, upper


def _merged_bucket(family: str, bucket: list[Any]) -> tuple[float, float]:
    """The bucket of the exporter's canonical bounds that holds a native bucket (itself where both bounds are kept)."""
    bounds = [0.0, *(schema.spec(family).buckets or ()), math.inf]
    upper = _bound(bucket[1])
    return max(b for b in bounds if b <= bucket[0]), min(b for b in bounds if b >= upper)


def test_the_dashboard_report_gives_the_same_figures_over_the_same_window(window: Window) -> None:
    dashboard = _dashboard_figures(window)
    families = {label: (key, family) for key, label, family in LATENCIES}
    engine_of = {"A": "vllm", "B": "sglang"}
    compared = 0
    for figure in window.report["figures"]:
        for role, side in (("before", "A"), ("after", "B")):
            mine = figure[role]
            if mine["value"] is None:
                assert (figure["label"], side) not in dashboard, figure["label"]
                continue
            if (figure["label"], side) not in dashboard:
                # compare reads a failure kind the engine creates with its first such request as 0 until then.
                assert mine["value"] == 0 and mine["reason"].startswith("none seen"), (figure["label"], side)
                continue
            theirs = dashboard[figure["label"], side]
            compared += 1
            latency = families.get(figure["label"].rsplit(" ", 1)[0])
            if latency is not None:
                lower, upper = _allowed(window, engine_of[side], *latency, mine)  # within bucket resolution, as above
                assert lower <= theirs <= upper, (figure["label"], side, theirs, mine)
            else:
                assert theirs == pytest.approx(mine["value"], rel=EXTRAPOLATION, abs=1e-9), (figure["label"], side)
    assert compared >= 50


def test_the_html_report_renders(window: Window, tmp_path: Path) -> None:
    found = screenshot(window.html, tmp_path / "report.png", tmp_path / "profile")
    assert sum(found.values()) - found[(255, 255, 255)] > 0.03 * sum(found.values())
