"""Watching two engines: both read at the same moments; an engine that dies or restarts ends its window plainly."""

from __future__ import annotations

import httpx
import pytest

from exporter.compare.figures import compare
from exporter.compare.sampling import Reading, open_side, watch
from tests.support.fresh import at_start
from tests.support.scripted import Engines, capture, watched

VLLM, SGLANG = capture("vllm-0.32.0-cpu-live.prom"), capture("sglang-0.5.23-cpu-live.prom")
REFUSED = httpx.ConnectError("[Errno 111] Connection refused")


def test_both_sides_are_read_at_the_same_moments(client: httpx.Client, engines: Engines) -> None:
    urls = engines.add("a", "vllm", [at_start(VLLM), VLLM]), engines.add("b", "sglang", [at_start(SGLANG), SGLANG])
    before, after = watched(client, urls, reads=4, step=5.0)
    assert [r.at for r in before.readings] == [r.at for r in after.readings] == [0.0, 5.0, 10.0, 15.0]
    assert (before.engine_type, before.version, before.model) == ("vllm", "0.32.0", "tiny")
    assert (after.engine_type, after.version) == ("sglang", "0.5.23")


def test_an_engine_dying_mid_window_keeps_what_it_gave(client: httpx.Client, engines: Engines) -> None:
    urls = (
        engines.add("a", "vllm", [at_start(VLLM), VLLM]),
        engines.add("b", "sglang", [at_start(SGLANG), SGLANG, REFUSED]),
    )
    before, after = watched(client, urls, reads=4, step=10.0)
    assert len(before.readings) == 4 and not before.error
    assert len(after.readings) == 2 and after.failed_at == 20.0
    assert after.error.startswith("cannot connect to http://b:8000/metrics")
    figures = {f.key: f for f in compare(before, after, (None, None))}
    # The dead side's figures cover the 10 s it answered for; the live side's its whole 30 s.
    generated = {side.role: _generated(side.readings[-1]) for side in (before, after)}
    assert figures["output_tokens_per_second"].after.value == pytest.approx(generated["after"] / 10.0)
    assert figures["output_tokens_per_second"].before.value == pytest.approx(generated["before"] / 30.0)


def _generated(reading: Reading) -> float:
    return sum(s.value for s in reading.families["llm_generation_tokens_total"].samples)


def test_a_side_that_never_answers_ends_the_watch_at_once(client: httpx.Client, engines: Engines) -> None:
    urls = engines.add("a", "vllm", [VLLM]), engines.add("b", "sglang", [REFUSED])
    sides = open_side("before", urls[0], client, 1.0), open_side("after", urls[1], client, 1.0)
    slept: list[float] = []
    assert watch(sides, 300.0, 5.0, lambda *_: None, clock=lambda: 0.0, sleep=slept.append)
    assert slept == [] and len(sides[0].readings) == 1 and sides[1].error
    figures = compare(*sides, prices=(1.0, 1.0))
    engine_figures = [f for f in figures if not f.key.startswith(("gpu", "tokens_per"))]
    assert all(f.after.value is None and f.after.reason == sides[1].error for f in engine_figures)
    assert all(f.before.value is None and "one reading only" in f.before.reason for f in figures[:15])


def test_metrics_of_no_known_engine_are_an_error(client: httpx.Client, engines: Engines) -> None:
    urls = engines.add("a", "vllm", ["# TYPE node_load1 gauge\nnode_load1 0.5\n"]), engines.add("b", "vllm", [VLLM])
    before, _ = watched(client, urls, reads=2)
    assert before.error == "http://a:8000/metrics serves no engine metrics llm-exporter knows"


def test_a_restart_inside_the_window_is_named_not_computed(client: httpx.Client, engines: Engines) -> None:
    urls = engines.add("a", "vllm", [VLLM, at_start(VLLM)]), engines.add("b", "sglang", [SGLANG])
    figures = {f.key: f for f in compare(*watched(client, urls, reads=2), prices=(None, None))}
    reset = figures["output_tokens_per_second"].before
    assert reset.value is None and "went down in the window: the engine restarted" in reset.reason
    assert figures["output_tokens_per_second"].after.value == 0.0


def test_a_bad_url_is_named() -> None:
    with httpx.Client() as client, pytest.raises(ValueError, match=r"after URL 'ftp://x': must be an http\(s\) URL"):
        open_side("after", "ftp://x", client, 1.0)
