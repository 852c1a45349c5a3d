"""Load: 50 concurrent scrapers hit /metrics for 60 s while the exporter polls 4 replayed captures; 0 errors.

usage: python3 bench/reliability_load.py [--scrapers 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import httpx
from reliability_common import cpu_seconds, exporter_with_replays, rss_bytes, scrape


def _scraper(base: str, until: float, latencies: list[float], errors: list[str]) -> None:
    with httpx.Client() as client:
        while time.monotonic() < until:
            scrape(client, base, latencies, errors, timeout=10)


def main() -> int:
    """Run the load and print latency percentiles and the error count."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scrapers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    latencies: list[float] = []
    errors: list[str] = []
    with exporter_with_replays("5s") as (process, base):
        cpu_before = cpu_seconds(process.pid)
        until = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=_scraper, args=(base, until, latencies, errors)) for _ in range(args.scrapers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu = cpu_seconds(process.pid) - cpu_before
        rss = rss_bytes(process.pid)
        alive = process.poll() is None
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"load: {args.scrapers} scrapers x {args.seconds:g}s against 4 targets: {len(latencies)} requests, "
        f"{len(latencies) / args.seconds:.0f} req/s, errors {len(errors)}"
    )
    print(
        f"load: latency p50 {quantiles[49] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms; "
        f"exporter CPU {cpu:.1f}s, RSS {rss / 2**20:.1f} MiB, alive {alive}"
    )
    ok = not errors and alive
    print("load: PASS" if ok else f"load: FAIL {sorted(set(errors))}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
