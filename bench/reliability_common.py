"""Shared by the load and soak runs: replayed real captures as engines and an exporter process in front of them."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
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


def threads(pid: int) -> int:
    """Threads of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError(f"no Threads for {pid}")


def scrape(client: httpx.Client, base: str, latencies: list[float], errors: list[str], timeout: float) -> None:
    """One GET /metrics as Prometheus would: its latency appended, and an error unless 200 with self-metrics."""
    started = time.perf_counter()
    try:
        response = client.get(f"{base}/metrics", timeout=timeout)
        if response.status_code != 200 or "llm_exporter_target_up" not in response.text:
            errors.append(f"HTTP {response.status_code}")
    except httpx.HTTPError as error:
        errors.append(type(error).__name__)
    latencies.append(time.perf_counter() - started)


@contextmanager
def exporter(
    urls: Sequence[str],
    interval: str,
    extra: Sequence[str] = (),
    scheme: str = "http",
    verify: ssl.SSLContext | bool = True,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """An exporter process polling urls; yields (process, base URL) once /-/ready answers 200."""
    port = free_port()
    args = [sys.executable, "-m", "exporter", "--gpu", "false", "--scrape.interval", interval]
    args += ["--web.listen-address", f"127.0.0.1:{port}", *extra]
    for url in urls:
        args += ["--target", url]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/-/ready", timeout=1, verify=verify).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("exporter never became ready")
        yield process, base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            print("exporter: still running 10 s after SIGTERM; killed", flush=True)
            process.kill()
            process.wait()


@contextmanager
def replays(count: int = len(CAPTURES)) -> Iterator[list[EngineStub]]:
    """count loopback engines, each replaying one real capture (the captures in turn)."""
    with ExitStack() as stack:
        bodies = [(FIXTURES / name).read_bytes() for name in CAPTURES]
        yield [stack.enter_context(EngineStub(respond(bodies[i % len(bodies)]))) for i in range(count)]


@contextmanager
def exporter_with_replays(interval: str = "1s") -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """An exporter polling one replay server per real capture; yields (process, base URL) once ready."""
    with replays() as stubs, exporter([stub.url for stub in stubs], interval) as running:
        yield running
