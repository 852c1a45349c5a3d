"""Generate the Kubernetes manifests of deploy/kubernetes/: a vLLM Deployment with llm-exporter as a native
sidecar, its PodMonitor, the PrometheusRule, an HPA on the unified queue length with the prometheus-adapter rule
that serves it, and a kustomization tying them to the dashboard ConfigMaps.

`write` is what `llm-exporter generate kubernetes` runs; the committed files must equal its output. The
PrometheusRule is not rendered again here: `write` is handed the one the rule generator wrote (so the same
--settings shape both), and the dashboards' ConfigMaps are written by the dashboard generator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exporter import __version__
from exporter.config import DEFAULT_LISTEN_ADDRESS
from exporter.mixin import dashboards, yamlfile
from exporter.mixin.promql import number
from exporter.mixin.settings import Settings

IMAGE = f"ghcr.io/llm-exporter/llm-exporter:{__version__}"
PORT = int(DEFAULT_LISTEN_ADDRESS.rsplit(":", 1)[1])
PORT_NAME = "metrics"
# The alerts and recording rules select job="llm-exporter"; the PodMonitor relabels its job to this name.
JOB = "llm-exporter"
# Every pod carrying the sidecar has this label, whatever its engine, so one PodMonitor finds them all.
SCRAPE_LABEL = {"llm-exporter/sidecar": "true"}
COMMON_LABELS = {"app.kubernetes.io/name": "llm-exporter"}

# The example engine. v0.32.0 is the vLLM release the project's live tests run against.
ENGINE_NAME = "vllm"
ENGINE_IMAGE = "vllm/vllm-openai:v0.32.0"
ENGINE_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"
ENGINE_PORT = 8000

QUEUE_METRIC = "llm_requests_waiting"

FILES = {
    "vllm.yaml": "A vLLM Deployment and Service with llm-exporter as a native sidecar (Kubernetes >= 1.29).",
    "podmonitor.yaml": "Prometheus Operator PodMonitor: scrapes every pod labelled llm-exporter/sidecar=true.",
    "prometheusrule.yaml": "The generated recording and alerting rules (same content as "
    "alerts/llm-exporter.prometheusrule.yaml).",
    "hpa.yaml": f"Scale the vLLM Deployment on {QUEUE_METRIC}, served by the rule in prometheus-adapter-values.yaml.",
    "prometheus-adapter-values.yaml": "Helm values for prometheus-community/prometheus-adapter: exposes "
    f"{QUEUE_METRIC} per pod to the custom metrics API.",
    "kustomization.yaml": "`kubectl apply -k deploy/kubernetes` applies the objects of this folder and the "
    "dashboard ConfigMaps.",
}


def _http_probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": PORT_NAME}, "periodSeconds": period, "failureThreshold": failures}


def sidecar() -> dict[str, Any]:
    """The llm-exporter container, as a native sidecar (an init container with restartPolicy: Always)."""
    return {
        "name": "llm-exporter",
        "image": IMAGE,
        # Native sidecar: starts before the engine, keeps running beside it, stops after it.
        "restartPolicy": "Always",
        # --target.name: every replica's sidecar polls 127.0.0.1, so the pod's name (from the downward API, expanded
        # by the kubelet) is what keeps the replicas' series apart.
        # GPUs: the default --gpu.devices (auto = engine beside a target) reports only the GPUs the engine's
        # processes hold, so a sidecar that sees every GPU of the node still reports each GPU once (docs/gpu.md).
        "args": [
            f"--target=http://127.0.0.1:{ENGINE_PORT}",
            "--target.name=$(POD_NAME)",
            f"--engine.type={ENGINE_NAME}",
            f"--web.listen-address=:{PORT}",
        ],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            # The NVIDIA container runtime then mounts NVML and the node's GPUs without allocating any; where the
            # runtime refuses this variable, the GPU collector reports itself down and engine metrics flow on.
            {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
            {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "utility"},
        ],
        "ports": [{"name": PORT_NAME, "containerPort": PORT, "protocol": "TCP"}],
        "livenessProbe": _http_probe("/-/healthy", 10, 3),
        "readinessProbe": _http_probe("/-/ready", 5, 3),
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10117,
            "runAsGroup": 10117,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def _engine_container() -> dict[str, Any]:
    return {
        "name": ENGINE_NAME,
        "image": ENGINE_IMAGE,
        "command": ["vllm", "serve"],
        "args": [ENGINE_MODEL, "--port", str(ENGINE_PORT)],
        "ports": [{"name": "http", "containerPort": ENGINE_PORT, "protocol": "TCP"}],
        # Loading weights takes minutes; the startup probe holds liveness off until the API answers.
        "startupProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10, "failureThreshold": 60},
        "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 5},
        "resources": {"limits": {"nvidia.com/gpu": 1}},
    }


def deployment() -> dict[str, Any]:
    """The example vLLM Deployment with the exporter sidecar."""
    selector = {"app.kubernetes.io/name": ENGINE_NAME}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": ENGINE_NAME, "labels": selector},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {**selector, **SCRAPE_LABEL}},
                "spec": {
                    # The sidecar finds the engine's processes (and so its GPUs) in the pod's shared /proc.
                    "shareProcessNamespace": True,
                    "initContainers": [sidecar()],
                    "containers": [_engine_container()],
                },
            },
        },
    }


def service() -> dict[str, Any]:
    """The Service clients send requests to; scraping goes through the PodMonitor, not through it."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": ENGINE_NAME, "labels": {"app.kubernetes.io/name": ENGINE_NAME}},
        "spec": {
            "selector": {"app.kubernetes.io/name": ENGINE_NAME},
            "ports": [{"name": "http", "port": ENGINE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def pod_monitor() -> dict[str, Any]:
    """A PodMonitor for every pod with the sidecar, with the job label the rules select."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": "llm-exporter", "labels": dict(COMMON_LABELS)},
        "spec": {
            "selector": {"matchLabels": dict(SCRAPE_LABEL)},
            "podMetricsEndpoints": [
                {
                    "port": PORT_NAME,
                    "path": "/metrics",
                    # 15s matches the Grafana data source's timeInterval the dashboards' $__rate_interval relies on.
                    "interval": "15s",
                    # The operator's default job is "<namespace>/<podmonitor>"; the rules select job="llm-exporter".
                    "relabelings": [{"action": "replace", "targetLabel": "job", "replacement": JOB}],
                }
            ],
        },
    }


def hpa(settings: Settings) -> dict[str, Any]:
    """An HPA keeping the average number of waiting requests per pod at hpa.waiting_per_replica, for any engine."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": ENGINE_NAME},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ENGINE_NAME},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": QUEUE_METRIC},
                        "target": {
                            "type": "AverageValue",  # The same number LLMHPAMaxedOut compares the queue with.
                            "averageValue": number(settings.hpa.waiting_per_replica),
                        },
                    },
                }
            ],
            "behavior": {
                # A new engine pod needs minutes to load its model: scale up at once, scale down only after
                # the queue has stayed short for ten minutes, so a lull does not throw away warm replicas.
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": 600,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
                },
            },
        },
    }


