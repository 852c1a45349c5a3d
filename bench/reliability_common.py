"""Shared by the load and soak runs: replayed real captures as engines and an exporter process in front of them."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.http_server import EngineStub, respond  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "engines"
CAPTURES = (
    "vllm-0.32.0-cpu-live.prom",
    "sglang-0.5.23-cpu-live.prom",
    "tgi-3.3.5-datadog-fixture.prom",
    "sglang-0.5.8-dynamo-metrics-example.prom",
)


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


@contextmanager
def exporter_with_replays(interval: str = "1s") -> Iterator[tuple[subprocess.Popen, str]]:
    """An exporter polling one replay server per real capture; yields (process, base URL) once ready."""
    with ExitStack() as stack:
        stubs = [stack.enter_context(EngineStub(respond((FIXTURES / name).read_bytes()))) for name in CAPTURES]
        port = free_port()
        args = [
            sys.executable,
            "-m",
            "exporter",
            "--gpu",
            "false",
            "--scrape.interval",
            interval,
            "--web.listen-address",
            f"127.0.0.1:{port}",
        ]
        for stub in stubs:
            args += ["--target", stub.url]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                raise RuntimeError("exporter never became ready")
            yield process, base
        finally:
            process.terminate()
            process.wait(timeout=10)
