"""The fleet alerts through real components, as replicas in Kubernetes would produce them.

A live vLLM (one running slot) stands for two replicas of its model: sidecar exporters named `vllm-0` (direct)
and `vllm-1` (through a TCP forwarder, so that replica alone can go down); a live SGLang is `sglang-0`. Each
exporter is named by --target.name, as the shipped Kubernetes objects name it after its pod. Prometheus (3.5 LTS
unless LLM_EXPORTER_PROMETHEUS=2) evaluates the generated rules with short windows; Alertmanager notifies a webhook.

Shown live: the TTFT and TPOT SLO recordings have series for both engines; a pod whose engine is still loading
its model does not page; one of two replicas down delivers a warning naming that replica. (A queue behind the
one slot delivering LLMQueuePressure is shown by tests/e2e/test_alerts_e2e.py on the same stack.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.mixin import rules
from exporter.mixin.settings import load
from tests.support.engines import EngineServer, sglang_server, vllm_server
from tests.support.exporter import ExporterProcess
from tests.support.forwarder import Forwarder
from tests.support.prometheus import AlertmanagerServer, PrometheusServer
from tests.support.webhook import WebhookReceiver

# The committed rules with windows short enough for a test; every threshold keeps its meaning. The start-up grace
# stays longer than SGLang takes to load here, so (c) shows a load that must not page.
E2E_SETTINGS = """
aggregation: {rate_window: 30s}
output: {evaluation_interval: 1s}
availability: {exporter_down_for: 5s, engine_down_for: 5s, stalled_window: 30s, stalled_for: 10s,
               startup_grace: 10m}
queue: {waiting: 2, queue_time_seconds: 1, window: 15s, for: 3s}
replicas: {page_for: 10s}
slo:
  burn_windows:
    - {severity: critical, long: 1m, short: 10s, factor: 14.4, for: 5s}
"""
ROUTE = {"group_by": ["alertname", "target", "model"], "group_wait": "0s", "group_interval": "1s",
         "repeat_interval": "1h"}  # fmt: skip
DELIVERY_TIMEOUT = 120.0


@dataclass
class Fleet:
    """The live chain under test."""

    workdir: Path
    vllm: EngineServer
    sglang: EngineServer
    forwarder: Forwarder
    exporters: dict[str, ExporterProcess]
    webhook: WebhookReceiver
    alertmanager: str
    prometheus: PrometheusServer | None = None

    def prometheus_config(self) -> dict[str, Any]:
        """Prometheus's config: the generated rules, Alertmanager, and one scrape target per sidecar exporter."""
        return {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [rules.RULES_FILE],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [self.alertmanager]}]}]},
            "scrape_configs": [{"job_name": "llm-exporter", "static_configs": [
                {"targets": [exporter.address for exporter in self.exporters.values()]}]}],
        }  # fmt: skip

    @property
    def live(self) -> PrometheusServer:
        """The running Prometheus."""
        assert self.prometheus is not None
        return self.prometheus

    def delivered(self, alertname: str, since: float, **labels: str) -> dict[str, Any]:
        """The first firing `alertname` with `labels` the webhook got after `since`; its delay is printed."""

        def matches(alert: dict[str, Any]) -> bool:
            return (
                alert["status"] == "firing"
                and alert["labels"].get("alertname") == alertname
                and all(alert["labels"].get(key) == value for key, value in labels.items())
            )

        try:
            delivery = self.webhook.wait_for(
                lambda d: d.received_at >= since and any(map(matches, d.alerts)), DELIVERY_TIMEOUT
            )
        except TimeoutError as timeout:
            active = [(a["labels"], a["state"], a.get("value")) for a in self.live.alerts()]
            waiting = self.live.query("llm_requests_waiting")
            raise TimeoutError(f"{timeout}; Prometheus' alerts: {active}; waiting: {waiting}") from None
        print(f"timeline: {alertname} {labels} delivered {delivery.received_at - since:.1f}s after the stimulus")
        return next(alert for alert in delivery.alerts if matches(alert))

    def fired_since(self, since: float, target: str) -> list[str]:
        """Names of alerts about `target`, or about its engine's models, delivered firing since `since`."""

        def about(labels: dict[str, str]) -> bool:
            return labels.get("target") == target or ("target" not in labels and labels.get("engine_type") == engine)

        engine = target.split("-")[0]
        return sorted(
            {
                alert["labels"]["alertname"]
                for delivery in self.webhook.deliveries
                if delivery.received_at >= since
                for alert in delivery.alerts
                if alert["status"] == "firing" and about(alert["labels"])
            }
        )


