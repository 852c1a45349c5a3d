"""A target's poll and what /metrics serves: unexpected failures, identity refresh, caches owned per target,
the exposition formats, and the signal handlers being in place before the port is bound."""

from __future__ import annotations

import gzip
import json
import logging
import math
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

import exporter.daemon as daemon_module
from exporter import cli
from exporter.config import Config, TargetConfig
from exporter.daemon import Daemon
from exporter.exposition import FamiliesCollector
from exporter.normalize import Normalizer
from exporter.parse import parse
from exporter.scrape import IDENTITY_MAX_BYTES, fetch_identity
from exporter.target import Target

FIXTURES = Path(__file__).parents[1] / "fixtures" / "engines"
VLLM = (FIXTURES / "vllm-0.32.0-cpu-live.prom").read_bytes()
TGI = (FIXTURES / "tgi-3.3.5-datadog-fixture.prom").read_bytes()
SGLANG = (FIXTURES / "sglang-0.5.23-cpu-live.prom").read_bytes()
LLAMACPP = (FIXTURES / "llamacpp-b11434-cpu-live.prom").read_bytes()
OPENMETRICS = "application/openmetrics-text;version=1.0.0"


def _mock_client(routes: dict[str, httpx.Response | bytes]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = routes.get(request.url.path)
        if answer is None:
            return httpx.Response(404, text="not found")
        if isinstance(answer, bytes):
            return httpx.Response(200, content=answer, headers={"content-type": "text/plain; version=0.0.4"})
        return answer

    return httpx.Client(transport=httpx.MockTransport(handler))


def _self_metric(daemon: Daemon, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    family = next(f for f in parse(daemon.render()) if f.name == name)
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples}


def test_an_unexpected_exception_gives_up_zero_kind_internal_and_one_log_line(monkeypatch, caplog):
    client = _mock_client({"/metrics": VLLM})
    daemon = Daemon(Config(targets=(TargetConfig(url="http://engine/metrics", name="t0"),)))
    target = daemon.targets[0] = Target(daemon.config.targets[0], client)
    target.poll()
    assert target.snapshot.up and target.snapshot.families

    def broken(self, families):
        raise KeyError("a bug in a table")

    monkeypatch.setattr(Normalizer, "normalize", broken)
    with caplog.at_level(logging.DEBUG, logger="llm_exporter"):
        target.poll()
        target.poll()
    assert _self_metric(daemon, "llm_exporter_target_up") == {(("engine_type", "vllm"), ("target", "t0")): 0.0}
    assert target.errors == {"internal": 2}
    assert target.snapshot.families == []  # nothing frozen from the last good poll
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == ["target t0: internal error: KeyError: 'a bug in a table'"]


def test_scrape_errors_total_is_a_counter():
    daemon = Daemon(Config(targets=(TargetConfig(url="http://engine/metrics", name="t0"),)))
    daemon.targets[0] = Target(daemon.config.targets[0], _mock_client({}))
    daemon.targets[0].poll()
    text = daemon.render()
    assert "# TYPE llm_exporter_scrape_errors_total counter" in text
    assert 'llm_exporter_scrape_errors_total{error="http_status",target="t0"} 1.0' in text


def test_identity_is_read_again_and_a_new_model_replaces_the_old_label(monkeypatch):
    info = {"model_id": "old-model", "version": "3.3.5"}
    routes: dict[str, httpx.Response | bytes] = {"/metrics": TGI}
    client = _mock_client(routes)
    target = Target(TargetConfig(url="http://engine/metrics", name="t0"), client)
    routes["/info"] = httpx.Response(200, json=info)
    target.poll()
    models = {s.labels["model"] for f in target.snapshot.families for s in f.samples}
    assert models == {"old-model"}
    info["model_id"] = "new-model"  # the engine was restarted with another model
    routes["/info"] = httpx.Response(200, json=info)
    target.poll()  # within the refresh interval: the identity is not fetched again
    assert {s.labels["model"] for f in target.snapshot.families for s in f.samples} == {"old-model"}
    monkeypatch.setattr(Target, "IDENTITY_REFRESH_S", 0.0)
    target.poll()
    assert {s.labels["model"] for f in target.snapshot.families for s in f.samples} == {"new-model"}


def test_identity_is_read_again_when_the_engine_comes_back():
    routes: dict[str, httpx.Response | bytes] = {"/metrics": TGI, "/info": httpx.Response(200, json={"model_id": "a"})}
    target = Target(TargetConfig(url="http://engine/metrics", name="t0"), _mock_client(routes))
    target.poll()
    routes["/metrics"] = httpx.Response(503, text="loading")
    target.poll()
    assert not target.snapshot.up
    routes["/metrics"], routes["/info"] = TGI, httpx.Response(200, json={"model_id": "b"})
    target.poll()
    assert {s.labels["model"] for f in target.snapshot.families for s in f.samples} == {"b"}


def test_identity_uses_the_path_prefix_and_the_bearer_token(tmp_path):
    token = tmp_path / "token"
    token.write_bytes(b"\xef\xbb\xbfsecret-token\n")  # saved with a byte-order mark
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("authorization")))
        if request.url.path == "/engine-a/metrics":
            return httpx.Response(200, content=TGI)
        if request.url.path == "/engine-a/info":
            return httpx.Response(200, json={"model_id": "behind-proxy"})
        return httpx.Response(404)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    target = Target(TargetConfig(url="http://proxy/engine-a/metrics", name="a", bearer_token_file=str(token)), client)
    target.poll()
    assert target.snapshot.up
    assert ("/engine-a/info", "Bearer secret-token") in seen
    assert all(auth == "Bearer secret-token" for _, auth in seen)
    assert {s.labels["model"] for f in target.snapshot.families for s in f.samples} == {"behind-proxy"}


