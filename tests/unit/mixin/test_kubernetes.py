"""deploy/kubernetes/: in sync with its generator, valid against the Kubernetes and Prometheus Operator API types,
and wired together (sidecar port, PodMonitor selector, rules' job, HPA metric, adapter rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1 as operator

from exporter import schema
from exporter.config import DEFAULT_LISTEN_ADDRESS
from exporter.mixin import kubernetes, rules
from exporter.mixin.settings import Settings

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy" / "kubernetes"
# Native sidecars (initContainers[].restartPolicy: Always) are on by default from Kubernetes 1.29.
KUBERNETES_VERSION = "1.29"
OPERATOR_MODELS = {"PodMonitor": operator.PodMonitor, "PrometheusRule": operator.PrometheusRule}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def _objects() -> list[tuple[str, dict[str, Any]]]:
    """Every Kubernetes object under deploy/kubernetes, the dashboards' ConfigMaps included, with its file."""
    listed = _documents(DEPLOY / "kustomization.yaml")[0]["resources"]
    return [(name, document) for name in listed for document in _documents(DEPLOY / name)]


def _one(file: str, kind: str) -> dict[str, Any]:
    return next(document for document in _documents(DEPLOY / file) if document["kind"] == kind)


def test_manifests_are_in_sync_with_the_generator(tmp_path):
    written = kubernetes.write(tmp_path, (REPO / "alerts" / rules.PROMETHEUS_RULE_FILE).read_text())
    committed = {path.name for path in DEPLOY.glob("*.yaml")}
    assert {path.name for path in written} == committed, "stale or missing: run `llm-exporter generate kubernetes`"
    for path in written:
        assert path.read_text(encoding="utf-8") == (DEPLOY / path.name).read_text(encoding="utf-8"), (
            f"deploy/kubernetes/{path.name} is stale: run `llm-exporter generate kubernetes`"
        )


def test_every_yaml_file_of_the_deployment_parses():
    files = sorted(
        {
            *REPO.glob("deploy/**/*.yaml"),
            *REPO.glob("deploy/**/*.yml"),
            *REPO.glob("alerts/**/*.yaml"),
            *REPO.glob("dashboards/provisioning/*.yaml"),
        }
    )
    assert len(files) >= 15
    for path in files:
        assert _documents(path), f"{path.relative_to(REPO)} has no document"


def test_kustomization_lists_every_object_file():
    listed = set(_documents(DEPLOY / "kustomization.yaml")[0]["resources"])
    on_disk = {path.relative_to(DEPLOY).as_posix() for path in DEPLOY.glob("**/*.yaml")}
    assert listed == on_disk - {"kustomization.yaml", "prometheus-adapter-values.yaml"}


def test_core_objects_validate_against_the_kubernetes_api_schema():
    kinds = []
    for name, document in _objects():
        if document["kind"] in OPERATOR_MODELS:
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name}: {document['kind']}: {'.'.join(map(str, error.path))}: {error.message}")
        kinds.append(document["kind"])
    assert sorted(set(kinds)) == ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Service"]


def _operator_round_trip(document: dict[str, Any]) -> dict[str, Any]:
    """The object as the Prometheus Operator's API types read it; fields they do not know are dropped."""
    model = OPERATOR_MODELS[document["kind"]].model_validate(document)
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def test_operator_objects_validate_against_the_prometheus_operator_types():
    checked = []
    for name, document in _objects():
        if document["kind"] in OPERATOR_MODELS:
            assert _operator_round_trip(document) == document, f"{name}: fields the CRD does not define"
            checked.append(document["kind"])
    assert sorted(checked) == ["PodMonitor", "PrometheusRule"]


def test_prometheus_rule_carries_the_generated_alert_groups():
    committed = _documents(REPO / "alerts" / "llm-exporter.prometheusrule.yaml")[0]
    assert _one("prometheusrule.yaml", "PrometheusRule") == committed


def _pod_spec() -> dict[str, Any]:
    return _one("vllm.yaml", "Deployment")["spec"]["template"]["spec"]


