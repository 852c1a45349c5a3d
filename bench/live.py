"""The live side of the bench: a real vLLM (CPU build, tiny model), traffic for it, and exporter processes."""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from exporter.config import TargetConfig
from tests.support.engines import vllm_server
from tests.support.exporter import ExporterProcess
from tests.support.traffic import send_completions

# The exporter's default poll interval, as a flag value.
DEFAULT_INTERVAL = f"{TargetConfig(url='http://x').interval:g}s"


@dataclass
class Engine:
    """A vLLM to measure against: its URL, model name and, when the bench started it, its process group."""

    base_url: str
    model: str
    pgid: int | None


@contextlib.contextmanager
def vllm(url: str | None, log_dir: Path) -> Iterator[Engine]:
    """The vLLM at `url`, or one started from the test harness's venv (stopped on exit)."""
    if url:
        models = httpx.get(f"{url}/v1/models", timeout=10).json()
        yield Engine(url.rstrip("/"), models["data"][0]["id"], None)
        return
    server = vllm_server(log_dir)
    server.start()
    try:
        yield Engine(server.base_url, server.model, server.process.pid)
    finally:
        server.stop()


def traffic(engine: Engine, requests: int) -> None:
    """Real completions, some sharing a prefix, so that every histogram and counter has moved."""
    send_completions(engine.base_url, engine.model, count=requests, shared=requests // 2, concurrency=2)


@contextlib.contextmanager
def trickle(engine: Engine, every: float) -> Iterator[None]:
    """One completion every `every` seconds in the background: a pod that is serving, not idle."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            with contextlib.suppress(httpx.HTTPError):
                send_completions(engine.base_url, engine.model, count=1, shared=0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def exporter(engine: Engine, targets: int, log_dir: Path) -> Iterator[ExporterProcess]:
    """An exporter process polling the engine as `targets` targets at the default interval, GPU collector off."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=log_dir, delete=False) as config:
        config.write(
            "targets:\n"
            + "".join(
                f"  - {{name: t{index}, url: '{engine.base_url}', interval: {DEFAULT_INTERVAL}}}\n"
                for index in range(targets)
            )
        )
    process = ExporterProcess([], log_dir, extra_args=["--config.file", config.name, "--gpu", "false"])
    process.start()
    try:
        yield process
    finally:
        process.stop()