def test_identity_body_is_capped_while_streaming():
    sent: list[int] = []

    def endless():
        chunk = b" " * 65536
        for _ in range(1 << 20):  # 64 GiB if nobody stopped reading
            sent.append(len(chunk))
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        assert fetch_identity(client, "http://engine/info", (("model", "model_id"),), 5.0) == {}
    assert sum(sent) <= IDENTITY_MAX_BYTES + 65536


def test_a_drip_fed_identity_answer_is_cut_at_the_deadline():
    # review-2026-11-qa finding 4b: one byte every half second held the first poll, and /-/ready, forever.
    def drip():
        for byte in b'{"model_id": "never-finished"}' * 100:
            time.sleep(0.05)
            yield bytes([byte])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/info":
            return httpx.Response(200, content=drip())
        return httpx.Response(200, content=TGI)

    target = Target(
        TargetConfig(url="http://engine/metrics", name="t0", timeout=0.4),
        httpx.Client(transport=httpx.MockTransport(handler)),
    )
    started = time.monotonic()
    target.poll()
    assert time.monotonic() - started < 1.5  # the whole answer would take 150 s
    assert target.snapshot.up and target.snapshot.polled and target.identity == {}


def test_each_target_owns_its_caches():
    client = _mock_client({"/metrics": VLLM})
    first = Target(TargetConfig(url="http://a/metrics", name="a"), client)
    second = Target(TargetConfig(url="http://b/metrics", name="b"), client)
    first.poll()
    assert first._parser._series and not second._parser._series  # noqa: SLF001 - the point of the test
    assert first._resolver._known and not second._resolver._known  # noqa: SLF001


def _metrics_daemon() -> Daemon:
    daemon = Daemon(Config(targets=(TargetConfig(url="http://engine/metrics", name="t0"),)))
    daemon.targets[0] = Target(daemon.config.targets[0], _mock_client({"/metrics": VLLM}))
    daemon.targets[0].poll()
    return daemon


def test_openmetrics_when_the_scraper_asks_for_it():
    daemon = _metrics_daemon()
    # What Prometheus 3 sends by default (scrape_protocols).
    accept = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
        "text/plain;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"
    )
    body, content_type, zipped = daemon.exposition(accept, None)
    assert content_type.startswith("application/openmetrics-text") and not zipped
    text = body.decode()
    assert text.endswith("# EOF\n")
    families = {family.name: family for family in parse_openmetrics(text)}
    assert families["llm_prompt_tokens"].type == "counter"
    assert families["llm_engine"].type == "info"
    assert families["llm_requests_running"].samples[0].labels["target"] == "t0"
    assert families["gen_ai_server_time_to_first_token_seconds"].type == "histogram"


def test_text_format_by_default_and_gzip_when_accepted():
    daemon = _metrics_daemon()
    plain, content_type, zipped = daemon.exposition(None, None)
    assert content_type.startswith("text/plain; version=0.0.4") and not zipped
    packed, _, zipped = daemon.exposition("text/plain", "gzip, deflate")
    assert zipped and gzip.decompress(packed) == plain
    assert len(packed) < len(plain) / 4
    assert not daemon.exposition(None, "gzip;q=0")[2]


