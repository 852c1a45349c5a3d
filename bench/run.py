"""The exporter's cost next to the engine it watches (issue #10): one command, one table of ratios.

Usage: python3 bench/run.py [--quick] [--vllm-url URL] [--overhead-seconds S]

Every figure is measured in this run next to its baseline: scrape latency against the live vLLM's own /metrics,
normalize cost against prometheus_client's parser on the same bytes, pod overhead next to the vLLM server's own
CPU and RSS, and scaling against the 1x figure. See bench/README.md for what each row means.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import latency, live, overhead, pipeline  # noqa: E402
from bench.stats import Row, Spread, percentile, table  # noqa: E402

LINEAR = 1.5  # per-series cost at N x may be at most this multiple of the per-series cost at the reference scale


def _ms(values: list[float]) -> str:
    return Spread.of(values).show("ms", 1e3)


def cost_rows(repetitions: int) -> list[Row]:
    """Normalize cost of the real TGI and vLLM captures, steady state (gated) and first poll (informational)."""
    rows = []
    for name in (pipeline.TGI, pipeline.VLLM):
        text = pipeline.capture(name)
        for label, measure, gated in (("steady", pipeline.steady, True), ("first poll", pipeline.cold, False)):
            timing = measure(text, repetitions)
            ratio = Spread.of(timing.ours).median / Spread.of(timing.stock).median
            rows.append(
                Row(
                    f"normalize {name.split('-')[0]} {len(text) // 1000} KB, {label}: {_ms(timing.ours)}",
                    f"prometheus_client parse: {_ms(timing.stock)}",
                    ratio,
                    "<= 0.5" if gated else "- (once per target)",
                    ratio <= 0.5 if gated else None,
                )
            )
    return rows


def scaling_rows(repetitions: int) -> list[Row]:
    """Steady-state cost per series at 1x, 4x and 16x the vLLM capture, ours and stock, taking turns."""
    text = pipeline.capture(pipeline.VLLM)
    timings = pipeline.steady_together(
        {copies: pipeline.relabelled(text, copies) for copies in (1, 4, 16)}, repetitions
    )
    per_series = {
        copies: (
            Spread.of(timing.ours).median / timing.series,
            Spread.of(timing.stock).median / timing.series,
            timing.series,
        )
        for copies, timing in timings.items()
    }
    ours1, stock1, _ = per_series[1]
    rows = []
    for copies in (4, 16):
        ours, theirs, series = per_series[copies]
        growth = ours / ours1
        rows.append(
            Row(
                f"normalize cost {copies}x ({series} series): {ours * 1e6:.2f} us/series = {growth:.2f}x "
                f"the 1x per-series cost ({ours1 * 1e6:.2f})",
                f"prometheus_client: {theirs * 1e6:.2f} us/series = {theirs / stock1:.2f}x its 1x",
                ours / theirs,
                f"growth <= {LINEAR}x (linear)",
                growth <= LINEAR,
            )
        )
    return rows


def _memory(which: str, copies: int) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "memory.py"), which, str(copies)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout)


MEMORY_SCALES = (1, 4, 8, 16)


def memory_rows(repetitions: int) -> list[Row]:
    """RSS gained holding one target's state at 1x..16x, each in a fresh process (median of repetitions).

    A fresh process has some freed memory left from its start-up that the first allocations reuse without
    growing RSS, so a small scrape shows almost no gain: linearity is read from the slope between scales.
    """
    gained: dict[tuple[str, int], tuple[float, int]] = {}
    for which in ("ours", "stock"):
        for copies in MEMORY_SCALES:
            runs = [_memory(which, copies) for _ in range(repetitions)]
            delta = Spread.of([run["rss_after"] - run["rss_before"] for run in runs]).median
            gained[which, copies] = (delta, runs[0]["series"])
    rows = []
    for copies in MEMORY_SCALES:
        (ours, series), (theirs, _) = gained["ours", copies], gained["stock", copies]
        rows.append(
            Row(
                f"RSS held at {copies}x ({series} series): +{ours / 1e6:.2f} MB",
                f"prometheus_client's families: +{theirs / 1e6:.2f} MB",
                ours / theirs if theirs else None,
                "-",
                None,
            )
        )

    def slope(which: str, low: int, high: int) -> float:
        (low_rss, low_series), (high_rss, high_series) = gained[which, low], gained[which, high]
        return (high_rss - low_rss) / (high_series - low_series)

    growth, stock_growth = slope("ours", 8, 16) / slope("ours", 4, 8), slope("stock", 8, 16) / slope("stock", 4, 8)
    rows.append(
        Row(
            f"RSS per added series, 8x->16x: {slope('ours', 8, 16):.0f} B = {growth:.2f}x that of 4x->8x "
            f"({slope('ours', 4, 8):.0f} B)",
            f"prometheus_client: {slope('stock', 8, 16):.0f} B = {stock_growth:.2f}x its 4x->8x",
            slope("ours", 8, 16) / slope("stock", 8, 16),
            f"growth <= {LINEAR}x (linear)",
            growth <= LINEAR,
        )
    )
    return rows


def latency_rows(engine: live.Engine, log_dir: Path, count: int) -> list[Row]:
    """p50 and p99 of sequential /metrics GETs: the exporter (one target, the vLLM) against the vLLM itself."""
    with live.exporter(engine, 1, log_dir) as process:
        process.scrape_after_poll("t0", since=0.0)
        seconds = latency.interleaved({"exporter": process.metrics_url, "vllm": f"{engine.base_url}/metrics"}, count)
    rows = []
    for q in (50, 99):
        ours, theirs = percentile(seconds["exporter"], q), percentile(seconds["vllm"], q)
        rows.append(
            Row(
                f"scrape latency p{q}: exporter /metrics {ours * 1e3:.2f} ms (n={count})",
                f"vLLM /metrics p{q}: {theirs * 1e3:.2f} ms",
                ours / theirs,
                "<= 0.25",
                ours / theirs <= 0.25,
            )
        )
    return rows


def overhead_rows(engine: live.Engine, log_dir: Path, seconds: float) -> list[Row]:
    """CPU and RSS of exporters with one and four targets over the same window, next to the vLLM's own."""
    with (
        live.exporter(engine, 1, log_dir) as one,
        live.exporter(engine, 4, log_dir) as four,
        live.trickle(engine, every=10.0),
    ):
        watched = [
            overhead.process("1 target", one.process.pid, one.metrics_url),  # type: ignore[arg-type]
            overhead.process("4 targets", four.process.pid, four.metrics_url),
        ]  # type: ignore[arg-type]
        engine_watch = overhead.process_group("vLLM", engine.pgid) if engine.pgid else None
        window = overhead.watch(watched + ([engine_watch] if engine_watch else []), seconds)
    rows = []
    for item in watched:
        cpu, rss = item.core_percent(window), Spread.of(item.rss_samples)
        base_cpu = engine_watch.core_percent(window) if engine_watch else None
        base_rss = Spread.of(engine_watch.rss_samples).median if engine_watch else None
        unread = "vLLM: not started by the bench, not read"
        rows.append(
            Row(
                f"CPU, {item.name}, {window:.0f} s at {live.DEFAULT_INTERVAL}: {cpu:.3f} % of a core",
                f"vLLM server: {base_cpu:.2f} % of a core" if base_cpu is not None else unread,
                cpu / base_cpu if base_cpu else None,
                "<= 1 % of a core",
                cpu <= 1.0,
            )
        )
        rows.append(
            Row(
                f"RSS, {item.name}: {rss.median / 1e6:.1f} MB (max {max(item.rss_samples) / 1e6:.1f})",
                f"vLLM server: {base_rss / 1e6:.0f} MB" if base_rss else unread,
                rss.median / base_rss if base_rss else None,
                "<= 60 MB",
                max(item.rss_samples) <= 60e6,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run every measurement, print the table; exit 1 if a gated row fails."""
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and a 60 s overhead window")
    parser.add_argument("--vllm-url", default="", help="measure this running vLLM instead of starting one")
    parser.add_argument("--overhead-seconds", type=float, default=None, help="pod-overhead window (default 300)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # the exporter runs as `python -m exporter` from the repository
    repetitions = 7 if args.quick else 25
    window = args.overhead_seconds or (60.0 if args.quick else 300.0)
    sections: list[tuple[str, Callable[[], list[Row]]]] = [
        ("normalize cost", lambda: cost_rows(repetitions)),
        ("scaling", lambda: scaling_rows(max(5, repetitions // 3))),
        ("memory scaling", lambda: memory_rows(3)),
    ]
    rows: list[Row] = []
    for title, measure in sections:
        print(f"bench: {title} ...", file=sys.stderr, flush=True)
        rows += measure()
    with (
        tempfile.TemporaryDirectory(prefix="llm-exporter-bench-") as scratch,
        live.vllm(args.vllm_url, Path(scratch)) as engine,
    ):
        print(f"bench: traffic to {engine.base_url} ...", file=sys.stderr, flush=True)
        live.traffic(engine, 16)
        print("bench: scrape latency ...", file=sys.stderr, flush=True)
        rows += latency_rows(engine, Path(scratch), 200 if args.quick else 1000)
        print(f"bench: pod overhead over {window:.0f} s ...", file=sys.stderr, flush=True)
        rows += overhead_rows(engine, Path(scratch), window)
    print(table(rows))
    return 0 if all(row.passed is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
