"""The `llm-exporter` command: run the exporter, check a config, probe an engine, generate artifacts."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import ssl
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from http.server import ThreadingHTTPServer
from pathlib import Path

from exporter import __version__, webconfig
from exporter.client import engine_client
from exporter.config import (
    DEFAULT_LISTEN_ADDRESS,
    ENGINE_TYPES,
    Config,
    ConfigError,
    from_flags,
    gpu_devices,
    load_file,
    metrics_url,
    parse_duration,
    redact,
    with_flag_targets,
)
from exporter.daemon import Collector, Daemon
from exporter.logfmt import LogfmtFormatter
from exporter.parse import ParseError
from exporter.scrape import ScrapeError
from exporter.server import Reload, serve

log = logging.getLogger("llm_exporter")

_DESCRIPTION = """\
Prometheus exporter for LLM inference engines (vLLM, SGLang, TGI, llama.cpp, Triton/TensorRT-LLM, Dynamo)
and their NVIDIA GPUs. It polls each engine's /metrics on a timer, maps it onto one schema and serves the
result on its own /metrics.

subcommands (run `llm-exporter SUBCOMMAND --help`):
  check-config   validate a config file and print every problem with file, line and field
  probe URL      fetch an engine once and show what maps onto the schema
  compare A B    watch two engines over a window and compare them figure by figure (migration validation)
  generate       write dashboards, rules and docs from the schema

examples:
  llm-exporter --target http://127.0.0.1:8000          # sidecar next to one vLLM
  llm-exporter --config.file exporter.yml              # several targets, per-target settings
"""


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="llm-exporter",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config.file",
        dest="config_file",
        metavar="PATH",
        help="YAML config (targets, defaults, gpu); see CONFIGURATION.md",
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="URL",
        help="engine to poll, e.g. http://127.0.0.1:8000 (/metrics is appended); repeatable",
    )
    parser.add_argument(
        "--target.name",
        dest="target_names",
        action="append",
        default=[],
        metavar="NAME",
        help="name of the --target at the same position, its `target` label (default: host:port "
        "of the URL); in Kubernetes pass the pod name, e.g. --target.name=$(POD_NAME)",
    )
    parser.add_argument(
        "--engine.type",
        dest="engine_type",
        choices=ENGINE_TYPES,
        default="auto",
        help="engine of the --target URLs (default: detected from the metrics)",
    )
    parser.add_argument("--model", default="", help="model name for engines whose metrics and API lack one")
    parser.add_argument(
        "--scrape.interval",
        dest="interval",
        type=_duration,
        metavar="DURATION",
        help="poll interval for --target URLs (default 5s)",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default=DEFAULT_LISTEN_ADDRESS,
        metavar="ADDRESS",
        help=f"where /metrics is served (default {DEFAULT_LISTEN_ADDRESS})",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="PATH",
        help="TLS and basic auth, in the Prometheus exporter-toolkit format",
    )
    parser.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="accept POST /-/reload (as Prometheus does; SIGHUP always reloads)",
    )
    parser.add_argument(
        "--gpu",
        choices=("auto", "true", "false"),
        default=None,
        help="NVML GPU collector (default auto: on where a driver is found)",
    )
    parser.add_argument(
        "--gpu.devices",
        dest="gpu_devices",
        type=gpu_devices,
        default=None,
        help="GPUs to report: engine (those the engine's processes use), all, or GPU indices/UUIDs, "
        "comma-separated (default auto: engine when polling targets, all without targets)",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=("debug", "info", "warn", "error"),
        help="log verbosity (default info)",
    )
    parser.add_argument("--version", action="version", version=f"llm-exporter {__version__}")
    return parser


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    logging.basicConfig(level={"warn": "WARNING"}.get(level, level.upper()), handlers=[handler])
    # Their INFO lines (each job run, each HTTP request) would drown ours at the default level.
    for noisy in ("apscheduler", "httpx", "httpcore", "tzlocal"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def _config(args: argparse.Namespace) -> Config:
    config = load_file(args.config_file) if args.config_file else Config()
    flag_targets = from_flags(args.target, args.interval, args.engine_type, args.model, args.target_names)
    config = with_flag_targets(config, flag_targets)
    if args.gpu is not None:
        config = replace(config, gpu=replace(config.gpu, enabled=args.gpu))
    if args.gpu_devices is not None:
        config = replace(config, gpu=replace(config.gpu, devices=args.gpu_devices))
    return config


def collector_devices(config: Config) -> str | list[str]:
    """What GpuCollector(devices=...) gets: auto means the engine's own GPUs beside targets, every GPU without."""
    from exporter.gpu.collector import ALL_DEVICES, ENGINE_DEVICES

    if config.gpu.devices == "auto":
        return ENGINE_DEVICES if config.targets else ALL_DEVICES
    if config.gpu.devices in (ENGINE_DEVICES, ALL_DEVICES):
        return config.gpu.devices
    return config.gpu.devices.split(",")