def _fleet_daemon() -> Daemon:
    """Five engines of four kinds, two of them vLLM replicas, each polled once."""
    bodies = {"vllm-a": VLLM, "vllm-b": VLLM, "sglang": SGLANG, "tgi": TGI, "llamacpp": LLAMACPP}
    configs = tuple(TargetConfig(url=f"http://{name}/metrics", name=name) for name in bodies)
    daemon = Daemon(Config(targets=configs))
    daemon.targets = [Target(config, _mock_client({"/metrics": bodies[config.name]})) for config in configs]
    for target in daemon.targets:
        target.poll()
    return daemon


@pytest.mark.parametrize("accept", [None, OPENMETRICS])
def test_a_body_joined_from_the_targets_shares_is_prometheus_clients_encoding_of_every_family(accept):
    daemon = _fleet_daemon()
    encode = generate_latest if accept is None else generate_openmetrics
    body, _, _ = daemon.exposition(accept, None)
    assert body == encode(FamiliesCollector(daemon.families()))
    daemon.targets[2].poll()  # one share re-encoded, the others joined as they were
    body, _, _ = daemon.exposition(accept, "gzip")
    assert gzip.decompress(body) == encode(FamiliesCollector(daemon.families()))


def test_a_poll_re_encodes_only_its_own_targets_share(monkeypatch):
    # Re-encoding every target after each poll made the work per interval grow with targets squared.
    daemon = _fleet_daemon()
    encoded: list[str] = []
    real = daemon_module.family_parts

    def counting(encoder, families):
        encoded.append(families[0].samples[0].labels.get("target", "") if families else "")
        return real(encoder, families)

    monkeypatch.setattr(daemon_module, "family_parts", counting)
    daemon.exposition()
    assert sorted(encoded) == sorted(t.config.name for t in daemon.targets)
    encoded.clear()
    daemon.targets[2].poll()
    daemon.exposition()
    assert encoded == ["sglang"]
    encoded.clear()
    daemon.exposition(OPENMETRICS)  # a format asked for the first time: every share once in it
    assert len(encoded) == len(daemon.targets)


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    """One entry per exposition the daemon builds (a FamiliesCollector made)."""
    made: list[int] = []
    real = daemon_module.FamiliesCollector

    def counting(families):
        made.append(1)
        return real(families)

    monkeypatch.setattr(daemon_module, "FamiliesCollector", counting)
    return made


def test_an_unchanged_state_is_encoded_once(builds):
    daemon = _metrics_daemon()
    daemon._exposition = None  # noqa: SLF001 - start from an empty cache
    first = daemon.exposition()[0]
    assert daemon.exposition()[0] is first and len(builds) == 1
    daemon.targets[0].poll()
    assert daemon.exposition()[0] is not first and len(builds) == 2


def test_a_scrape_during_a_poll_job_gets_the_last_body_and_never_builds_one(builds, monkeypatch):
    monkeypatch.setattr(daemon_module, "PUBLISH_GAP_FACTOR", 0.0)  # publish after every poll
    daemon = _metrics_daemon()
    first = daemon.exposition()[0]
    builds.clear()
    during: list[bytes] = []

    def poll_then_scrape() -> None:
        daemon.targets[0].poll()  # the state changed; the job has not published it yet
        during.append(daemon.exposition()[0])

    daemon._then_prepare(poll_then_scrape)()  # noqa: SLF001 - the job the scheduler runs
    assert during == [first] and len(builds) == 1
    assert daemon.exposition()[0] is not first and len(builds) == 1


def test_polls_ending_soon_after_a_build_share_one_deferred_rebuild(builds, monkeypatch):
    # With many targets, polls end many times a second: one rebuild (over every target) each grew with targets².
    daemon = _metrics_daemon()
    first = daemon.exposition()[0]
    builds.clear()
    gap = 0.3
    monkeypatch.setattr(daemon_module, "PUBLISH_GAP_FACTOR", gap / max(daemon._build_cpu, 1e-6))  # noqa: SLF001
    for _ in range(3):
        daemon._then_prepare(daemon.targets[0].poll)()  # noqa: SLF001 - the job the scheduler runs
        assert daemon.exposition()[0] is first and builds == []  # owed, so the last body; no scrape builds
    deadline = time.monotonic() + 10
    while daemon.exposition()[0] is first:
        assert time.monotonic() < deadline, "the deferred rebuild never came"
        time.sleep(0.02)
    assert len(builds) == 1 and daemon._owed == 0  # noqa: SLF001


