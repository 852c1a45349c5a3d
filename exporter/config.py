"""Configuration: a strict YAML file and command-line targets, validated into frozen dataclasses.

Every problem is reported at once, one line each, naming file, line and field:
`exporter.yml:12: targets[0].timeout: must be a duration like "5s"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import yaml

from exporter import durations, tlsfiles
from exporter.engines import ENGINES

ENGINE_TYPES = ("auto", *ENGINES)
HISTOGRAM_MODES = ("canonical", "native")
DEFAULT_LISTEN_ADDRESS = ":10117"

_SIZE = re.compile(r"^([0-9]+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 10**3, "MB": 10**6, "GB": 10**9}


class ConfigError(Exception):
    """Every problem found in a configuration, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class TlsClientConfig:
    """How the exporter checks an HTTPS engine, spelled as Prometheus' tls_config."""

    ca_file: str = ""  # trust this CA instead of the system's
    cert_file: str = ""  # a client certificate, for engines that require one
    key_file: str = ""
    server_name: str = ""  # the name the certificate must carry, when the URL's host is not it
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class TargetConfig:
    """One engine endpoint to poll."""

    url: str  # the full /metrics URL
    name: str = ""
    engine_type: str = "auto"
    model: str = ""  # used when neither the metrics nor the engine's API name the model
    interval: float = 5.0
    timeout: float = 4.0
    max_response_bytes: int = 16 << 20
    sample_limit: int = 100_000  # as Prometheus's sample_limit; 0: none. A large vLLM with 8 DP ranks has ~10k.
    histogram_buckets: str = "canonical"
    bearer_token_file: str = ""
    tls: TlsClientConfig | None = None  # None: the system's CAs, verification on

    @property
    def base_url(self) -> str:
        """Where the target's API endpoints live: its URL without the metrics path's last segment.

        Keeps a proxy's path prefix, so two engines behind one proxy each read their own /v1/models.
        """
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path.rsplit('/', 1)[0]}"


@dataclass(frozen=True)
class GpuConfig:
    """The NVML collector: auto enables it where a driver is found."""

    enabled: str = "auto"  # auto | true | false
    interval: float = 5.0
    # auto | engine | all | comma-separated NVML indices or UUIDs; auto is engine with targets, all without
    devices: str = "auto"


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    targets: tuple[TargetConfig, ...] = ()
    gpu: GpuConfig = field(default_factory=GpuConfig)
    source: str = "<flags>"


def parse_duration(text: str) -> float:
    """Seconds in a positive duration like "500ms", "5s", "1m30s", "1d"; ValueError otherwise."""
    value = durations.seconds(text)
    if value <= 0:
        raise ValueError(f'must be a duration like "5s", got {text!r}')
    return value


def _parse_size(text: str) -> int:
    match = _SIZE.match(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f'must be a size like "16MiB", got {text!r}')
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def metrics_url(url: str) -> str:
    """The /metrics URL for what a user typed: a bare host:port or base URL gets /metrics appended."""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL, got {redact(url)!r}")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise ValueError(f"must be an http(s) URL with a port from 1 to 65535, got {redact(url)!r}") from None
    return url if parts.path not in ("", "/") else f"{parts.scheme}://{parts.netloc}/metrics"