def test_exporter_runs_as_a_native_sidecar_on_the_default_port():
    spec = _pod_spec()
    (sidecar,) = spec["initContainers"]
    assert sidecar["restartPolicy"] == "Always"
    port = int(DEFAULT_LISTEN_ADDRESS.rsplit(":", 1)[1])
    assert sidecar["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
    assert f"--web.listen-address=:{port}" in sidecar["args"]
    assert (sidecar["livenessProbe"]["httpGet"]["path"], sidecar["readinessProbe"]["httpGet"]["path"]) == (
        "/-/healthy",
        "/-/ready",
    )
    engine_port = spec["containers"][0]["ports"][0]["containerPort"]
    assert f"--target=http://127.0.0.1:{engine_port}" in sidecar["args"]
    assert sidecar["securityContext"]["runAsNonRoot"] is True


def test_sidecar_reports_the_engines_own_gpus_by_default():
    """No --gpu flag: the default (engine beside a target) reads the GPUs the engine's processes hold, which the
    sidecar finds in the pod's shared /proc, among the node's GPUs the NVIDIA runtime mounts without allocating."""
    pod = _pod_spec()
    sidecar = pod["initContainers"][0]
    assert not [arg for arg in sidecar["args"] if arg.startswith("--gpu")]
    assert pod["shareProcessNamespace"] is True
    env = {item["name"]: item.get("value") for item in sidecar["env"]}
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all" and env["NVIDIA_DRIVER_CAPABILITIES"] == "utility"
    assert "nvidia.com/gpu" not in sidecar.get("resources", {}).get("limits", {})  # it must not take a GPU
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_pod_monitor_scrapes_the_sidecar_under_the_job_the_rules_select():
    monitor = _one("podmonitor.yaml", "PodMonitor")["spec"]
    pod_labels = _one("vllm.yaml", "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert monitor["selector"]["matchLabels"].items() <= pod_labels.items()
    (endpoint,) = monitor["podMetricsEndpoints"]
    port_names = {port["name"] for port in _pod_spec()["initContainers"][0]["ports"]}
    assert endpoint["port"] in port_names
    (relabel,) = endpoint["relabelings"]
    assert (relabel["targetLabel"], relabel["action"]) == ("job", "replace")
    selectors = Settings().selectors
    assert f'job="{relabel["replacement"]}"' == selectors.exporter == selectors.engine == selectors.gpu


def test_hpa_scales_the_deployment_on_the_metric_the_adapter_serves():
    hpa = _one("hpa.yaml", "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"}
    (metric,) = hpa["metrics"]
    (rule,) = _documents(DEPLOY / "prometheus-adapter-values.yaml")[0]["rules"]["custom"]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == rule["name"]["as"]
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "10"}
    assert schema.spec(rule["name"]["as"]).type == "gauge"


# The fields prometheus-adapter's config accepts in one rule (docs/config.md of kubernetes-sigs/prometheus-adapter).
ADAPTER_RULE_FIELDS = {"seriesQuery", "seriesFilters", "resources", "name", "metricsQuery"}


def test_adapter_rule_has_the_adapter_config_shape():
    (rule,) = _documents(DEPLOY / "prometheus-adapter-values.yaml")[0]["rules"]["custom"]
    assert set(rule) <= ADAPTER_RULE_FIELDS and {"seriesQuery", "resources", "metricsQuery"} <= set(rule)
    assert set(rule["name"]) == {"matches", "as"}
    for label, target in rule["resources"]["overrides"].items():
        assert target == {"resource": label}, "namespace and pod labels must map onto their resources"


def _expand(metrics_query: str, series: str) -> str:
    """The PromQL the adapter runs for an HPA asking about two pods of one namespace."""
    return (
        metrics_query.replace("<<.Series>>", series)
        .replace("<<.LabelMatchers>>", 'namespace="inference",pod=~"vllm-a|vllm-b"')
        .replace("<<.GroupBy>>", "pod")
    )