def _gpu_collector(config: Config) -> Collector:
    """An NVML collector; imported only when a config enables it, so a GPU-less host never loads pynvml."""
    from exporter.gpu import GpuCollector
    from exporter.gpu.pids import engine_pids

    return GpuCollector(interval_s=config.gpu.interval, engine_pids=engine_pids, devices=collector_devices(config))


def _reloader(args: argparse.Namespace, daemon: Daemon) -> Reload:
    """Re-read config file and flags; a bad config is rejected with its problems and the last good one runs on."""
    lock = threading.Lock()

    def reload() -> list[str]:
        with lock:
            try:
                config = _config(args)
            except ConfigError as error:
                daemon.config_reload_ok = False
                for problem in error.problems:
                    log.error("reload rejected: %s", problem)
                return error.problems
            daemon.apply(config)
            daemon.config_reload_ok = True
            log.info("config reloaded: %d target(s)", len(config.targets))
            return []

    return reload


def run(argv: Sequence[str]) -> int:
    """Run the exporter until SIGINT/SIGTERM."""
    args = _run_parser().parse_args(argv)
    _setup_logging(args.log_level)
    try:
        config = _config(args)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if not config.targets:
        log.warning("no targets: pass --target URL or a --config.file with targets (serving self-metrics only)")
    try:
        web = webconfig.load_file(args.web_config_file) if args.web_config_file else None
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    daemon = Daemon(config, _gpu_collector)
    reload = _reloader(args, daemon)
    servers: list[ThreadingHTTPServer] = []
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()
        # shutdown() waits for serve_forever() to return, so it must not run on the thread that serves.
        for server in servers:
            threading.Thread(target=server.shutdown).start()

    # Handlers go in before the port is bound: a config reloader may send SIGHUP as soon as the port answers,
    # and SIGHUP's default action would end the process.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=reload).start())
    try:
        server = serve(daemon, args.listen_address, web, reload if args.enable_lifecycle else None)
    except (OSError, ValueError, ssl.SSLError) as error:
        print(f"llm-exporter: cannot listen on {args.listen_address}: {error}", file=sys.stderr)
        return 2
    servers.append(server)
    if stopping.is_set():
        server.server_close()
        return 0
    daemon.start()
    log.info("listening on %s (version %s)", args.listen_address, __version__)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        daemon.stop()
        server.server_close()
    return 0


def check_config(argv: Sequence[str]) -> int:
    """Validate a config file; exit 1 with one line per problem."""
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="llm-exporter check-config",
        description="Validate a config file and print every problem at once.",
    )
    parser.add_argument("path", help="the YAML config file")
    args = parser.parse_args(argv)
    try:
        config = load_file(args.path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{args.path}: OK, {len(config.targets)} target(s)")
    for target in config.targets:
        print(
            f"  {target.name}: {redact(target.url)} engine_type={target.engine_type} every {target.interval:g}s "
            f"(timeout {target.timeout:g}s)"
        )
    return 0


def probe(argv: Sequence[str]) -> int:
    """Fetch one engine once and print what maps onto the schema."""
    from exporter.probe import report

    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="llm-exporter probe",
        description="Fetch an engine's /metrics once and show the detected engine, "
        "each mapped family with its values, what stays unmapped, and "
        "the timing.",
    )
    parser.add_argument("url", help="engine URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--engine.type", dest="engine_type", choices=ENGINE_TYPES, default="auto")
    parser.add_argument("--model", default="")
    parser.add_argument("--timeout", type=_duration, default=10.0, help="fetch timeout (default 10s)")
    args = parser.parse_args(argv)
    try:
        url = metrics_url(args.url)
    except ValueError as error:
        print(f"llm-exporter probe: {error}", file=sys.stderr)
        return 2
    with engine_client() as client:
        try:
            print(report(client, url, args.engine_type, args.model, args.timeout))
        except (ScrapeError, ParseError) as error:
            print(f"llm-exporter probe: {error}", file=sys.stderr)
            return 1
    return 0


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be USD per replica-hour like 2.5, got {text!r}")
    return value