def test_polls_ending_together_build_once_and_defer_once(builds, monkeypatch):
    daemon = _metrics_daemon()
    daemon.exposition()  # a build, so the daemon knows what one costs
    builds.clear()
    daemon._published_at = -math.inf  # noqa: SLF001 - ...and long ago: the first poll to end may build at once
    monkeypatch.setattr(daemon_module, "PUBLISH_GAP_FACTOR", 1e9)  # the slot after it is far away
    ready = threading.Barrier(8)

    def job() -> None:
        ready.wait()
        daemon._then_prepare(daemon.targets[0].poll)()  # noqa: SLF001 - eight poll jobs ending together

    threads = [threading.Thread(target=job) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and daemon._deferred is not None and daemon._owed == 1  # noqa: SLF001
    daemon._deferred.cancel()  # noqa: SLF001


class _GatedLock:
    """A lock that makes one named thread wait for a gate before taking it: a thread preempted at that point."""

    def __init__(self, thread_name: str) -> None:
        self.lock, self.gate, self.reached, self.thread_name = (
            threading.Lock(),
            threading.Event(),
            threading.Event(),
            thread_name,
        )

    def __enter__(self) -> None:
        if threading.current_thread().name == self.thread_name:
            self.reached.set()
            assert self.gate.wait(10)
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_a_build_delayed_behind_a_newer_one_never_publishes_older_counters(monkeypatch):
    # A rebuild that read the targets' snapshots, then waited for the lock while another thread published a newer
    # poll, built from what it had read: counters went backwards, which Prometheus counts as a reset (CI caught a
    # dashboard figure 4 requests over the engine's own count).
    monkeypatch.setattr(daemon_module, "PUBLISH_GAP_FACTOR", 0.0)  # each poll job builds at once
    daemon = _metrics_daemon()
    daemon.exposition()
    gated = daemon._lock = _GatedLock("late-builder")  # noqa: SLF001 - hold one builder at the lock
    target = daemon.targets[0]
    late = threading.Thread(target=daemon._then_prepare(target.poll), name="late-builder")  # noqa: SLF001
    late.start()
    assert gated.reached.wait(10)  # polled, and about to take the lock to publish that poll
    target.poll()
    daemon._current()  # noqa: SLF001 - a newer poll published first
    newest = target.snapshot
    gated.gate.set()
    late.join(10)
    assert daemon._exposition.state[0] is newest  # noqa: SLF001


def test_each_target_polls_at_once_then_at_its_own_phase_of_the_interval():
    # 200 targets polled every interval from one instant queued behind each other for the GIL at every tick.
    configs = tuple(
        TargetConfig(url=f"http://engine-{i}/metrics", name=f"engine-{i}", interval=5.0) for i in range(200)
    )
    daemon = Daemon(Config(targets=configs))
    daemon._schedule(daemon.targets)  # noqa: SLF001 - the jobs start() would add, left pending
    phases = []
    for job in daemon.scheduler.get_jobs():
        first = job.next_run_time
        second = job.trigger.get_next_fire_time(first, first)
        third = job.trigger.get_next_fire_time(second, second)
        assert (third - second).total_seconds() == 5.0
        phases.append((second - first).total_seconds())
    assert len(phases) == 200 and all(0 <= phase < 5 for phase in phases)
    phases.sort()
    assert max(b - a for a, b in zip(phases, phases[1:], strict=False)) < 0.25  # spread over the whole interval
    again = Daemon(Config(targets=configs))
    again._schedule(again.targets)  # noqa: SLF001
    assert [j.trigger.start_date - j.next_run_time for j in again.scheduler.get_jobs()] == [
        j.trigger.start_date - j.next_run_time for j in daemon.scheduler.get_jobs()
    ]  # a restart keeps each target's phase


def test_signal_handlers_are_installed_before_the_port_is_bound(monkeypatch):
    seen: dict[str, object] = {}
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGHUP, signal.SIGTERM)}

    def fake_serve(daemon, address, web, reload):
        seen["SIGHUP"] = signal.getsignal(signal.SIGHUP)
        seen["SIGTERM"] = signal.getsignal(signal.SIGTERM)
        raise OSError("stop here")

    monkeypatch.setattr(cli, "serve", fake_serve)
    try:
        assert cli.run(["--web.listen-address", "127.0.0.1:0"]) == 2
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert callable(seen["SIGHUP"]) and seen["SIGHUP"] not in (signal.SIG_DFL, signal.SIG_IGN)
    assert callable(seen["SIGTERM"])


