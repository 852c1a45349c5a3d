"""Benchmark: Overview dashboard query time with the generated recording rules divided by the time without them.

A real Prometheus scrapes N replayed targets. Each target serves the exporter's real output for a real engine
capture (vLLM 0.32 and SGLang 0.5.23 live captures, run through `python -m exporter` once), under its own
`target` and `model` labels, with counters that grow so rates are not zero. Prometheus evaluates the generated
`llm-exporter-recording` group. Then every query of the generated Overview runs as a range query, once as
generated (its fleet panels read the recorded series) and once with each recorded series replaced by the
expression that records it (the raw form); per-target and GPU panels read raw series in both. Each recorded
query must return the same values as its raw form. The ratio is Prometheus' own execution time (stats=all) of
the whole dashboard with the recordings over without, median of the repeats; client wall times and samples
read are printed beside it.
Prints one JSON line; target: ratio <= 0.2.

    python -m bench.rules_overview --targets 500 --warmup 360
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from exporter.mixin import dashboards, rules
from exporter.mixin.rules import recording
from exporter.mixin.settings import Settings, load
from tests.support.exporter import ExporterProcess
from tests.support.prometheus import PrometheusServer
from tests.support.replay import ReplayServer

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ("vllm-0.32.0-cpu-live.prom", "sglang-0.5.23-cpu-live.prom")
SCRAPE_INTERVAL = "10s"
RATE_WINDOW = "1m"  # the dashboard's $__rate_interval for a 10s scrape, and the recordings' window
MODELS = 25
# A recorded series with its matchers (level:metric:operations names are the only ones with colons).
_RECORDED = re.compile(r"(\w+:[\w:]+)\{([^}]*)\}")


def exporter_outputs(workdir: Path) -> list[str]:
    """The exporter's /metrics for each capture, read from a real `python -m exporter` polling a replay of it."""
    outputs = []
    for name in CAPTURES:
        with ExitStack() as stack:
            replay = ReplayServer.from_file(ROOT / "tests" / "fixtures" / "engines" / name)
            replay.start()
            stack.callback(replay.stop)
            exporter = ExporterProcess([replay.url], workdir, interval="1s")
            exporter.start()
            stack.callback(exporter.stop)
            outputs.append(httpx.get(exporter.metrics_url, timeout=10).text)
    return outputs


class Fleet:
    """Serves /t/<i>: one exporter output per target, relabelled, its counters growing with time."""

    def __init__(self, outputs: list[str], targets: int) -> None:
        self.started = time.time()
        self.bodies = [self._template(outputs[i % len(outputs)], i) for i in range(targets)]
        fleet = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server dispatches on this name
                body = fleet.render(int(self.path.rsplit("/", 1)[1]))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError):  # Prometheus stopping mid-scrape at the end of a run
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                """Drop access logs."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        """host:port of the fleet server."""
        return f"127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def _template(text: str, index: int) -> list[tuple[str, float, bool]]:
        """(series, value, grows) per sample, with this target's own target and model labels."""
        rows = []
        for family in text_string_to_metric_families(text):
            grows = family.type in ("counter", "histogram")
            for sample in family.samples:
                labels = {**sample.labels}
                if "target" in labels:
                    labels["target"] = f"replay-{index}"
                if "model" in labels:
                    labels["model"] = f"model-{index % MODELS}"
                inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
                rows.append((f"{sample.name}{{{inner}}}", sample.value, grows))
        return rows

    def render(self, index: int) -> bytes:
        """The exposition of target `index` now: counters scaled so each grows at a steady rate."""
        factor = 1 + (time.time() - self.started) / 60
        lines = [f"{series} {value * factor if grows else value}" for series, value, grows in self.bodies[index]]
        return ("\n".join(lines) + "\n").encode()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def settings(workdir: Path) -> Settings:
    """The default settings with the recordings' rate window matched to the dashboard's."""
    settings_file = workdir / "settings.yaml"
    settings_file.write_text(f"aggregation: {{rate_window: {RATE_WINDOW}}}\n")
    return load(settings_file)


def overview_queries(settings: Settings) -> list[str]:
    """Every query of the generated Overview with its variables set to All and $__rate_interval to the window."""
    board = dashboards.render(dashboards.BUILDERS["overview"], settings)
    queries = [t["expr"] for p in dashboards.panels(board) for t in p["targets"]]
    return [re.sub(r"\$\w+", ".*", q.replace("$__rate_interval", RATE_WINDOW)) for q in queries]


def without_recordings(query: str, recorded: dict[str, str]) -> str:
    """The query with each recorded series replaced by the expression recording it, matchers pushed inside."""
    # Every label those matchers name is one the recording keeps, so filtering before aggregating is exact.

    def inline(match: re.Match[str]) -> str:
        return "(" + recorded[match[1]].replace("}", f", {match[2]}}}") + ")"

    return _RECORDED.sub(inline, query)