def redact(url: str) -> str:
    """The URL as it may be shown (landing page, logs, errors): a password in it becomes xxxxx."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:xxxxx@{host}").geturl()


def default_name(url: str) -> str:
    """A target's default name: host:port of its URL, plus any path before /metrics; never its userinfo.

    The path keeps two engines behind one proxy apart (`proxy:80/engine-a`, `proxy:80/engine-b`).
    """
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    path = parts.path.removesuffix("/metrics").rstrip("/")
    return host + path


class YamlReader:
    """Walks a composed YAML tree, collecting problems with their lines instead of stopping at the first."""

    def __init__(self, source: str):
        self.source = source
        self.found: list[tuple[int, str]] = []

    def problem(self, node: yaml.Node, path: str, message: str) -> None:
        line = node.start_mark.line + 1
        self.found.append((line, f"{self.source}:{line}: {path or 'the file'}: {message}"))

    @property
    def problems(self) -> list[str]:
        """Problems in file order."""
        return [message for _, message in sorted(self.found, key=lambda item: item[0])]

    def mapping(self, node: yaml.Node, path: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, "must be a mapping")
            return {}
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = str(key.value)
            if name not in allowed:
                self.problem(key, f"{path}.{name}" if path else name, f"unknown field (allowed: {', '.join(allowed)})")
            elif name in out:
                self.problem(key, f"{path}.{name}" if path else name, "appears twice")
            else:
                out[name] = value
        return out

    def scalar(self, node: yaml.Node, path: str, convert: Any, default: Any) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, path, "must be a single value")
            return default
        try:
            return convert(str(node.value))
        except ValueError as error:
            self.problem(node, path, str(error))
            return default


def _choice(options: tuple[str, ...]) -> Any:
    def convert(text: str) -> str:
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {text!r}")
        return text

    return convert


def gpu_devices(text: str) -> str:
    """Check a gpu.devices value: auto, engine, all, or a comma-separated list of NVML indices or GPU UUIDs."""
    if text in ("auto", "engine", "all"):
        return text
    items = [item.strip() for item in text.split(",")]
    if not all(item.isdigit() or item.startswith("GPU-") for item in items):
        raise ValueError(
            f"must be auto, engine, all or a comma-separated list of GPU indices or UUIDs (GPU-…), got {text!r}"
        )
    return ",".join(items)


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"must be a whole number (0 for no limit), got {text!r}")
    return int(text)


def _nonempty(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text


_TARGET_FIELDS: dict[str, Any] = {
    "url": metrics_url,
    "name": _nonempty,
    "engine_type": _choice(ENGINE_TYPES),
    "model": _nonempty,
    "interval": parse_duration,
    "timeout": parse_duration,
    "max_response_bytes": _parse_size,
    "sample_limit": _count,
    "histogram_buckets": _choice(HISTOGRAM_MODES),
    "bearer_token_file": _nonempty,
    "tls_config": None,  # a mapping, read by _tls
}
_DEFAULT_FIELDS = ("engine_type", "interval", "timeout", "max_response_bytes", "sample_limit", "histogram_buckets")


def _tls(reader: YamlReader, node: yaml.Node, path: str) -> TlsClientConfig | None:
    """tls_config's fields, each file checked for what it must hold so a problem names its field."""
    fields = reader.mapping(node, path, ("ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify"))
    before = len(reader.found)
    values: dict[str, Any] = {}
    for name, value_node in fields.items():
        convert = _boolean if name == "insecure_skip_verify" else _nonempty
        values[name] = reader.scalar(value_node, f"{path}.{name}", convert, None)
    for name, holds in (("ca_file", "certificate"), ("cert_file", "certificate"), ("key_file", "private key")):
        if values.get(name):
            problem = tlsfiles.pem_problem(values[name], holds)
            if problem:
                reader.problem(fields[name], f"{path}.{name}", problem)
    for name, other in (("cert_file", "key_file"), ("key_file", "cert_file")):
        if name in fields and other not in fields:
            reader.problem(node, f"{path}.{other}", f"is required with {name}")
    if len(reader.found) == before and values.get("cert_file"):
        problem = tlsfiles.pair_problem(values["cert_file"], values["key_file"])
        if problem:
            reader.problem(fields["key_file"], f"{path}.key_file", problem)
    if len(reader.found) > before:
        return None
    return TlsClientConfig(**values)


def _boolean(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"must be true or false, got {text!r}")
    return text == "true"


def _target(reader: YamlReader, node: yaml.Node, path: str, defaults: dict[str, Any]) -> TargetConfig | None:
    fields = reader.mapping(node, path, tuple(_TARGET_FIELDS))
    values = dict(defaults)
    for name, value_node in fields.items():
        if name == "tls_config":
            values["tls"] = _tls(reader, value_node, f"{path}.tls_config")
        else:
            values[name] = reader.scalar(value_node, f"{path}.{name}", _TARGET_FIELDS[name], None)
    if "url" not in fields:
        reader.problem(node, f"{path}.url", "is required")
        return None
    if any(value is None for value in values.values()):
        return None
    if "timeout" not in values:
        # Unset, the timeout follows a short interval down, as --scrape.interval does: `interval: 1s` alone is valid.
        values["timeout"] = min(TargetConfig.timeout, values.get("interval", TargetConfig.interval))
    target = TargetConfig(**values)
    if target.timeout > target.interval:
        reader.problem(fields.get("timeout", node), f"{path}.timeout", "must not exceed the interval")
    return replace(target, name=target.name or default_name(target.url))


