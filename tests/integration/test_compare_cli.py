"""`llm-exporter compare` as a user runs it: exit status, stderr lines, and reports, also when an engine fails."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fresh import at_start
from tests.support.ports import free_port
from tests.support.replay import ReplayServer
from tests.support.scripted import IDENTITY, capture

TGI, VLLM = capture("tgi-3.3.5-datadog-fixture.prom"), capture("vllm-0.32.0-cpu-live.prom")


def _compare(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", "compare", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def engines() -> Iterator[tuple[ReplayServer, ReplayServer]]:
    """TGI and vLLM replays, each at its start-up state; the test moves them on with set_metrics."""
    servers = (
        ReplayServer(at_start(TGI).encode(), IDENTITY["tgi"]),
        ReplayServer(at_start(VLLM).encode(), IDENTITY["vllm"]),
    )
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def _later(seconds: float, action: object) -> None:
    threading.Timer(seconds, action).start()  # type: ignore[arg-type]


def test_a_full_window_prints_json_writes_html_and_exits_0(
    engines: tuple[ReplayServer, ReplayServer], tmp_path: Path
) -> None:
    tgi, vllm = engines
    _later(1.2, lambda: (tgi.set_metrics(TGI.encode()), vllm.set_metrics(VLLM.encode())))
    page = tmp_path / "report.html"
    done = _compare(tgi.url, vllm.url, "--duration", "3s", "--interval", "1s", "--price-before", "4",
                    "--price-after", "2.5", "--json", "--html", str(page))  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["complete"] and document["before"]["engine_type"] == "tgi"
    assert document["after"]["engine_type"] == "vllm" and document["after"]["readings"] == 4
    # The progress line is on stderr, one line a reading when stderr is not a terminal.
    assert done.stderr.splitlines()[-1] == "compare: 3/3 s, before tgi: 4 readings, after vllm: 4 readings"
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_an_engine_dying_mid_window_gives_a_partial_report(engines: tuple[ReplayServer, ReplayServer]) -> None:
    tgi, vllm = engines
    _later(1.5, vllm.stop)
    done = _compare(tgi.url, vllm.url, "--duration", "4s", "--interval", "1s")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    message = f"llm-exporter compare: after side: cannot connect to http://{vllm.target}/metrics"
    assert any(line.startswith(message) for line in done.stderr.splitlines()), done.stderr
    assert re.search(r"^after: vllm 0.32.0 serving 'tiny' .*; stopped after \d+ s: cannot connect", done.stdout, re.M)


def test_nothing_listening_ends_at_once_with_one_line(engines: tuple[ReplayServer, ReplayServer]) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    done = _compare(nobody, engines[1].url, "--duration", "10m", timeout=30)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("llm-exporter compare:")]
    assert errors == [f"llm-exporter compare: before side: cannot connect to http://{nobody}/metrics: "
                      "[Errno 111] Connection refused"]  # fmt: skip
    assert "Traceback" not in done.stderr and "TTFT p50" in done.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["ftp://x", "127.0.0.1:1"], "llm-exporter compare: before URL 'ftp://x': must be an http(s) URL, got 'ftp://x'"),
        (["127.0.0.1:1", "127.0.0.1:1", "--price-after", "cheap"], "argument --price-after: must be USD per "
         "replica-hour like 2.5, got 'cheap'"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2_with_one_line(args: list[str], message: str) -> None:
    done = _compare(*args)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith(message)
