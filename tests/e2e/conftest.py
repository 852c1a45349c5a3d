"""Fixtures for the live end-to-end tests: real engines once per session, Prometheus stack pieces per test.

Everything here needs scripts/install-test-deps.sh to have run; a missing piece makes the test ERROR with
that hint, never skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.deps import MissingTestDependencyError, prometheus_binary
from tests.support.engines import EngineServer, sglang_server, vllm_server
from tests.support.exporter import ExporterProcess
from tests.support.llamacpp import llamacpp_server
from tests.support.process import Server, running
from tests.support.prometheus import AlertmanagerServer, Config, PrometheusServer
from tests.support.replay import ReplayServer
from tests.support.webhook import WebhookReceiver


def _require(build: Callable[[], Any]) -> Any:
    """Run `build`; turn a missing test dependency into a fixture error carrying the install hint."""
    try:
        return build()
    except MissingTestDependencyError as missing:
        pytest.fail(str(missing), pytrace=False)


def _live_engine(make: Callable[[Path], EngineServer], logs: Path) -> Iterator[EngineServer]:
    with running(_require(lambda: make(logs))) as server:
        yield server


@pytest.fixture(scope="session")
def vllm_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineServer]:
    """A live vLLM serving model "tiny", started once per session; tests may stop() and start() it."""
    yield from _live_engine(vllm_server, tmp_path_factory.mktemp("vllm"))


@pytest.fixture(scope="session")
def sglang_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineServer]:
    """A live SGLang (CPU engine) serving model "tiny", started once per session."""
    yield from _live_engine(sglang_server, tmp_path_factory.mktemp("sglang"))


@pytest.fixture(scope="module")
def llamacpp_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineServer]:
    """A live llama.cpp llama-server serving the tiny GGUF, started once per test module that uses it."""
    yield from _live_engine(llamacpp_server, tmp_path_factory.mktemp("llamacpp"))


@pytest.fixture
def launch() -> Iterator[Callable[[Server], Any]]:
    """Start a server for this test; everything started through it is stopped afterwards, newest first."""
    started: list[Server] = []

    def start(server: Server) -> Any:
        started.append(server)
        server.start()
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def prometheus_factory(launch: Callable[[Server], Any], tmp_path: Path) -> Callable[..., PrometheusServer]:
    """`factory(config, rule_files=None)`: a started Prometheus; rule files are written beside its config."""
    _require(lambda: prometheus_binary("prometheus"))
    counter = iter(range(1_000))

    def factory(config: Config, rule_files: Mapping[str, Config] | None = None) -> PrometheusServer:
        return launch(PrometheusServer(tmp_path / f"prometheus-{next(counter)}", config, rule_files))

    return factory


@pytest.fixture
def alertmanager_factory(launch: Callable[[Server], Any], tmp_path: Path) -> Callable[[Config], AlertmanagerServer]:
    """`factory(config)`: a started Alertmanager on 127.0.0.1 with clustering off."""
    _require(lambda: prometheus_binary("prometheus-alertmanager"))
    counter = iter(range(1_000))

    def factory(config: Config) -> AlertmanagerServer:
        return launch(AlertmanagerServer(tmp_path / f"alertmanager-{next(counter)}", config))

    return factory


@pytest.fixture
def replay_factory(launch: Callable[[Server], Any]) -> Callable[..., ReplayServer]:
    """`factory(fixture_path_or_bytes, json_routes=None)`: a started server replaying a /metrics capture."""

    def factory(capture: Path | bytes, json_routes: Mapping[str, Any] | None = None) -> ReplayServer:
        metrics = capture.read_bytes() if isinstance(capture, Path) else capture
        return launch(ReplayServer(metrics, json_routes))

    return factory


@pytest.fixture
def webhook_receiver(launch: Callable[[Server], Any]) -> WebhookReceiver:
    """A started webhook receiver collecting Alertmanager notifications."""
    return launch(WebhookReceiver())


@pytest.fixture
def exporter_factory(launch: Callable[[Server], Any], tmp_path: Path) -> Callable[..., ExporterProcess]:
    """`factory(targets, interval="1s", extra_args=())`: a started `python -m exporter`, ready (every target polled)."""

    def factory(targets: Sequence[str], interval: str = "1s", extra_args: Sequence[str] = ()) -> ExporterProcess:
        return launch(ExporterProcess(targets, tmp_path, interval, extra_args))

    return factory