def compose(text: str, source: str) -> yaml.Node | None:
    """The YAML node tree of text (None when empty); invalid YAML is a ConfigError naming the line."""
    try:
        return yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"{mark.line + 1}" if mark else "1"
        raise ConfigError([f"{source}:{line}: not valid YAML: {getattr(error, 'problem', error)}"]) from None


def load(text: str, source: str) -> Config:
    """A Config from YAML text; source names the file in every problem."""
    reader = YamlReader(source)
    root = compose(text, source)
    if root is None:
        return Config(source=source)
    top = reader.mapping(root, "", ("defaults", "targets", "gpu"))
    defaults: dict[str, Any] = {}
    if "defaults" in top:
        for name, value_node in reader.mapping(top["defaults"], "defaults", _DEFAULT_FIELDS).items():
            defaults[name] = reader.scalar(value_node, f"defaults.{name}", _TARGET_FIELDS[name], None)
        defaults = {k: v for k, v in defaults.items() if v is not None}
    targets: list[TargetConfig] = []
    if "targets" in top:
        node = top["targets"]
        if not isinstance(node, yaml.SequenceNode):
            reader.problem(node, "targets", "must be a list")
        else:
            for index, item in enumerate(node.value):
                target = _target(reader, item, f"targets[{index}]", defaults)
                if target is not None:
                    targets.append(target)
    gpu = GpuConfig()
    if "gpu" in top:
        fields = reader.mapping(top["gpu"], "gpu", ("enabled", "interval", "devices"))
        if "enabled" in fields:
            enabled = reader.scalar(fields["enabled"], "gpu.enabled", _choice(("auto", "true", "false")), "auto")
            gpu = replace(gpu, enabled=enabled)
        if "interval" in fields:
            gpu = replace(gpu, interval=reader.scalar(fields["interval"], "gpu.interval", parse_duration, 5.0))
        if "devices" in fields:
            gpu = replace(gpu, devices=reader.scalar(fields["devices"], "gpu.devices", gpu_devices, "auto"))
    names = [t.name for t in targets]
    for index, name in enumerate(names):
        if name in names[:index]:
            reader.problem(top["targets"].value[index], f"targets[{index}].name", f"{name!r} is used twice")
    if reader.problems:
        raise ConfigError(reader.problems)
    return Config(targets=tuple(targets), gpu=gpu, source=source)


def load_file(path: str) -> Config:
    """A Config from a YAML file; an unreadable file is a ConfigError too."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot read: {error}"]) from None
    return load(text, path)


def from_flags(
    urls: list[str], interval: float | None, engine_type: str, model: str, names: list[str] | None = None
) -> tuple[TargetConfig, ...]:
    """Targets for the zero-config sidecar: one per --target URL, named by the --target.name at its position."""
    names = names or []
    problems: list[str] = []
    targets: list[TargetConfig] = []
    if len(names) > len(urls):
        problems.append(f"--target.name: {len(names)} names for {len(urls)} --target URL(s)")
    for index, url in enumerate(urls):
        try:
            full = metrics_url(url)
        except ValueError as error:
            problems.append(f"--target: {error}")
            continue
        name = names[index].strip() if index < len(names) else ""
        target = TargetConfig(url=full, name=name or default_name(full), engine_type=engine_type, model=model)
        if interval is not None:
            # A busy engine may take most of a short interval to answer; give it all of it, as Prometheus allows.
            target = replace(target, interval=interval, timeout=min(target.timeout, interval))
        targets.append(target)
    if problems:
        raise ConfigError(problems)
    return tuple(targets)


def with_flag_targets(config: Config, flag_targets: tuple[TargetConfig, ...]) -> Config:
    """The file's config plus the --target ones; a name used twice across both is a ConfigError."""
    problems: list[str] = []
    seen = {target.name for target in config.targets}
    for target in flag_targets:
        if target.name in seen:
            problems.append(
                f"--target {default_name(target.url)}: target name {target.name!r} is already used "
                f"(in {config.source} or by an earlier --target); set --target.name"
            )
        seen.add(target.name)
    if problems:
        raise ConfigError(problems)
    return replace(config, targets=config.targets + flag_targets)