@pytest.mark.parametrize("mode", ["RequestClientCert", "RequireAnyClientCert"])
def test_client_auth_modes_python_cannot_honour_are_rejected(mode):
    from exporter.config import ConfigError
    from exporter.webconfig import load

    pem = Path(__file__).parents[1] / "fixtures" / "config"
    text = f"tls_server_config:\n  cert_file: {pem}/test-cert.pem\n  key_file: {pem}/test-key.pem\n"
    with pytest.raises(ConfigError) as error:
        load(f"{text}  client_auth_type: {mode}\n", "web.yml")
    assert error.value.problems == [
        f"web.yml:4: tls_server_config.client_auth_type: {mode} is not supported: Python's TLS verifies every "
        "client certificate, so use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file"
    ]


def test_http_server_config_is_rejected_not_ignored():
    from exporter.config import ConfigError
    from exporter.webconfig import load

    with pytest.raises(ConfigError) as error:
        load("http_server_config:\n  http2: true\n", "web.yml")
    assert error.value.problems == [
        "web.yml:2: http_server_config: not supported by llm-exporter (it serves HTTP/1.1 and sets no custom "
        "headers); remove it"
    ]


def test_configured_engine_type_is_reported_before_the_first_success():
    client = _mock_client({})
    target = Target(TargetConfig(url="http://engine/metrics", name="t0", engine_type="sglang"), client)
    assert target.snapshot.engine_type == "sglang"
    target.poll()
    assert not target.snapshot.up and target.snapshot.engine_type == "sglang"


def test_identity_json_is_parsed_from_the_capped_body():
    client = _mock_client({"/v1/models": httpx.Response(200, content=json.dumps({"data": [{"id": "m"}]}).encode())})
    assert fetch_identity(client, "http://engine/v1/models", (("model", "data.0.id"),), 1.0) == {"model": "m"}


def _state(target: Target) -> str:
    return target.snapshot.state


def test_lifecycle_loading_ready_down_from_the_engines_health_endpoint():
    # llama.cpp and TGI answer 503 on /health while they load a model; a dead engine answers nothing.
    routes: dict[str, httpx.Response | bytes] = {"/health": httpx.Response(503, json={"error": "Loading model"})}

    def handler(request: httpx.Request) -> httpx.Response:
        answer = routes.get(request.url.path)
        if answer is None:
            raise httpx.ConnectError("connection refused", request=request)
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, content=answer)

    target = Target(
        TargetConfig(url="http://engine/metrics", name="t0", engine_type="llamacpp"),
        httpx.Client(transport=httpx.MockTransport(handler)),
    )
    target.poll()
    assert _state(target) == "loading"  # never ready since the exporter started
    routes["/metrics"] = (FIXTURES / "llamacpp-b11434-cpu-live.prom").read_bytes()
    routes["/health"] = httpx.Response(200, json={"status": "ok"})
    target.poll()
    assert _state(target) == "ready"
    del routes["/metrics"], routes["/health"]  # the process is gone
    target.poll()
    assert _state(target) == "down"
    routes["/metrics"] = httpx.Response(503, text="Loading model")  # restarted, loading again
    target.poll()
    assert _state(target) == "loading"
    del routes["/metrics"]
    routes["/health"] = httpx.Response(503, text="Loading model")
    target.poll()
    assert _state(target) == "loading"


def test_target_state_is_exported_as_one_series_per_state():
    daemon = Daemon(Config(targets=(TargetConfig(url="http://engine/metrics", name="t0", engine_type="vllm"),)))
    daemon.targets[0] = Target(daemon.config.targets[0], _mock_client({}))
    daemon.targets[0].poll()
    states = _self_metric(daemon, "llm_exporter_target_state")
    assert states == {
        (("engine_type", "vllm"), ("state", state), ("target", "t0")): float(state == "loading")
        for state in ("ready", "loading", "down")
    }


def test_after_a_poll_the_formats_scrapers_asked_for_are_encoded_ahead():
    daemon = _metrics_daemon()
    daemon.exposition("application/openmetrics-text;version=1.0.0", "gzip")
    daemon.targets[0].poll()
    daemon._after_poll()  # noqa: SLF001 - what the poll job runs after each poll
    prepared = daemon._exposition  # noqa: SLF001
    [(content_type, zipped)] = prepared.bodies
    assert content_type.startswith("application/openmetrics-text") and zipped
    assert daemon.exposition("application/openmetrics-text;version=1.0.0", "gzip")[0] is next(
        iter(prepared.bodies.values())
    )