def adapter_rule() -> dict[str, Any]:
    """The prometheus-adapter rule serving the unified queue length per pod to the custom metrics API."""
    return {
        "seriesQuery": f'{QUEUE_METRIC}{{job="{JOB}",namespace!="",pod!=""}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": f"^{QUEUE_METRIC}$", "as": QUEUE_METRIC},
        # Summed per pod: an engine with data-parallel ranks reports one series per rank.
        "metricsQuery": f'sum by (<<.GroupBy>>) (<<.Series>>{{<<.LabelMatchers>>,job="{JOB}"}})',
    }


def adapter_values() -> dict[str, Any]:
    """Helm values adding the rule to prometheus-adapter's custom rules, keeping its default ones."""
    return {"rules": {"custom": [adapter_rule()]}}


def kustomization() -> dict[str, Any]:
    """The kustomization listing every object of the folder, the dashboards' ConfigMaps included."""
    objects = [name for name in FILES if name not in ("kustomization.yaml", "prometheus-adapter-values.yaml")]
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": objects + [f"dashboards/{stem}.yaml" for stem in dashboards.BUILDERS],
    }


def _header(name: str) -> str:
    return f"# Generated by `llm-exporter generate kubernetes`; do not edit by hand.\n# {FILES[name]}\n"


def _dump(name: str, *documents: dict[str, Any]) -> str:
    return yamlfile.dumps(*documents, header=_header(name))


def render(prometheus_rule: str, settings: Settings | None = None) -> dict[str, str]:
    """Every manifest's file name and text, given the text of the PrometheusRule the rule generator wrote."""
    settings = settings or Settings()
    return {
        "vllm.yaml": _dump("vllm.yaml", deployment(), service()),
        "podmonitor.yaml": _dump("podmonitor.yaml", pod_monitor()),
        "prometheusrule.yaml": _header("prometheusrule.yaml") + prometheus_rule,
        "hpa.yaml": _dump("hpa.yaml", hpa(settings)),
        "prometheus-adapter-values.yaml": _dump("prometheus-adapter-values.yaml", adapter_values()),
        "kustomization.yaml": _dump("kustomization.yaml", kustomization()),
    }


def write(out_dir: Path, prometheus_rule: str, settings: Settings | None = None) -> list[Path]:
    """Write the manifests into out_dir (deploy/kubernetes by default); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render(prometheus_rule, settings).items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
