"""TLS test kit: a throwaway CA and certificates (openssl), a web config using them, an exporter process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from tests.support.ports import free_port
from tests.support.tools import tool

PASSWORD = "s3cret-Pa55"


@dataclass(frozen=True)
class Pki:
    """Paths of a CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run([tool("openssl"), *map(str, args)], cwd=cwd, check=True, capture_output=True)


def make_pki(folder: Path) -> Pki:
    """Create the CA and both leaf certificates under folder."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        cwd=folder,
    )
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, extra in (("server", ["-extfile", "server.ext"]), ("client", [])):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=folder,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            f"{name}.pem",
            *extra,
            cwd=folder,
        )
    return Pki(
        folder / "ca.pem", folder / "server.pem", folder / "server.key", folder / "client.pem", folder / "client.key"
    )


def web_config(path: Path, pki: Pki, client_auth: str = "RequireAndVerifyClientCert") -> Path:
    """A --web.config.file with TLS from pki and the user prometheus/PASSWORD."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"  client_auth_type: {client_auth}\n  client_ca_file: {pki.ca}\n  min_version: TLS12\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    return path


class Exporter:
    """An llm-exporter process on a free loopback port."""

    def __init__(self, *args: str):
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "--gpu",
                "false",
                "--scrape.interval",
                "1s",
                "--web.listen-address",
                f"127.0.0.1:{self.port}",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_listening(self) -> None:
        """Return once the port accepts connections (TLS or not)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                assert self.process.poll() is None, self.process.communicate()[1]
                time.sleep(0.1)
        raise AssertionError("exporter did not listen")

    def stop(self) -> str:
        """Terminate the process; its stderr."""
        self.process.terminate()
        _, stderr = self.process.communicate(timeout=10)
        return stderr
