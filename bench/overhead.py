"""Pod overhead: the CPU time and RSS of running processes over a window, sampled from /proc."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bench import procfs


@dataclass
class Watched:
    """One process (or process group) under watch: how to read its CPU seconds and RSS."""

    name: str
    cpu: Callable[[], float]
    rss: Callable[[], int]
    scrape_url: str = ""  # scraped like Prometheus would during the window ("" = not scraped)
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    rss_samples: list[int] = field(default_factory=list)

    def core_percent(self, seconds: float) -> float:
        """CPU used over the window as a percentage of one core."""
        return 100 * (self.cpu_end - self.cpu_start) / seconds


def process(name: str, pid: int, scrape_url: str = "") -> Watched:
    """Watch one process."""
    return Watched(name, lambda: procfs.cpu_seconds(pid), lambda: procfs.rss_bytes(pid), scrape_url)


def process_group(name: str, pgid: int) -> Watched:
    """Watch every process of a group."""
    return Watched(name, lambda: procfs.group_cpu_seconds(pgid), lambda: procfs.group_rss_bytes(pgid))


def watch(watched: list[Watched], seconds: float, scrape_every: float = 15.0, sample_every: float = 1.0) -> float:
    """Sample RSS each second and scrape each scraped process every `scrape_every` s; the window's length."""
    for item in watched:
        item.cpu_start = item.cpu()
    started = time.monotonic()
    next_scrape = started
    with httpx.Client(timeout=10) as client:
        while (now := time.monotonic()) - started < seconds:
            if now >= next_scrape:
                for item in watched:
                    if item.scrape_url:
                        client.get(item.scrape_url).raise_for_status()
                next_scrape += scrape_every
            for item in watched:
                item.rss_samples.append(item.rss())
            time.sleep(sample_every)
    elapsed = time.monotonic() - started
    for item in watched:
        item.cpu_end = item.cpu()
    return elapsed
