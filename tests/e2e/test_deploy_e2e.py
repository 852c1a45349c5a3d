"""The deployment's Prometheus side, live: the compose stack's Prometheus config and generated rules running on a
real Prometheus and Alertmanager, scraping real exporters, and the prometheus-adapter query the HPA relies on."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.exporter import ExporterProcess
from tests.support.prometheus import AlertmanagerServer, PrometheusServer
from tests.support.replay import ReplayServer

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose"
CAPTURE = REPO / "tests" / "fixtures" / "engines" / "vllm-0.32.0-cpu-live.prom"
WAITING_LINE = 'vllm:num_requests_waiting{engine="0",model_name="tiny"} 0.0'
# Two engine pods as the PodMonitor would label them; pod b runs two data-parallel ranks.
PODS = {"vllm-a": {"0": 3}, "vllm-b": {"0": 7, "1": 5}}


def _capture(waiting_by_rank: dict[str, int]) -> bytes:
    text = CAPTURE.read_text(encoding="utf-8")
    assert WAITING_LINE in text
    lines = "\n".join(
        f'vllm:num_requests_waiting{{engine="{rank}",model_name="tiny"}} {count}.0'
        for rank, count in waiting_by_rank.items()
    )
    return text.replace(WAITING_LINE, lines).encode()


def _prometheus_config(exporters: dict[str, ExporterProcess], alertmanager: AlertmanagerServer) -> dict[str, Any]:
    """The compose Prometheus config with Docker's DNS discovery swapped for the exporters started here."""
    config = yaml.safe_load((COMPOSE / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = ["llm-exporter.rules.yaml"]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager.address]}]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "llm-exporter"]
    del job["dns_sd_configs"], job["relabel_configs"]
    job["static_configs"] = [
        {"targets": [f"127.0.0.1:{exporter.port}"], "labels": {"namespace": "inference", "pod": pod}}
        for pod, exporter in exporters.items()
    ]
    config["scrape_configs"] = [job]
    return config


def _adapter_query() -> str:
    values = yaml.safe_load((REPO / "deploy" / "kubernetes" / "prometheus-adapter-values.yaml").read_text())
    (rule,) = values["rules"]["custom"]
    return (
        rule["metricsQuery"]
        .replace("<<.Series>>", rule["name"]["as"])
        .replace("<<.LabelMatchers>>", f'namespace="inference",pod=~"{"|".join(PODS)}"')
        .replace("<<.GroupBy>>", "pod")
    )


def test_compose_prometheus_runs_the_rules_and_serves_the_autoscaler_query(
    replay_factory: Callable[..., ReplayServer],
    exporter_factory: Callable[..., ExporterProcess],
    prometheus_factory: Callable[..., PrometheusServer],
    alertmanager_factory: Callable[..., AlertmanagerServer],
) -> None:
    alertmanager = alertmanager_factory((COMPOSE / "alertmanager.yml").read_text(encoding="utf-8"))
    exporters = {
        pod: exporter_factory([replay_factory(_capture(ranks)).url], extra_args=["--gpu=false"])
        for pod, ranks in PODS.items()
    }
    rules = (REPO / "alerts" / "llm-exporter.rules.yaml").read_text(encoding="utf-8")
    prometheus = prometheus_factory(_prometheus_config(exporters, alertmanager), {"llm-exporter.rules.yaml": rules})

    per_pod = prometheus.wait_for_query(_adapter_query(), lambda result: len(result) == len(PODS))
    assert {item["metric"]["pod"]: float(item["value"][1]) for item in per_pod} == {
        pod: float(sum(ranks.values())) for pod, ranks in PODS.items()
    }

    # The recording rule sums the namespace's pods per model: 3 + 7 + 5 once both pods are scraped.
    total = sum(sum(ranks.values()) for ranks in PODS.values())
    prometheus.wait_for_query(
        "model:llm_requests_waiting:sum", lambda result: [float(item["value"][1]) for item in result] == [total]
    )

    rule_groups = [group["name"] for group in yaml.safe_load(rules)["groups"]]
    assert sorted(_rule_health(prometheus)) == sorted(rule_groups)

    active = httpx.get(f"{prometheus.url}/api/v1/alertmanagers", timeout=10.0).json()["data"]["activeAlertmanagers"]
    assert [item["url"] for item in active] == [f"http://{alertmanager.address}/api/v2/alerts"]


def _rule_health(prometheus: PrometheusServer, timeout: float = 60.0) -> dict[str, str]:
    """Each loaded rule group's health once every rule has been evaluated; fails on any rule in error."""
    deadline = time.monotonic() + timeout
    while True:
        groups = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=10.0).json()["data"]["groups"]
        health = {group["name"]: {rule["health"] for rule in group["rules"]} for group in groups}
        assert not [name for name, found in health.items() if "err" in found], health
        if all(found == {"ok"} for found in health.values()):
            return {name: "ok" for name in health}
        assert time.monotonic() < deadline, f"rules not all evaluated in {timeout:.0f}s: {health}"
        time.sleep(0.5)
