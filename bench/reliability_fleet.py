"""Fleet: one exporter polls 200 loopback engines (real captures replayed); a fifth of them hang for a while.

usage: python3 bench/reliability_fleet.py [--targets 200] [--hung 40] [--phase 60] [--interval 5s]

Three phases of --phase seconds: all healthy; --hung engines stop answering (each request held 30 s, as a wedged
engine); all healthy again. Through every phase a scraper GETs /metrics once a second. Reported per phase: the
exporter's CPU and RSS, /metrics latency p50/p99 and size, targets up, and the staleness of the healthy targets
(now minus their last_success_timestamp, worst seen). PASS: nothing lost (every target in every scrape), healthy
targets never older than two intervals, every hung target back up in the last phase, no scrape error.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
from reliability_common import cpu_seconds, exporter, replays, rss_bytes, threads

from exporter.config import parse_duration
from exporter.parse import parse
from tests.support.http_server import stall


def _scrape(client: httpx.Client, base: str) -> tuple[float, float, int, dict[str, float], dict[str, float]]:
    """(latency, time received, bytes, target -> up, target -> last success) of one /metrics."""
    started = time.perf_counter()
    response = client.get(f"{base}/metrics", timeout=10)
    received = time.time()  # staleness is the body's age when served, not after parsing 6 MB of it here
    latency = time.perf_counter() - started
    response.raise_for_status()
    families = {f.name: f for f in parse(response.text)}
    up = {s.labels["target"]: s.value for s in families["llm_exporter_target_up"].samples}
    last = families.get("llm_exporter_last_success_timestamp_seconds")
    success = {s.labels["target"]: s.value for s in last.samples} if last else {}
    return latency, received, len(response.content), up, success


def main() -> int:
    """Run the three phases and print one line per phase and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--hung", type=int, default=40)
    parser.add_argument("--phase", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--interval", default="5s")
    args = parser.parse_args()
    interval = parse_duration(args.interval)
    problems: list[str] = []
    with replays(args.targets) as stubs, exporter([s.url for s in stubs], args.interval) as (process, base):
        names = {s.target for s in stubs}
        hung = {s.target for s in stubs[: args.hung]}
        healthy_behaviour = [s.behaviour for s in stubs]
        print(f"fleet: {args.targets} targets every {args.interval}, {args.hung} hang in phase 2", flush=True)
        with httpx.Client() as client:
            for phase in ("healthy", "hung", "recovered"):
                if phase == "hung":
                    for stub in stubs[: args.hung]:
                        stub.behaviour = stall(30.0)
                elif phase == "recovered":
                    for stub, behaviour in zip(stubs, healthy_behaviour, strict=True):
                        stub.behaviour = behaviour
                cpu_before, started = cpu_seconds(process.pid), time.monotonic()
                latencies: list[float] = []
                stale = 0.0
                up_counts: list[int] = []
                size = max_threads = 0
                rss: list[int] = []
                while time.monotonic() - started < args.phase:
                    try:
                        latency, now, size, up, success = _scrape(client, base)
                    except httpx.HTTPError as error:
                        problems.append(f"{phase}: scrape failed: {error!r}")
                        print(f"fleet {phase:9}: scrape failed: {error!r}", flush=True)
                        continue
                    latencies.append(latency)
                    up_counts.append(int(sum(up.values())))
                    if set(up) != names:
                        problems.append(f"{phase}: {len(names - set(up))} target(s) missing from /metrics")
                    # Settled: after one interval of the phase, a healthy target's last success is at most 2 old.
                    if time.monotonic() - started > interval:
                        stale = max([stale] + [now - success.get(n, 0.0) for n in names - hung])
                    rss.append(rss_bytes(process.pid))
                    max_threads = max(max_threads, threads(process.pid))
                    time.sleep(max(0.0, 1.0 - latency))
                cpu = (cpu_seconds(process.pid) - cpu_before) / (time.monotonic() - started)
                if len(latencies) < 2:
                    print(f"fleet {phase:9}: CPU {cpu * 100:5.1f} % of a core, {len(latencies)} scrape(s) answered")
                    continue
                q = statistics.quantiles(latencies, n=100)
                print(
                    f"fleet {phase:9}: CPU {cpu * 100:5.1f} % of a core, RSS {statistics.median(rss) / 2**20:.1f} MiB "
                    f"(max {max(rss) / 2**20:.1f}), threads max {max_threads}, /metrics {size / 1e6:.2f} MB "
                    f"p50 {q[49] * 1000:.0f} ms p99 {q[98] * 1000:.0f} ms (n={len(latencies)}), targets up "
                    f"{min(up_counts)}..{max(up_counts)}, healthy targets' staleness max {stale:.1f} s",
                    flush=True,
                )
                if stale > 2 * interval:
                    problems.append(f"{phase}: a healthy target went {stale:.1f} s without a poll")
                if phase == "recovered" and up_counts[-1] != args.targets:
                    problems.append(f"recovered: only {up_counts[-1]} of {args.targets} targets up at the end")
    print("fleet: PASS" if not problems else "fleet: FAIL\n  " + "\n  ".join(sorted(set(problems))))
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
