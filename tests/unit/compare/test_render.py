"""The three renderings of one report: terminal table, one JSON object, a self-contained HTML page."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from exporter.compare import html, jsonreport, terminal
from exporter.compare.figures import Figure, Value, compare
from exporter.compare.report import Report, ratio_cell
from tests.support.fresh import at_start
from tests.support.scripted import Engines, capture, watched

TGI, VLLM = capture("tgi-3.3.5-datadog-fixture.prom"), capture("vllm-0.32.0-cpu-live.prom")


@pytest.fixture
def report(client: httpx.Client, engines: Engines) -> Report:
    """TGI before, vLLM after (which stops answering at its third reading), prices on both sides."""
    urls = (
        engines.add("tgi", "tgi", [at_start(TGI), TGI]),
        engines.add("vllm", "vllm", [at_start(VLLM), VLLM, httpx.ConnectError("[Errno 111] Connection refused")]),
    )
    before, after = watched(client, urls, reads=4)
    return Report(before, after, compare(before, after, (4.0, 2.5)), 90.0, finished=True)


def test_terminal_rows_notes_and_resolution(report: Report) -> None:
    text = terminal.render(report)
    lines = text.splitlines()
    assert lines[0].startswith("before: tgi 3.3.5 serving 'tgi-model' at http://tgi:8000/metrics, 90 s window")
    assert "after: vllm 0.32.0 serving 'tiny'" in lines[1] and "stopped after 60 s: cannot connect" in lines[1]
    ttft = next(line for line in lines if line.startswith("TTFT p50"))
    note = int(re.search(r"n/a \((\d+)\)", ttft).group(1))  # type: ignore[union-attr]
    assert f"  ({note}) tgi does not report gen_ai_server_time_to_first_token_seconds; use the load" in text
    assert re.search(r"^TPOT p95 +\S+ ms \[[\d.]+–[\d.]+\] +\S+ ms \[[\d.]+–[\d.]+\] +×[\d.]+$", text, re.M)
    assert "histogram_quantile" in lines[-1]


def test_json_has_both_sides_each_figure_ratio_and_reason(report: Report) -> None:
    document = json.loads(jsonreport.render(report))
    assert document["complete"] is False
    assert document["after"]["error"].startswith("cannot connect") and document["after"]["failed_after_seconds"] == 60
    assert document["before"]["window_seconds"] == 90.0 and document["after"]["window_seconds"] == 30.0
    figures = {f["key"]: f for f in document["figures"]}
    assert len(figures) == len(report.figures)
    tpot = figures["tpot_p50"]
    assert tpot["ratio"] == pytest.approx(tpot["after"]["value"] / tpot["before"]["value"])
    assert len(tpot["before"]["bucket"]) == 2
    assert figures["ttft_p50"]["before"] == {
        "value": None,
        "reason": report.figures[0].before.reason,
        "bucket": None,
    }
    assert figures["ttft_p50"]["ratio"] is None


def test_html_is_self_contained(report: Report) -> None:
    page = html.render(report)
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 8
    # Nothing to fetch: no script, no stylesheet or image link, no URL but the engines' own in the text.
    assert not re.search(r"<script|<link|<img|\bsrc=|\bhref=|url\(", page)
    assert "Partial report" in page
    assert "tgi does not report gen_ai_server_time_to_first_token_seconds" in page


@pytest.mark.parametrize(
    "before,after,overlap",
    [
        ((0.0, 0.1), (0.01, 0.02), True),  # SGLang's first TTFT bucket holds all of vLLM's first ones
        ((0.04, 0.06), (0.6, 0.8), False),
        ((0.1, 0.2), (0.2, 0.4), False),  # buckets that only touch are apart
    ],
)
def test_a_ratio_of_quantiles_in_overlapping_buckets_is_marked(
    before: tuple[float, float], after: tuple[float, float], overlap: bool
) -> None:
    figure = Figure(
        "ttft_p50", "TTFT p50", "seconds", Value(sum(before) / 2, bucket=before), Value(sum(after) / 2, bucket=after)
    )
    assert figure.within_resolution is overlap
    assert ratio_cell(figure).endswith("(buckets overlap)") is overlap
