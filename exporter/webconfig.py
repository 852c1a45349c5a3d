"""`--web.config.file`: TLS and basic auth in the Prometheus exporter-toolkit schema.

Supported: tls_server_config (cert_file, key_file, client_auth_type, client_ca_file, min_version,
max_version) and basic_auth_users (bcrypt hashes). Problems are reported like config problems; what this
exporter cannot honour (client-auth modes that accept unverified certificates, http_server_config) is
rejected with the reason rather than accepted and ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import threading
from dataclasses import dataclass

import bcrypt
import yaml

from exporter import tlsfiles
from exporter.config import ConfigError, YamlReader, compose

CLIENT_AUTH_TYPES = ("NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
# exporter-toolkit modes that take a client certificate without verifying it. Python's ssl module verifies every
# certificate a client presents, so under these modes every client with a certificate would fail the handshake.
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_TLS_FIELDS = ("cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version")


@dataclass(frozen=True)
class TlsConfig:
    """The server side of TLS."""

    cert_file: str
    key_file: str
    client_auth_type: str = "NoClientCert"
    client_ca_file: str = ""
    min_version: str = "TLS12"
    max_version: str = "TLS13"


@dataclass(frozen=True)
class WebConfig:
    """TLS (None = plain HTTP) and the basic-auth users with their bcrypt hashes."""

    tls: TlsConfig | None = None
    users: tuple[tuple[str, str], ...] = ()


def load(text: str, source: str) -> WebConfig:
    """A WebConfig from YAML text; raises ConfigError listing every problem."""
    reader = YamlReader(source)
    root = compose(text, source)
    if root is None:
        return WebConfig()
    top = reader.mapping(root, "", ("tls_server_config", "basic_auth_users", "http_server_config"))
    if "http_server_config" in top:
        reader.problem(
            top["http_server_config"],
            "http_server_config",
            "not supported by llm-exporter (it serves HTTP/1.1 and sets no custom headers); remove it",
        )
    tls = None
    if "tls_server_config" in top:
        fields = reader.mapping(top["tls_server_config"], "tls_server_config", _TLS_FIELDS)
        values = {name: reader.scalar(node, f"tls_server_config.{name}", str, "") for name, node in fields.items()}
        _check_files(reader, top["tls_server_config"], fields, values)
        auth = values.get("client_auth_type", "NoClientCert")
        if auth in _UNVERIFIED_CLIENT_AUTH:
            reader.problem(
                fields["client_auth_type"],
                "tls_server_config.client_auth_type",
                f"{auth} is not supported: Python's TLS verifies every client certificate, so use "
                "VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file",
            )
        elif auth not in CLIENT_AUTH_TYPES:
            reader.problem(
                fields["client_auth_type"],
                "tls_server_config.client_auth_type",
                f"must be one of {', '.join(CLIENT_AUTH_TYPES)}",
            )
        if auth.startswith(("Verify", "RequireAndVerify")) and not values.get("client_ca_file"):
            reader.problem(
                top["tls_server_config"],
                "tls_server_config.client_ca_file",
                f"is required with client_auth_type {auth}",
            )
        for name in ("min_version", "max_version"):
            if name in values and values[name] not in TLS_VERSIONS:
                reader.problem(fields[name], f"tls_server_config.{name}", f"must be one of {', '.join(TLS_VERSIONS)}")
        lowest, highest = values.get("min_version", "TLS12"), values.get("max_version", "TLS13")
        if lowest in TLS_VERSIONS and highest in TLS_VERSIONS and TLS_VERSIONS[lowest] > TLS_VERSIONS[highest]:
            node = fields.get("min_version", top["tls_server_config"])
            reader.problem(node, "tls_server_config.min_version", f"{lowest} is above max_version {highest}")
        if not reader.problems:
            tls = TlsConfig(**values)
    users: list[tuple[str, str]] = []
    if "basic_auth_users" in top:
        node = top["basic_auth_users"]
        for name, hashed_node in reader.mapping(node, "basic_auth_users", tuple(_keys(node))).items():
            hashed = reader.scalar(hashed_node, f"basic_auth_users.{name}", str, "")
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                # Never echo the value: it may be a password pasted by mistake.
                reader.problem(hashed_node, f"basic_auth_users.{name}", "must be a bcrypt hash ($2y$…)")
            else:
                users.append((name, hashed))
    if reader.problems:
        raise ConfigError(reader.problems)
    return WebConfig(tls=tls, users=tuple(users))


def _check_files(reader: YamlReader, node: yaml.Node, fields: dict[str, yaml.Node], values: dict[str, str]) -> None:
    """cert_file and key_file are required; each file named must hold what its field says, and the key fit the cert."""
    before = len(reader.found)
    for name, holds in (("cert_file", "certificate"), ("key_file", "private key"), ("client_ca_file", "certificate")):
        if not values.get(name):
            if name != "client_ca_file":
                reader.problem(node, f"tls_server_config.{name}", "is required")
            continue
        problem = tlsfiles.pem_problem(values[name], holds)
        if problem:
            reader.problem(fields[name], f"tls_server_config.{name}", problem)
    if len(reader.found) == before:
        problem = tlsfiles.pair_problem(values["cert_file"], values["key_file"])
        if problem:
            reader.problem(fields["key_file"], "tls_server_config.key_file", problem)


def _keys(node: yaml.Node) -> list[str]:
    return [str(key.value) for key, _ in node.value] if isinstance(node, yaml.MappingNode) else []


def load_file(path: str) -> WebConfig:
    """A WebConfig from a file; an unreadable file is a ConfigError too."""
    try:
        with open(path, encoding="utf-8") as handle:
            return load(handle.read(), path)
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: cannot read: not UTF-8 text (byte {error.start})"]) from None


def ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    """A server SSLContext for the TLS settings."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.client_ca_file:
        context.load_verify_locations(tls.client_ca_file)
    context.verify_mode = {
        "NoClientCert": ssl.CERT_NONE,
        "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
        "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
    }[tls.client_auth_type]
    return context


class BasicAuth:
    """Checks Authorization headers against bcrypt hashes; remembers verified credentials (bcrypt is slow)."""

    def __init__(self, users: tuple[tuple[str, str], ...]):
        self.users = dict(users)
        self._verified: set[bytes] = set()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """True when at least one user is configured."""
        return bool(self.users)

    def check(self, header: str | None) -> bool:
        """True if the header carries a configured user's password."""
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = self.users.get(user)
        if hashed is None:
            return False
        # Cache key: a keyed digest of the credentials, so no password is kept in memory in clear.
        key = hmac.new(hashed.encode(), password.encode(), hashlib.sha256).digest()
        with self._lock:
            if key in self._verified:
                return True
        if not bcrypt.checkpw(password.encode(), hashed.encode()):
            return False
        with self._lock:
            self._verified.add(key)
        return True
