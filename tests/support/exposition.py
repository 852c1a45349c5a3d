"""Reading Prometheus text exposition: scrape a URL, pick samples by name and labels, add them up."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def scrape(url: str) -> list[Sample]:
    """GET `url` and parse it (Prometheus text format) into a flat list of samples."""
    response = httpx.get(url, timeout=10.0)
    response.raise_for_status()
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def select(samples: list[Sample], name: str, labels: Mapping[str, str] | None = None) -> list[Sample]:
    """Samples called `name` whose labels include every pair in `labels`."""
    wanted = dict(labels or {})
    return [s for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in wanted.items())]


def total(samples: list[Sample], name: str, labels: Mapping[str, str] | None = None) -> float:
    """Sum of the matching samples' values; LookupError naming what exists when nothing matches."""
    matched = select(samples, name, labels)
    if not matched:
        same_name = [dict(s.labels) for s in samples if s.name == name]
        raise LookupError(f"no sample {name} with labels {dict(labels or {})}; series of that name: {same_name}")
    return sum(s.value for s in matched)


def cumulative_buckets(samples: list[Sample], name: str, labels: Mapping[str, str] | None = None) -> dict[float, float]:
    """Histogram `name`'s cumulative bucket counts by upper bound, summed over series matching `labels`."""
    counts: dict[float, float] = {}
    for sample in select(samples, f"{name}_bucket", labels):
        bound = float(sample.labels["le"])
        counts[bound] = counts.get(bound, 0.0) + sample.value
    if not counts:
        raise LookupError(f"no buckets of histogram {name} with labels {dict(labels or {})}")
    return counts


def scrape_settled(url: str, names: Collection[str], pause: float = 0.5, timeout: float = 20.0) -> list[Sample]:
    """Scrape `url` until the samples called `names` read the same twice `pause` s apart; return the last scrape.

    Engines update some counters just after a response is sent, so a comparison must wait for them to settle.
    """
    deadline = time.monotonic() + timeout
    previous = _pick(scrape(url), names)
    while True:
        time.sleep(pause)
        samples = scrape(url)
        current = _pick(samples, names)
        if current == previous:
            return samples
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} still changing after {timeout:.0f}s: {sorted(set(current) ^ set(previous))}")
        previous = current


def _pick(samples: list[Sample], names: Collection[str]) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {(s.name, tuple(sorted(s.labels.items())), s.value) for s in samples if s.name in names}