def _exporter(workdir: Path, url: str, name: str) -> ExporterProcess:
    # 2s: a CPU-starved vLLM can take over a second to answer /metrics while it serves the burst.
    return ExporterProcess([url], workdir, interval="2s", extra_args=["--target.name", name])


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """vLLM as two replicas, SGLang as one, a sidecar exporter each, Prometheus, Alertmanager, webhook."""
    workdir = tmp_path_factory.mktemp("fleet-e2e")
    settings_file = workdir / "settings.yaml"
    settings_file.write_text(E2E_SETTINGS)
    groups = rules.build(load(settings_file))
    started: list[Any] = []
    exporters: dict[str, ExporterProcess] = {}

    def launch(server: Any) -> Any:
        server.start()
        started.append(server)
        return server

    try:
        vllm = launch(vllm_server(workdir, extra_args=["--max-num-seqs", "1"]))
        sglang = launch(sglang_server(workdir))
        forwarder = launch(Forwarder(vllm.port))
        exporters.update(
            {
                "vllm-0": launch(_exporter(workdir, vllm.base_url, "vllm-0")),
                "vllm-1": launch(_exporter(workdir, forwarder.url, "vllm-1")),
                "sglang-0": launch(_exporter(workdir, sglang.base_url, "sglang-0")),
            }
        )
        webhook = launch(WebhookReceiver())
        alertmanager = launch(AlertmanagerServer(workdir / "alertmanager", {
            "route": {"receiver": "test", **ROUTE},
            "receivers": [{"name": "test", "webhook_configs": [{"url": webhook.webhook_url, "send_resolved": True}]}],
        }))  # fmt: skip
        fleet = Fleet(workdir, vllm, sglang, forwarder, exporters, webhook, alertmanager.address)
        fleet.prometheus = launch(
            PrometheusServer(
                workdir / "prometheus",
                fleet.prometheus_config(),
                rule_files={rules.RULES_FILE: rules.render_rules(groups)},
            )
        )
        fleet.live.wait_for_query('count(llm_exporter_target_up{job="llm-exporter"} == 1) == 3', bool, 60)
        yield fleet
    finally:
        # Exporters a test replaced (a pod restarted) were not in `started`.
        for server in [*reversed(started), *exporters.values()]:
            server.stop()


def _complete(base_url: str, max_tokens: int, n: int, failures: list[BaseException]) -> None:
    # ignore_eos: the random-weight model may stop at once; each request must take its time. Each request asks for
    # n sequences (one engine request each; vLLM needs temperature > 0 for n > 1).
    body = {"model": "tiny", "prompt": "Tell me a long story.", "max_tokens": max_tokens, "temperature": 1.0,
            "ignore_eos": True, "n": n}  # fmt: skip
    try:
        httpx.post(f"{base_url}/v1/completions", json=body, timeout=600.0).raise_for_status()
    except httpx.HTTPError as error:  # kept for the test's assertion rather than lost in a thread
        failures.append(error)


def _send(count: int, base_url: str, max_tokens: int, n: int = 1) -> list[BaseException]:
    """Send `count` requests at once and wait for them; the failures."""
    failures: list[BaseException] = []
    threads = [threading.Thread(target=_complete, args=(base_url, max_tokens, n, failures)) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    return failures


def test_slo_recordings_have_series_for_both_engines(fleet: Fleet) -> None:
    """After traffic on each engine, the TTFT and TPOT SLO recordings hold a series per engine."""
    for base_url in (fleet.vllm.base_url, fleet.sglang.base_url):
        assert _send(4, base_url, 32) == []
    for sli in ("ttft", "tpot"):
        for engine in ("vllm", "sglang"):
            fleet.live.wait_for_query(
                f'model:llm_{sli}_slo_errors:ratio_rate1m{{engine_type="{engine}"}} >= 0', bool, 90
            )


def test_one_replica_of_two_down_is_a_warning_naming_it(fleet: Fleet) -> None:
    """The forwarder behind vllm-1 stops: a warning names vllm-1; vllm-0 keeps serving."""
    stopped_at = time.time()
    fleet.forwarder.stop()
    alert = fleet.delivered("LLMEngineDown", stopped_at, target="vllm-1")
    assert alert["labels"]["severity"] == "warning"
    assert "vllm-1" in alert["annotations"]["description"]
    assert fleet.live.query('llm_exporter_target_up{target="vllm-0"} == 1')
    fleet.forwarder.start()  # the replica comes back on its address
    fleet.live.wait_for_query('llm_exporter_target_up{target="vllm-1"} == 1', bool, 60)


def test_a_pod_loading_its_model_does_not_page(fleet: Fleet) -> None:
    """SGLang's pod is replaced (sidecar and engine): while the new one loads its model, nothing fires."""
    old = fleet.exporters.pop("sglang-0")
    fleet.live.reload(fleet.prometheus_config())  # the old pod leaves discovery
    old.stop()
    fleet.sglang.stop()
    restarted_at = time.time()
    fleet.exporters["sglang-0"] = _exporter(fleet.workdir, fleet.sglang.base_url, "sglang-0")
    fleet.exporters["sglang-0"].start()  # ready once it has polled: the engine answers nothing yet
    fleet.live.reload(fleet.prometheus_config())  # the new pod is discovered
    fleet.live.wait_for_query('llm_exporter_target_state{target="sglang-0",state="loading"} == 1', bool, 60)
    fleet.sglang.start()  # minutes of model load on a busy CI machine: all of it within the start-up grace
    fleet.live.wait_for_query('llm_exporter_target_state{target="sglang-0",state="ready"} == 1', bool, 120)
    time.sleep(15)  # several evaluations and notifications after the load
    assert fleet.fired_since(restarted_at, "sglang-0") == []
    print(f"timeline: sglang-0 loaded for {time.time() - restarted_at - 15:.0f}s without an alert")