def _compare_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-exporter compare",
        description="Watch two engines' /metrics over one window, both read at the same moments, and compare "
        "latency quantiles, errors, throughput, prefix reuse, traffic mix and cost from exact counter and "
        "bucket increases. Exit status: 0 complete, 1 partial (a side failed or the watch was interrupted), "
        "2 bad arguments.",
    )
    parser.add_argument("before", metavar="BEFORE_URL", help="the engine migrated from, e.g. http://tgi:8080")
    parser.add_argument("after", metavar="AFTER_URL", help="the engine migrated to, e.g. http://vllm:8000")
    parser.add_argument("--duration", type=_duration, default=180.0, help="how long to watch (default 3m)")
    parser.add_argument("--interval", type=_duration, default=5.0, help="time between readings (default 5s)")
    parser.add_argument("--timeout", type=_duration, default=4.0, help="fetch timeout per reading (default 4s)")
    parser.add_argument("--price-before", type=_price, metavar="USD", help="USD per replica-hour of BEFORE")
    parser.add_argument("--price-after", type=_price, metavar="USD", help="USD per replica-hour of AFTER")
    for role in ("before", "after"):
        parser.add_argument(
            f"--gpu-{role}",
            default="",
            metavar="URL",
            help=f"an llm-exporter next to {role.upper()}, whose /metrics has its node's GPUs (SM activity, "
            "tokens per joule)",
        )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML report")
    return parser


def compare(argv: Sequence[str]) -> int:
    """Watch two engines over one window and print how they compare."""
    from exporter.compare import html, jsonreport, terminal
    from exporter.compare.figures import compare as figures
    from exporter.compare.report import Report
    from exporter.compare.sampling import open_side, watch

    args = _compare_parser().parse_args(argv)
    # A failing read is reported once, in the report; the target's own warning lines would repeat it.
    logging.getLogger("llm_exporter").setLevel(logging.CRITICAL)
    live = sys.stderr.isatty()

    def progress(at: float, sides: Sequence[object]) -> None:
        line = terminal.progress(at, args.duration, sides)  # type: ignore[arg-type]
        print(f"\r{line}\033[K" if live else line, end="" if live else "\n", file=sys.stderr, flush=True)

    with engine_client() as client:
        try:
            sides = (("before", args.before, args.gpu_before), ("after", args.after, args.gpu_after))
            before, after = (open_side(role, url, client, args.timeout, gpu) for role, url, gpu in sides)
        except ValueError as error:
            print(f"llm-exporter compare: {error}", file=sys.stderr)
            return 2
        finished = watch((before, after), args.duration, args.interval, progress)
    if live:
        print(file=sys.stderr)
    for side in (before, after):
        if side.error:
            print(f"llm-exporter compare: {side.role} side: {side.error}", file=sys.stderr)
    report = Report(
        before, after, figures(before, after, (args.price_before, args.price_after)), args.duration, finished
    )
    print(jsonreport.render(report) if args.json else terminal.render(report))
    if args.html is not None:
        try:
            args.html.write_text(html.render(report), encoding="utf-8")
        except OSError as error:
            print(f"llm-exporter compare: cannot write {args.html}: {error.strerror}", file=sys.stderr)
            return 1
    return 0 if report.complete else 1


def generate(argv: Sequence[str]) -> int:
    """Write the generated artifacts (docs, dashboards, alerts, Kubernetes objects) from the schema."""
    from exporter.mixin import GENERATORS
    from exporter.mixin.settings import SettingsError

    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="llm-exporter generate",
        description="Write artifacts generated from exporter/schema.py.",
    )
    parser.add_argument("what", choices=(*GENERATORS, "all"))
    parser.add_argument(
        "--out",
        type=Path,
        default=Path.cwd(),
        help="folder to write under, laid out as this repository (default: the current directory)",
    )
    parser.add_argument(
        "--settings",
        type=Path,
        default=None,
        metavar="PATH",
        help="alert settings YAML (thresholds, windows, selectors); the defaults and the reason "
        "for each are in alerts/llm-exporter.settings.yaml",
    )
    args = parser.parse_args(argv)
    names = list(GENERATORS) if args.what == "all" else [args.what]
    for name in names:
        started = time.monotonic()
        try:
            paths = GENERATORS[name](args.out, args.settings)
        except SettingsError as error:
            print(error, file=sys.stderr)
            return 1
        except OSError as error:
            print(f"llm-exporter generate {name}: cannot write under {args.out}: {error}", file=sys.stderr)
            return 1
        elapsed = time.monotonic() - started
        print(f"generate {name}: wrote {len(paths)} file(s) under {args.out.resolve()} in {elapsed:.1f}s")
    return 0


_SUBCOMMANDS = {"check-config": check_config, "probe": probe, "compare": compare, "generate": generate}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _SUBCOMMANDS.get(argv[0], run) if argv else run
    try:
        return command(argv[1:] if command is not run else argv)
    except BrokenPipeError:
        # `llm-exporter probe URL | head`: the reader left. Point stdout at /dev/null so the interpreter's own flush at
        # exit cannot raise again, and say so once.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("llm-exporter: output closed early (broken pipe)", file=sys.stderr)
        return 1
