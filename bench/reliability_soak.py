"""Soak: the exporter polls 4 replayed real captures every second for 30 minutes; RSS growth must stay < 5 MB.

usage: python3 bench/reliability_soak.py [--minutes 30] [--out results.txt]
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
from reliability_common import exporter_with_replays, rss_bytes

WARMUP_S = 60


def main() -> int:
    """Run the soak and print RSS samples and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    with exporter_with_replays("1s") as (process, base), httpx.Client() as client:
        started = time.monotonic()
        samples: list[tuple[float, int]] = []
        scrapes = errors = 0
        next_sample = started
        while time.monotonic() - started < WARMUP_S + args.minutes * 60:
            try:
                scrapes += 1
                if client.get(f"{base}/metrics", timeout=5).status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            if time.monotonic() >= next_sample:
                elapsed = time.monotonic() - started
                samples.append((elapsed, rss_bytes(process.pid)))
                print(
                    f"[soak +{elapsed:6.0f}s] rss {samples[-1][1] / 2**20:6.2f} MiB, scrapes {scrapes}, "
                    f"errors {errors}",
                    flush=True,
                )
                next_sample += 30
            time.sleep(1.0)
        assert process.poll() is None, "exporter exited during the soak"
    after_warmup = [rss for t, rss in samples if t >= WARMUP_S]
    start = statistics.median(after_warmup[:3])
    end = statistics.median(after_warmup[-3:])
    growth = (end - start) / 2**20
    print(f"soak: {args.minutes:g} min at 1s interval, 4 targets; scrapes {scrapes}, errors {errors}")
    print(
        f"soak: rss after warm-up {start / 2**20:.2f} MiB, at end {end / 2**20:.2f} MiB, "
        f"growth {growth:+.2f} MiB (target < 5 MiB), max {max(after_warmup) / 2**20:.2f} MiB"
    )
    ok = growth < 5 and errors == 0
    print("soak: PASS" if ok else "soak: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
