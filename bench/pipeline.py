"""Normalize cost: parse + detect + map + render of real captures, against prometheus_client's parser alone.

Timed in thread CPU time, so that other processes on a shared machine do not count, and interleaved (ours, then
stock, on the same bytes) so that drift hits both sides alike. "Steady" is what the daemon pays on every poll
after the first: the same series as the previous poll with new values, so each repetition gets a body whose
values differ from the last one. "Cold" is a target's first poll, with nothing remembered from earlier bodies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from exporter.engines import ENGINES
from exporter.exposition import FamiliesCollector, TextEncoder
from exporter.family import Family
from exporter.normalize import Normalizer, Resolver, detect
from exporter.parse import Parser, parse

CAPTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "engines"
TGI = "tgi-3.3.5-datadog-fixture.prom"
VLLM = "vllm-0.32.0-cpu-live.prom"


def capture(name: str) -> str:
    """A real engine capture from tests/fixtures/engines."""
    return (CAPTURES / name).read_text(encoding="utf-8")


def next_poll(text: str, step: int) -> str:
    """The same series with every finite value moved by `step`: what the next poll of a live engine returns."""
    out = []
    for line in text.split("\n"):
        head, _, value = line.rpartition(" ")
        if line and line[0] != "#" and head and value.lstrip("-").replace(".", "", 1).replace("e", "", 1).isdigit():
            line = f"{head} {float(value) + step!r}"
        out.append(line)
    return "\n".join(out)


def relabelled(text: str, copies: int) -> str:
    """The vLLM capture with its per-engine series repeated as `copies` data-parallel ranks (engine="0".."N-1")."""
    out = []
    for line in text.split("\n"):
        if 'engine="0"' in line and line[0] != "#":
            out.extend(line.replace('engine="0"', f'engine="{rank}"') for rank in range(copies))
        else:
            out.append(line)
    return "\n".join(out)


class Pipeline:
    """What one target does with a body, minus the fetch: parse, detect the engine, normalize, render."""

    def __init__(self, target: str = "bench") -> None:
        self.target = target
        self.normalizer: Normalizer | None = None
        self.families: list[Family] = []  # the last unified families, as a target's snapshot holds them
        self.forget()

    def forget(self) -> None:
        """Drop what earlier bodies taught the parser and the normalizer, so the next body is a first poll."""
        self.parser, self.resolver, self.normalizer = Parser(), Resolver(), None
        self.encoder = TextEncoder()  # the daemon keeps one for its life, as it keeps the parser

    def run(self, text: str) -> str:
        """The unified exposition of one body."""
        families = self.parser.parse(text)
        engine = detect(families, ENGINES.values(), self.resolver)
        if engine is None:
            raise ValueError("no engine table knows this body")
        if self.normalizer is None or self.normalizer.engine is not engine:
            self.normalizer = Normalizer(engine, self.target, resolver=self.resolver)
        self.families = self.normalizer.normalize(families).families
        return self.encoder(FamiliesCollector(self.families)).decode("utf-8")


def stock(text: str) -> int:
    """prometheus_client's parser over the whole body (it yields lazily, so it is drained)."""
    return sum(len(family.samples) for family in text_string_to_metric_families(text))


def cpu_seconds(work: Callable[[], object]) -> float:
    """Thread CPU time one call of `work` takes."""
    started = time.thread_time_ns()
    work()
    return (time.thread_time_ns() - started) / 1e9


@dataclass
class Timing:
    """CPU seconds per repetition for our pipeline and for the stock parser on the same bodies."""

    ours: list[float]
    stock: list[float]
    series: int


def steady(text: str, repetitions: int) -> Timing:
    """Our pipeline on successive polls of the same series (after one warm-up poll), interleaved with stock."""
    return steady_together({0: text}, repetitions)[0]


def steady_together(texts: dict[int, str], repetitions: int) -> dict[int, Timing]:
    """steady() for several bodies at once, taking turns each repetition so that drift hits every body alike."""
    pipelines = {key: Pipeline() for key in texts}
    bodies = {key: [next_poll(text, step) for step in range(repetitions + 1)] for key, text in texts.items()}
    timings = {key: Timing([], [], sum(len(f.samples) for f in parse(text))) for key, text in texts.items()}
    for key, pipeline in pipelines.items():
        pipeline.run(bodies[key][0])
    for step in range(1, repetitions + 1):
        for key, pipeline in pipelines.items():
            body = bodies[key][step]
            timings[key].ours.append(cpu_seconds(lambda body=body, pipeline=pipeline: pipeline.run(body)))
            timings[key].stock.append(cpu_seconds(lambda body=body: stock(body)))
    return timings


def cold(text: str, repetitions: int) -> Timing:
    """Our pipeline on a target's first poll, each repetition starting from nothing, interleaved with stock."""
    ours, theirs = [], []
    for _ in range(repetitions):
        pipeline = Pipeline()
        ours.append(cpu_seconds(lambda pipeline=pipeline: pipeline.run(text)))
        theirs.append(cpu_seconds(lambda: stock(text)))
    return Timing(ours, theirs, sum(len(f.samples) for f in parse(text)))