class Timed:
    """Range queries over one kept-alive connection, each with Prometheus' own timing (stats=all)."""

    def __init__(self, prometheus: PrometheusServer, start: float, end: float) -> None:
        self.client = httpx.Client(base_url=prometheus.url, timeout=300)
        self.params: dict[str, str | float] = {"start": start, "end": end, "step": SCRAPE_INTERVAL, "stats": "all"}

    def run(self, query: str) -> tuple[float, float, int, list[Any]]:
        """(client seconds, Prometheus exec seconds, samples read, result) of one range query."""
        began = time.perf_counter()
        response = self.client.get("/api/v1/query_range", params={"query": query, **self.params})
        elapsed = time.perf_counter() - began
        response.raise_for_status()
        data = response.json()["data"]
        stats = data["stats"]
        return elapsed, stats["timings"]["execTotalTime"], stats["samples"]["totalQueryableSamples"], data["result"]


def _same(raw: list[Any], recorded: list[Any]) -> bool:
    """Equal series and last values; 0.1 % apart at most, as a recording may be one evaluation round older."""

    def last(result: list[Any]) -> dict[str, float]:
        return {json.dumps(r["metric"], sort_keys=True): float(r["values"][-1][1]) for r in result}

    def close(x: float, y: float) -> bool:
        return (math.isnan(x) and math.isnan(y)) or abs(x - y) <= 1e-3 * max(abs(x), abs(y), 1e-9)

    a, b = last(raw), last(recorded)
    return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)


def measure(prometheus: PrometheusServer, settings: Settings, range_seconds: float, repeats: int) -> dict[str, Any]:
    """Median time of the whole dashboard, raw and with recordings; fails if the two forms answer differently."""
    end = time.time() - 15  # leave the newest evaluation round out, so both forms see settled data
    timed = Timed(prometheus, end - range_seconds, end)
    recordings = recording.exprs(settings)
    pairs = [(without_recordings(q, recordings), q) for q in overview_queries(settings)]
    for raw, recorded in pairs:
        if raw != recorded and not _same(timed.run(raw)[3], timed.run(recorded)[3]):
            raise AssertionError(f"recorded form differs from the raw one:\n{raw}\n{recorded}")
    totals: dict[str, list[list[float]]] = {"raw": [], "recorded": []}
    for _ in range(repeats):
        for form, index in (("raw", 0), ("recorded", 1)):
            runs = [timed.run(pair[index])[:3] for pair in pairs]
            totals[form].append([sum(run[i] for run in runs) for i in range(3)])
    raw_wall, raw_exec, raw_samples = (statistics.median(t[i] for t in totals["raw"]) for i in range(3))
    rec_wall, rec_exec, rec_samples = (statistics.median(t[i] for t in totals["recorded"]) for i in range(3))
    return {
        "queries": len(pairs),
        "rewritten": sum(raw != rec for raw, rec in pairs),
        "prometheus_seconds": {"raw": round(raw_exec, 4), "recorded": round(rec_exec, 4)},
        "ratio": round(rec_exec / raw_exec, 4),
        "client_seconds": {"raw": round(raw_wall, 4), "recorded": round(rec_wall, 4)},
        "client_ratio": round(rec_wall / raw_wall, 4),
        "samples_read": {"raw": int(raw_samples), "recorded": int(rec_samples)},
    }


def prometheus_config(fleet: Fleet, targets: int) -> dict[str, Any]:
    """One scrape job with a static target per replayed exporter, each under its own instance label."""
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [rules.RULES_FILE],
        "scrape_configs": [
            {
                "job_name": "llm-exporter",
                "static_configs": [
                    {"targets": [fleet.address], "labels": {"__metrics_path__": f"/t/{i}", "instance": f"replay-{i}"}}
                    for i in range(targets)
                ],
            }
        ],
    }


def recording_rules(settings: Settings) -> str:
    """The generated dashboard recording group."""
    return rules.render_rules([g for g in rules.build(settings) if g.name == "llm-exporter-recording"])


def main() -> None:
    """Run the benchmark and print its result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=500)
    parser.add_argument("--warmup", type=float, default=360.0, help="seconds of scraping before measuring")
    parser.add_argument("--range", type=float, default=240.0, help="dashboard time range in seconds")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        bench_settings = settings(workdir)
        fleet = Fleet(exporter_outputs(workdir), args.targets)
        stack.callback(fleet.stop)
        prometheus = PrometheusServer(
            workdir / "prometheus",
            prometheus_config(fleet, args.targets),
            rule_files={rules.RULES_FILE: recording_rules(bench_settings)},
        )
        prometheus.start()
        stack.callback(prometheus.stop)
        time.sleep(args.warmup)
        up = prometheus.query("count(up == 1)")
        series = httpx.get(f"{prometheus.url}/api/v1/status/tsdb", timeout=30).json()["data"]["headStats"]
        result = measure(prometheus, bench_settings, args.range, args.repeats)
        result |= {
            "targets_up": int(up[0]["value"][1]) if up else 0,
            "head_series": series["numSeries"],
            "range_seconds": args.range,
            "step": SCRAPE_INTERVAL,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
