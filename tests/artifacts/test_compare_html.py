"""The HTML report of `llm-exporter compare` opened in headless Chromium: its table and charts render offline."""

from __future__ import annotations

from pathlib import Path

import httpx

from exporter.compare import html, svg
from exporter.compare.figures import compare
from exporter.compare.report import Report
from tests.support.browser import WINDOW, screenshot
from tests.support.fresh import at_start
from tests.support.scripted import Engines, capture, watched

WHITE = (255, 255, 255)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_the_report_renders_its_table_and_charts(tmp_path: Path) -> None:
    engines = Engines()
    tgi, vllm = capture("tgi-3.3.5-datadog-fixture.prom"), capture("vllm-0.32.0-cpu-live.prom")
    urls = engines.add("tgi", "tgi", [at_start(tgi), tgi]), engines.add("vllm", "vllm", [at_start(vllm), vllm])
    with httpx.Client(transport=httpx.MockTransport(engines.handle)) as client:
        before, after = watched(client, urls, reads=3)
    page = tmp_path / "report.html"
    page.write_text(html.render(Report(before, after, compare(before, after, (4.0, 2.5)), 60.0, True)))
    found = screenshot(page, tmp_path / "report.png", tmp_path / "profile")
    pixels = WINDOW[0] * WINDOW[1]
    assert sum(found.values()) == pixels
    # Text, table rules and bars cover a real share of the page, not a blank or error page.
    assert pixels - found[WHITE] > pixels * 0.03
    # Each side's bars are drawn: a chart of an empty or failed page has none of its two colours.
    before_ink, after_ink = (found[_rgb(colour)] for colour in svg.COLORS)
    assert before_ink > 2_000 and after_ink > 2_000, (before_ink, after_ink)
