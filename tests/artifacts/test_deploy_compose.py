"""deploy/compose/: a valid compose file whose services find each other, whose mounts exist, and whose Prometheus
and Alertmanager configs pass their own checkers with the generated rules loaded."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from exporter.config import DEFAULT_LISTEN_ADDRESS
from exporter.mixin.settings import Settings
from tests.support.tools import tool

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROMETHEUS = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text(encoding="utf-8"))
PORT = int(DEFAULT_LISTEN_ADDRESS.rsplit(":", 1)[1])
EXPORTERS = [name for name, service in SERVICES.items() if service.get("image") == "llm-exporter:local"]


def _mounts(service: str) -> dict[str, Path]:
    """A service's bind mounts: path in the container -> file or folder in the repository."""
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = (COMPOSE_DIR / source).resolve()
    return mounts


def test_compose_file_follows_the_compose_specification():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE_DIR / "compose.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_bind_mount_exists():
    mounts = [(service, target, source) for service in SERVICES for target, source in _mounts(service).items()]
    assert len(mounts) >= 10
    for service, target, source in mounts:
        assert source.exists(), f"{service}: {target} is mounted from {source}, which does not exist"


def test_exporters_build_from_the_repository_dockerfile():
    assert EXPORTERS == ["exporter", "exporter-tgi"]
    for name in EXPORTERS:
        build = SERVICES[name]["build"]
        assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == REPO / "Dockerfile"


def test_each_exporter_polls_an_engine_of_its_own_profile():
    for name in EXPORTERS:
        (target,) = [arg.split("=", 1)[1] for arg in SERVICES[name]["command"] if arg.startswith("--target=")]
        engine = urlsplit(target).hostname
        assert engine in SERVICES and SERVICES[engine].get("profiles") == SERVICES[name].get("profiles")


def test_prometheus_scrapes_every_exporter_under_the_job_the_rules_select():
    (job,) = [job for job in PROMETHEUS["scrape_configs"] if job["job_name"] != "prometheus"]
    assert f'job="{job["job_name"]}"' == Settings().selectors.exporter
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == EXPORTERS and discovery["port"] == PORT


def test_prometheus_sends_alerts_to_the_alertmanager_service():
    (target,) = PROMETHEUS["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host in SERVICES and f"127.0.0.1:{port}:{port}" in SERVICES[host]["ports"]


def test_prometheus_config_and_the_rules_it_mounts_pass_promtool(tmp_path):
    etc = tmp_path / "etc" / "prometheus"
    for target, source in _mounts("prometheus").items():
        copy = tmp_path / target.lstrip("/")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, copy)
    result = subprocess.run(
        [tool("promtool"), "check", "config", str(etc / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "llm-exporter.rules.yaml" in result.stdout and "SUCCESS" in result.stdout.split("rules.yaml")[1]


def test_alertmanager_config_passes_amtool():
    (config,) = _mounts("alertmanager").values()
    result = subprocess.run(
        [tool("amtool"), "check-config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _provisioned(kind: str) -> dict[str, Any]:
    (source,) = [
        source
        for target, source in _mounts("grafana").items()
        if target.startswith(f"/etc/grafana/provisioning/{kind}/")
    ]
    return yaml.safe_load(source.read_text(encoding="utf-8"))


def test_grafana_data_source_points_at_the_prometheus_service():
    (source,) = _provisioned("datasources")["datasources"]
    url = urlsplit(source["url"])
    assert url.hostname in SERVICES and SERVICES[url.hostname]["image"].startswith("prom/prometheus:")
    assert source["jsonData"]["timeInterval"] == PROMETHEUS["global"]["scrape_interval"]


def test_grafana_loads_every_generated_dashboard():
    (provider,) = _provisioned("dashboards")["providers"]
    folder = provider["options"]["path"]
    mounted = {
        Path(target).name: source for target, source in _mounts("grafana").items() if target.startswith(folder + "/")
    }
    generated = {path.name: path for path in (REPO / "dashboards").glob("*.json")}
    assert mounted == generated
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(folder + "/") and Path(home).name in mounted


@pytest.mark.parametrize("service", sorted(name for name in SERVICES if SERVICES[name].get("ports")))
def test_published_ports_listen_on_loopback_only(service):
    assert all(port.startswith("127.0.0.1:") for port in SERVICES[service]["ports"])


def test_the_exporter_is_published_on_the_default_port():
    assert SERVICES["exporter"]["ports"] == [f"127.0.0.1:{PORT}:{PORT}"]


def test_readme_documents_every_variable_with_its_default():
    text = (COMPOSE_DIR / "compose.yaml").read_text(encoding="utf-8")
    used = dict(re.findall(r"\$\{([A-Z_]+):-([^}]*)\}", text))
    readme = (COMPOSE_DIR / "README.md").read_text(encoding="utf-8")
    documented = {
        name: default.strip("`")
        for name, default in re.findall(r"^\| `([A-Z_]+)` \| ([^|]*?) \|", readme, re.MULTILINE)
    }
    assert documented.keys() == used.keys()
    for name, default in used.items():
        assert documented[name] == (default or "empty"), name
