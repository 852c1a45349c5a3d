"""Scrape latency: sequential GETs of two /metrics endpoints, interleaved so that load hits both alike."""

from __future__ import annotations

import time

import httpx


def interleaved(urls: dict[str, str], count: int, warmup: int = 10) -> dict[str, list[float]]:
    """Seconds per request for each named URL: `count` sequential GETs each, alternating between the URLs.

    Each URL gets its own client, reused as Prometheus reuses its connection where the server keeps it open.
    """
    clients = {name: httpx.Client(timeout=30) for name in urls}
    seconds: dict[str, list[float]] = {name: [] for name in urls}
    try:
        for index in range(warmup + count):
            for name, url in urls.items():
                started = time.perf_counter()
                response = clients[name].get(url)
                body = response.content
                elapsed = time.perf_counter() - started
                if response.status_code != 200 or not body:
                    raise RuntimeError(f"{url} answered HTTP {response.status_code} with {len(body)} bytes")
                if index >= warmup:
                    seconds[name].append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    return seconds
