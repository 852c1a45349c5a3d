"""Prometheus and Alertmanager (3.5 LTS unless LLM_EXPORTER_PROMETHEUS=2, see deps.py) on 127.0.0.1, with a
test's config and a throwaway data folder."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.deps import prometheus_binary
from tests.support.ports import Loopback, free_port
from tests.support.process import ManagedProcess, ProcessServer

Config = str | Mapping[str, Any]


def _write_yaml(path: Path, document: Config) -> None:
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(dict(document), sort_keys=False))


class _ConfiguredServer(ProcessServer, Loopback):
    """A Prometheus-ecosystem server: config file and data folder in `workdir`, ready at /-/ready."""

    program = ""

    def __init__(self, workdir: Path, config: Config) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.config_path = workdir / f"{self.program}.yml"
        self.data_dir = workdir / f"{self.program}-data"
        workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        _write_yaml(self.config_path, config)
        self.process = ManagedProcess(
            self.program,
            [prometheus_binary(self.program), *self.arguments()],
            f"{self.url}/-/ready",
            workdir / f"{self.program}.log",
            startup_timeout=60.0,
        )

    def arguments(self) -> list[str]:
        """Command-line flags after the program name."""
        raise NotImplementedError

    def reload(self, config: Config | None = None) -> None:
        """Rewrite the config file when given, then ask the server to reload it (POST /-/reload)."""
        if config is not None:
            _write_yaml(self.config_path, config)
        httpx.post(f"{self.url}/-/reload", timeout=10.0).raise_for_status()


class PrometheusServer(_ConfiguredServer):
    """Prometheus with lifecycle API on; rule files are written next to its config so `rule_files` can name them."""

    program = "prometheus"

    def __init__(self, workdir: Path, config: Config, rule_files: Mapping[str, Config] | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        for name, rules in (rule_files or {}).items():
            _write_yaml(workdir / name, rules)
        super().__init__(workdir, config)

    def arguments(self) -> list[str]:
        """Prometheus flags: config, TSDB in the work folder, loopback listener, /-/reload enabled."""
        return [
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={self.address}",
            "--web.enable-lifecycle",
        ]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query through /api/v1/query (at Unix time `at`, else now); the result vector."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        response = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=10.0)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise RuntimeError(f"query {expr!r} failed: {response.status_code} {body}")
        return list(body["data"]["result"])

    def wait_for_query(
        self, expr: str, holds: Callable[[list[dict[str, Any]]], bool], timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        """Re-run `expr` until `holds(result)` is true; TimeoutError with the last result otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if holds(result):
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expr!r} did not reach the expected result in {timeout:.0f}s; last: {result}")
            time.sleep(0.5)

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing) from /api/v1/alerts."""
        response = httpx.get(f"{self.url}/api/v1/alerts", timeout=10.0)
        response.raise_for_status()
        return list(response.json()["data"]["alerts"])


class AlertmanagerServer(_ConfiguredServer):
    """Alertmanager with clustering off, so it opens no port besides its loopback API."""

    program = "prometheus-alertmanager"

    def arguments(self) -> list[str]:
        """Alertmanager flags: config, data folder, loopback listener, no cluster gossip listener."""
        return [
            f"--config.file={self.config_path}",
            f"--storage.path={self.data_dir}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",  # the default gossips on 0.0.0.0:9094
        ]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds now, from /api/v2/alerts."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=10.0)
        response.raise_for_status()
        return list(response.json())
