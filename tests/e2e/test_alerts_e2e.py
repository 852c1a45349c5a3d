"""The generated alerts fired through real components: vLLM -> exporter -> Prometheus -> Alertmanager -> webhook.

One live vLLM started with --max-num-seqs 1 (so a burst makes a queue), the exporter polling it every 2s,
Debian's Prometheus evaluating the generated rules every second, Debian's Alertmanager notifying a webhook
receiver in the test. The rules are generated with short windows (E2E_SETTINGS); their expressions are the
same code paths as the committed defaults. Stimuli and the delivery of each alert are timed and printed.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.mixin import promql, rules
from exporter.mixin.settings import load
from tests.support.engines import EngineServer, vllm_server
from tests.support.exporter import ExporterProcess
from tests.support.prometheus import AlertmanagerServer, PrometheusServer
from tests.support.traffic import SHARED_PREFIX
from tests.support.webhook import WebhookReceiver

# The committed rules with windows short enough for a test; every threshold keeps its meaning. The queue's are low:
# on a busy 2-core machine the API server hands a burst to the engine a few requests at a time.
E2E_SETTINGS = """
aggregation: {rate_window: 30s}
output: {evaluation_interval: 1s}
availability: {exporter_down_for: 5s, engine_down_for: 5s, stalled_window: 30s, stalled_for: 10s}
queue: {waiting: 1, queue_time_seconds: 0.5, window: 30s, for: 3s}
kv_cache: {window: 15s, for: 5s}
preemption: {window: 15s, for: 5s}
prefix_cache: {window: 20s, baseline_window: 3m, min_query_tokens_per_second: 5, for: 5s, warmup: 20s}
slo:
  burn_windows:
    - {severity: critical, long: 1m, short: 10s, factor: 14.4, for: 5s}
gpu: {error_window: 1m, missing_lookback: 5m}
"""
ALERTMANAGER_ROUTE = {"group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"}
DELIVERY_TIMEOUT = 120.0
# Vector selectors (`name{...}`) and recorded series (`level:metric:operations`) in a rule expression.
_SELECTOR = re.compile(r"([a-zA-Z_][\w:]*)(\{[^}]*\})|\b([a-z_]+:[\w]+:[\w]+)\b")


def _complete(base_url: str, prompt: str, max_tokens: int, n: int = 1) -> None:
    # ignore_eos: the random-weight model may end a request at once; the test needs each to take its time.
    # vLLM refuses n > 1 with greedy sampling, hence temperature 1.
    body = {"model": "tiny", "prompt": prompt, "max_tokens": max_tokens, "temperature": 1.0, "ignore_eos": True}
    response = httpx.post(f"{base_url}/v1/completions", json={**body, "n": n}, timeout=300.0)
    response.raise_for_status()


def _shared_prompt() -> str:
    """A prompt whose first ~450 tokens every other shared prompt repeats: prefix-cache hits."""
    return f"{SHARED_PREFIX} Question {uuid.uuid4().hex}: which section applies?"


def _unique_prompt() -> str:
    """A prompt that shares no block with any other: it starts with fresh random text."""
    return " ".join(uuid.uuid4().hex for _ in range(12))


class Traffic:
    """Background request loops, stopped together at the end of the test."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def loop(self, make_prompt: Callable[[], str], max_tokens: int = 4) -> threading.Event:
        """Send prompts one after another until the returned event (or stop()) is set."""
        done = threading.Event()

        def run() -> None:
            while not (done.is_set() or self.stopping.is_set()):
                _complete(self.base_url, make_prompt(), max_tokens)

        self._start(run)
        return done

    def burst(self, count: int, max_tokens: int, n: int) -> None:
        """Send `count` short unique requests at once, each asking for `n` long completions."""
        for _ in range(count):
            self._start(lambda: _complete(self.base_url, _unique_prompt(), max_tokens, n))

    def _start(self, run: Callable[[], None]) -> None:
        def recorded() -> None:
            try:
                run()
            except httpx.HTTPError as error:  # kept for the test's assertion rather than lost in a thread
                self.errors.append(error)

        thread = threading.Thread(target=recorded, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        """Stop the loops and wait for in-flight requests."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=300)


class Stack:
    """The live chain under test and the rules it loaded."""

    def __init__(
        self,
        engine: EngineServer,
        prometheus: PrometheusServer,
        webhook: WebhookReceiver,
        rules: list[dict[str, Any]],
    ) -> None:
        self.engine = engine
        self.prometheus = prometheus
        self.webhook = webhook
        self.rules = rules

    def delivered(self, alertname: str, status: str, since: float, timeout: float = DELIVERY_TIMEOUT) -> float:
        """Seconds from `since` until the webhook got `alertname` with `status`, printed for the timeline."""
        try:
            delivery = self.webhook.wait_for(
                lambda d: (
                    d.received_at >= since
                    and any(a["labels"].get("alertname") == alertname and a["status"] == status for a in d.alerts)
                ),
                timeout,
            )
        except TimeoutError as timeout:
            active = [(a["labels"]["alertname"], a["state"], a.get("value")) for a in self.prometheus.alerts()]
            seen = self.prometheus.query("max_over_time(llm_requests_waiting[3m])")
            raise TimeoutError(f"{timeout}; Prometheus' active alerts: {active}; waiting peaked at: {seen}") from None
        seconds = delivery.received_at - since
        print(f"timeline: {alertname} {status} delivered {seconds:.1f}s after the stimulus")
        return seconds


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """vLLM (--max-num-seqs 1), exporter, Prometheus with the generated rules, Alertmanager, webhook."""
    workdir = tmp_path_factory.mktemp("alerts-e2e")
    settings_file = workdir / "settings.yaml"
    settings_file.write_text(E2E_SETTINGS)
    groups = rules.build(load(settings_file))
    started: list[Any] = []

    def launch(server: Any) -> Any:
        server.start()
        started.append(server)
        return server

    try:
        engine = launch(vllm_server(workdir, extra_args=["--max-num-seqs", "1"]))
        # 2s: a CPU-starved vLLM can take over a second to answer /metrics while it serves the burst.
        exporter = launch(ExporterProcess([engine.base_url], workdir, interval="2s"))
        webhook = launch(WebhookReceiver())
        alertmanager = launch(
            AlertmanagerServer(
                workdir / "alertmanager",
                {
                    "route": {"receiver": "test", "group_by": ["alertname", "target", "model"], **ALERTMANAGER_ROUTE},
                    "receivers": [
                        {"name": "test", "webhook_configs": [{"url": webhook.webhook_url, "send_resolved": True}]}
                    ],
                },
            )
        )
        prometheus = launch(
            PrometheusServer(
                workdir / "prometheus",
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [rules.RULES_FILE],
                    "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager.address]}]}]},
                    "scrape_configs": [
                        {"job_name": "llm-exporter", "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}]}
                    ],
                },
                rule_files={rules.RULES_FILE: rules.render_rules(groups)},
            )
        )
        prometheus.wait_for_query('llm_exporter_target_up{job="llm-exporter"} == 1', bool, timeout=60)
        yield Stack(engine, prometheus, webhook, [rule.as_dict() for group in groups for rule in group.rules])
    finally:
        for server in reversed(started):
            server.stop()


def test_alerts_fire_and_resolve_through_alertmanager(stack: Stack) -> None:
    """Each stimulus's alert reaches the webhook within DELIVERY_TIMEOUT; the engine-down one also resolves."""
    traffic = Traffic(stack.engine.base_url)
    try:
        # 1. A burst larger than the batch (1 sequence): requests wait, and wait for seconds.
        # A tiny model decodes fast, so each request asks for 4 long sequences (one engine request each): 24 queued
        # engine requests of 800 tokens hold a queue for a minute or more, while some finish (queue times observed).
        # On a starved CI machine one burst can drain between two polls; then a second, larger one is sent.
        for attempt, count in enumerate((6, 12)):
            burst_at = time.time()
            traffic.burst(count=count, max_tokens=800, n=4)
            try:
                stack.delivered("LLMQueuePressure", "firing", burst_at, DELIVERY_TIMEOUT * (attempt + 1) / 2)
                break
            except TimeoutError:
                if attempt == 1:
                    raise

        # 2. Shared-prefix traffic builds the model's hit-ratio baseline; then only unique prompts.
        shared = traffic.loop(_shared_prompt)
        stack.prometheus.wait_for_query("model:llm_prefix_cache_hits_per_queries:ratio_rate20s > 0.5", bool, 120)
        time.sleep(40)
        _assert_every_engine_selector_selects_series(stack)
        shared.set()
        unique_at = time.time()
        unique = traffic.loop(_unique_prompt)
        stack.delivered("LLMPrefixCacheHitCollapse", "firing", unique_at)
        unique.set()
    finally:
        traffic.stop()
    assert traffic.errors == []

    # 3. The engine goes away, and comes back.
    stopped_at = time.time()
    stack.engine.stop()
    stack.delivered("LLMEngineDown", "firing", stopped_at)
    stack.engine.start()
    restarted_at = time.time()
    stack.delivered("LLMEngineDown", "resolved", restarted_at)


# Families a vLLM exports only with a feature switched on, and the switch. Spec decoding is exported live by
# tests/e2e/test_vllm_features_live.py; KV transfer needs two engines and a KV connector.
NEEDS_A_FEATURE = {
    "llm_spec_decode_accepted_tokens_total": "--speculative-config",
    "llm_spec_decode_draft_tokens_total": "--speculative-config",
    "llm_kv_transfer_failures_total": "--kv-transfer-config (disaggregated prefill/decode)",
}


def _assert_every_engine_selector_selects_series(stack: Stack) -> None:
    """Every selector of every non-GPU rule returns series from the live chain (no rule reads a phantom)."""
    engine_rules = [
        rule
        for rule in stack.rules
        if not (rule.get("alert") or "").startswith("GPU") and "llm_gpu_" not in rule["expr"]
    ]
    # Branches for other engines and kube-state-metrics' HPA series have nothing to select on a vLLM-only chain.
    empty = [
        (rule, selector)
        for rule, selector in _empty_selectors(stack.prometheus, engine_rules)
        if _selects_engine(selector, "vllm")
        and not selector.startswith(tuple(promql.KUBE_STATE_METRICS_SERIES))
        and re.split(r"[{\[ ]", selector, maxsplit=1)[0] not in NEEDS_A_FEATURE
    ]
    assert empty == []


def _selects_engine(selector: str, engine: str) -> bool:
    """Whether a selector's engine_type matcher (if any) admits engine."""
    matcher = re.search(r'engine_type(=~|!~|!=|=)"([^"]*)"', selector)
    if matcher is None:
        return True
    op, value = matcher.groups()
    return (re.fullmatch(value, engine) is not None) == (op in ("=", "=~"))


def _empty_selectors(prometheus: PrometheusServer, rules: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(rule, selector) for every selector in the rules' expressions that selects no series in Prometheus."""
    empty = []
    for rule in rules:
        for match in _SELECTOR.finditer(rule["expr"]):
            selector = match.group(1) + match.group(2) if match.group(1) else match.group(3)
            # Over the last minute: a poll the busy engine answered late leaves a gap, not a phantom series.
            if not prometheus.query(f"count(last_over_time({selector}[1m]))"):
                empty.append((rule.get("alert") or rule["record"], selector))
    return empty


@pytest.mark.gpu
def test_gpu_rule_selectors_select_series_from_a_real_gpu(tmp_path: Path) -> None:
    """On a real NVIDIA GPU, every GPU rule selector finds series, except Xid counters (born on the first Xid)."""
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(E2E_SETTINGS)
    groups = rules.build(load(settings_file))
    gpu_rules = [rule.as_dict() for group in groups if group.name == "llm-exporter-gpu" for rule in group.rules]
    exporter = ExporterProcess([], tmp_path, interval="1s", extra_args=["--gpu", "true"])
    exporter.start()
    try:
        prometheus = PrometheusServer(
            tmp_path / "prometheus",
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [rules.RULES_FILE],
                "scrape_configs": [
                    {"job_name": "llm-exporter", "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}]}
                ],
            },
            rule_files={rules.RULES_FILE: rules.render_rules(groups)},
        )
        prometheus.start()
        try:
            prometheus.wait_for_query('llm_gpu_up{job="llm-exporter"} == 1', bool, timeout=60)
            time.sleep(5)
            empty = _empty_selectors(prometheus, gpu_rules)
            print(f"GPU rule selectors without series: {empty}")
        finally:
            prometheus.stop()
    finally:
        exporter.stop()
    assert {selector.split("{")[0] for _, selector in empty} == {"llm_gpu_xid_errors_total"}
