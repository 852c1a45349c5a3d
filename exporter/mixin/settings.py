"""The one settings object of the mixin: selectors, thresholds and windows, each with why one would change it.

Rules and dashboards read the same object (node-mixin's `_config`): the queue threshold that pages is where the
queue panel turns red, the KV mark that counts as saturated is where the KV panels do, and the job selector of
the rules scopes the dashboards' job variable. The defaults live here as data; `alerts/llm-exporter.settings.yaml`
is written from them (comments included), and a user's YAML file overrides any subset. Unknown keys and wrong
types are reported all at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.durations import is_prometheus_duration
from exporter.engines import ENGINES

SEVERITIES = ("critical", "warning", "info")


def why(default: Any, reason: str) -> Any:
    """A dataclass field whose default comes with the reason one would change it."""
    if isinstance(default, (list, dict, tuple)):
        return field(default_factory=lambda: type(default)(default), metadata={"why": reason})
    return field(default=default, metadata={"why": reason})


@dataclass(frozen=True)
class Selectors:
    """Label matchers inserted between the braces of every selector."""

    exporter: str = why(
        'job="llm-exporter"',
        "Matchers for `up` of the scrape job that collects the exporters; "
        "set it to your ServiceMonitor/PodMonitor job name.",
    )
    engine: str = why(
        'job="llm-exporter"',
        "Matchers added to every engine and exporter self-metric selector, and the scope of the engine dashboards' "
        "job variable; narrow it to one environment or team.",
    )
    gpu: str = why(
        'job="llm-exporter"',
        "Matchers added to every GPU selector, and the scope of the GPU dashboard's job variable; point it at a "
        "GPU DaemonSet job if GPUs are collected there instead of in the sidecar.",
    )
    kube_state_metrics: str = why(
        'job="kube-state-metrics"',
        "Matchers for kube-state-metrics' HPA series (LLMHPAMaxedOut, and LLMReplicasMissing's scale-down check); "
        "set it to the job that scrapes kube-state-metrics in your cluster.",
    )


@dataclass(frozen=True)
class Aggregation:
    """Which labels the recording rules and alerts keep."""

    fleet_labels: list[str] = why(
        ["namespace"],
        "Labels above a model that must not be summed away; add `cluster` "
        "when one Prometheus/Thanos sees several clusters.",
    )
    instance_labels: list[str] = why(
        ["job", "instance", "pod"],
        "Labels that identify one exporter; add `container` if several exporters share a pod.",
    )
    rate_window: str = why(
        "5m",
        "Window of the dashboard rate recording rules; keep it at least 4 scrape "
        "intervals, longer for smoother panels.",
    )


@dataclass(frozen=True)
class Output:
    """How the rule files are labelled and linked."""

    evaluation_interval: str = why(
        "",
        "Group evaluation interval; empty uses Prometheus' global one. Shorten it "
        "for faster alerts at the cost of more rule evaluations.",
    )
    runbook_url: str = why(
        "https://github.com/llm-exporter/llm-exporter/blob/main/docs/runbooks.md#{anchor}",
        "Where runbook_url points ({anchor} is the lower-cased alert name); point it at your "
        "own copy to add site-specific steps.",
    )
    alert_labels: dict[str, str] = why(
        {}, "Labels added to every alert, e.g. `team: inference` for Alertmanager routing."
    )
    prometheus_rule_name: str = why("llm-exporter", "metadata.name of the PrometheusRule object.")
    prometheus_rule_labels: dict[str, str] = why(
        {"app.kubernetes.io/name": "llm-exporter"},
        "Labels on the PrometheusRule; add the one your Prometheus' "
        "ruleSelector matches (kube-prometheus-stack: `release: <name>`).",
    )


@dataclass(frozen=True)
class Availability:
    """Exporter down, engine down, engine stalled."""

    exporter_down_for: str = why(
        "2m", "How long the exporter's scrape may fail before paging; longer tolerates rolling restarts."
    )
    engine_down_for: str = why(
        "2m",
        "How long a target that served may be down (polls failing, not loading) before LLMEngineDown warns; "
        "loading targets wait for startup_grace instead.",
    )
    stalled_window: str = why(
        "5m",
        "Window over which no generated token with requests present means stalled; "
        "raise it for models with very long prefills.",
    )
    stalled_for: str = why("5m", "How long the stall must last before paging.")
    completion_stalled_window: str = why(
        "15m",
        "Stall window of engines whose token counters move only when a request completes (SGLang, TGI, llama.cpp): "
        "requests waited throughout and none finished or left the queue; raise it for generations longer than this.",
    )
    startup_grace: str = why(
        "15m",
        "How long a target may stay `loading` (model download and load) before LLMEngineDown warns; set it above "
        "your slowest normal model load.",
    )
    exporter_down_severity: str = why(
        "warning",
        "Severity of LLMExporterDown: one sidecar is one replica, and LLMModelReplicasDown pages when a model's "
        "share of unreachable or down replicas is high; `critical` pages on every single exporter.",
    )


@dataclass(frozen=True)
class Replicas:
    """A model's replicas: which are down, which vanished (one replica is one target, the pod name)."""

    page_share: float = why(
        0.5,
        "Share of a model's known replicas down (engine down or exporter unreachable) that pages; one replica "
        "down only warns, since the others carry its traffic.",
    )
    page_for: str = why("5m", "How long that share must hold before paging.")
    lookback: str = why(
        "1h",
        "How long a replica stays known to its model after its last sample, and the window of the median replica "
        "count LLMReplicasMissing compares with; longer catches slower losses, shorter forgets scale-downs sooner.",
    )
    missing_for: str = why(
        "10m", "How long a vanished replica may stay unreplaced (its replacement Pending) before LLMReplicasMissing."
    )


@dataclass(frozen=True)
class Queue:
    """Queue pressure: many requests waiting and waiting long."""

    waiting: float = why(
        50,
        "Mean waiting requests over the window (TGI's guide and llm-d use 50), and where the queue panel turns red; "
        "lower it for small batch sizes, raise it for engines that batch hundreds.",
    )
    queue_time_seconds: float = why(
        5.0, "Queue-time quantile above which waiting hurts users; set it from your TTFT objective."
    )
    queue_time_quantile: float = why(0.9, "Which queue-time quantile is compared.")
    window: str = why("10m", "Averaging window for waiting requests and queue time.")
    for_: str = why("10m", "How long the pressure must last (also of the queue that does not drain at all).")
    sustained_waiting: float = why(
        50,
        "Mean waiting requests per replica that are pressure even when they churn fast (TGI's production guide); "
        "raise it for engines that batch hundreds.",
    )
    sustained_for: str = why("20m", "How long that mean must stay above sustained_waiting.")
    p99_seconds: float = why(
        10.0,
        "p99 queue time that is pressure even with a short queue; at a healthy HPA set point p99 is about 1.5s.",
    )
    min_dequeues: int = why(
        20, "Requests that must leave the queue in the window before its p99 is judged (low traffic makes it noise)."
    )


@dataclass(frozen=True)
class Hpa:
    """The HorizontalPodAutoscaler on waiting requests, and the alert when it has nothing left to add."""

    waiting_per_replica: float = why(
        10.0,
        "Waiting requests per pod the HPA keeps (deploy/kubernetes/hpa.yaml averageValue is rendered from it), and "
        "the mean per replica above which an HPA at maxReplicas alerts.",
    )
    selector: str = why(
        "",
        'Extra matchers on kube-state-metrics\' HPA series, e.g. `horizontalpodautoscaler=~"vllm|sglang"` to leave '
        "other workloads' HPAs out.",
    )
    join_labels: list[str] = why(
        ["namespace"],
        "Labels an HPA shares with its model's series; add e.g. `model` after exposing it on the HPA through "
        "kube-state-metrics' --metric-labels-allowlist when one namespace runs several models.",
    )
    for_: str = why("15m", "How long an HPA must sit at maxReplicas with its queue above target.")


@dataclass(frozen=True)
class KVCache:
    """KV-cache saturation, alerted only when it has consequences (preemptions or a long queue time)."""

    usage_ratio: float = why(
        0.95,
        "KV usage counted as saturated, and where KV panels turn red; near 100 % is normal under load, so the alert "
        "also needs preemptions or a queue-time quantile above queue.queue_time_seconds.",
    )
    warning_ratio: float = why(
        0.9, "KV usage where KV panels turn orange (vLLM's own dashboard warns at 90 %); dashboards only."
    )
    window: str = why("10m", "Window for peak KV usage and the preemption rate.")
    for_: str = why("10m", "How long saturation with consequences must last.")


@dataclass(frozen=True)
class Preemption:
    """Preemption storm: the scheduler evicting a large share of the work."""

    ratio: float = why(
        0.1, "Preemptions per finished request; raise it for workloads that oversubscribe the KV cache on purpose."
    )
    min_rate: float = why(0.05, "Preemptions per second below which no alert fires (guards idle engines).")
    window: str = why("5m", "Rate window.")
    for_: str = why("10m", "How long the storm must last.")


@dataclass(frozen=True)
class PrefixCache:
    """Prefix-cache collapse relative to the same model's own recent hit ratio."""

    window: str = why("15m", "Window of the current hit ratio.")
    baseline_window: str = why(
        "1d",
        "How far back the model's own baseline reaches; 1d covers a daily traffic cycle, use 1w for weekly patterns.",
    )
    drop_factor: float = why(0.5, "Alert when the current ratio falls below this fraction of the baseline.")
    min_baseline_ratio: float = why(0.1, "Baselines below this are noise (workloads without shared prefixes).")
    min_query_tokens_per_second: float = why(
        50.0,
        "Prompt tokens per second below which the ratio is not judged (a few requests say nothing about the cache).",
    )
    for_: str = why("15m", "How long the collapse must last.")
    warmup: str = why(
        "1h",
        "How long after its (re)start a replica's prefix cache counts as cold: a rollout refills caches from empty.",
    )
    warming_share: float = why(
        0.5, "Share of a model's ready replicas warming up at which a collapse is expected and does not alert."
    )


@dataclass(frozen=True)
class SpecDecode:
    """Speculative decoding whose acceptance rate collapsed against the same model's own recent rate."""

    window: str = why("15m", "Window of the current acceptance rate.")
    baseline_window: str = why("1d", "How far back the model's own baseline reaches (1d covers a daily cycle).")
    drop_factor: float = why(
        0.5, "Alert when the current rate falls below this fraction of the baseline (the drafter's own level)."
    )
    min_draft_tokens_per_second: float = why(
        5.0, "Draft tokens per second below which the rate is not judged (a few drafts say nothing)."
    )
    for_: str = why("15m", "How long the collapse must last.")


@dataclass(frozen=True)
class Rejections:
    """Requests refused before they were queued: admission limits, resource exhaustion, client errors."""

    ratio: float = why(0.05, "Rejected share of requests (rejected over rejected plus finished) that alerts.")
    min_rate: float = why(0.1, "Rejections per second below which no alert fires (a stray bad request).")
    window: str = why("5m", "Rate window.")
    for_: str = why("10m", "How long the rejections must last: sustained, not a burst at a traffic spike.")


@dataclass(frozen=True)
class KVTransfer:
    """Disaggregated prefill/decode: KV-cache transfers failing between workers."""

    window: str = why("5m", "Rate window.")
    for_: str = why("5m", "How long transfers must keep failing; a single failure is retried by the engine.")


@dataclass(frozen=True)
class BurnWindow:
    """One multi-window, multi-burn-rate alert (Google SRE workbook)."""

    severity: str
    long: str
    short: str
    factor: float
    for_: str


_SRE_WINDOWS = [
    BurnWindow("critical", "1h", "5m", 14.4, "2m"),
    BurnWindow("critical", "6h", "30m", 6.0, "15m"),
    BurnWindow("warning", "1d", "2h", 3.0, "1h"),
    BurnWindow("warning", "3d", "6h", 1.0, "3h"),
]


@dataclass(frozen=True)
class Slo:
    """Service-level objectives behind the burn-rate alerts."""

    ttft_seconds: float = why(
        2.5,
        "A request is good when its first token came within this; must be a TTFT bucket bound of exporter/schema.py.",
    )
    ttft_objective: float = why(0.99, "Share of requests that must be good on TTFT.")
    tpot_seconds: float = why(
        0.1, "A request is good when its mean time per output token is within this; must be a TPOT bucket bound."
    )
    tpot_objective: float = why(0.99, "Share of requests that must be good on TPOT.")
    availability_objective: float = why(0.999, "Share of finished requests that must not end in an error.")
    error_finish_reasons: list[str] = why(
        ["error"],
        "finish_reason values counted as errors on every engine, besides each engine table's own failure reasons "
        "(SGLang: `abort`); add `abort` if client cancellations are your fault (timeouts).",
    )
    engine_failure_reasons: dict[str, list[str]] = why(
        {},
        "Per engine type, the finish_reason values counted as errors instead of the above and its table's, e.g. "
        "`sglang: [error]` where SGLang's aborts are mostly client disconnects.",
    )
    client_finish_reasons: list[str] = why(
        ["rejected"],
        "finish_reason values that are the client's fault (TGI validation and template errors, HTTP 422): neither "
        "good nor bad, left out of the availability SLI.",
    )
    engine_bounds: dict[str, dict[str, float]] = why(
        {"sglang": {"ttft_seconds": 2.0}},
        "Per engine type, the bucket bound judged instead of ttft_seconds/tpot_seconds where the engine lacks that "
        "bound (SGLang 0.5 TTFT: ... 1, 2, 4); must be one of the engine's bounds. Replicas that have the "
        "configured bound (SGLang 0.4: 2.5) keep it.",
    )
    quantile_fallback: bool = why(
        True,
        "Engines without a usable bucket bound get LLMTTFTSlow/LLMTPOTSlow (a p99 check) instead of burn-rate "
        "alerts; false makes generation fail for them instead.",
    )
    fallback_window: str = why("30m", "Window of the fallback p99.")
    fallback_for: str = why("15m", "How long the fallback p99 must stay above the objective.")
    min_requests: int = why(
        100,
        "Requests a model must serve in a burn-rate pair's long window before it can fire (and in the fallback "
        "window): a model at 10 req/h must not page on 2 slow requests.",
    )
    not_evaluable_for: str = why(
        "1h", "How long a model may serve traffic without an SLI before LLMSLINotEvaluable tells you."
    )
    burn_windows: list[BurnWindow] = why(
        _SRE_WINDOWS,
        "Window pairs and burn factors; the defaults page when 2 % of a 30-day budget burns in 1h or 5 % in 6h.",
    )


@dataclass(frozen=True)
class Gpu:
    """GPU health alerts, following the driver's meaning of each signal."""

    xid_critical: list[int] = why(
        [48, 62, 64, 74, 79, 95, 119, 120], "Xid codes that mean the GPU needs a reset, drain or RMA."
    )
    xid_warning: list[int] = why([94], "Xid codes worth a ticket (contained errors); any other Xid is info.")
    error_window: str = why("10m", "Window in which a new Xid or ECC error keeps its alert firing.")
    slowdown_for: str = why("5m", "How long hardware thermal slowdown or power brake must last.")
    temperature_margin_celsius: float = why(5.0, "Alert this many degrees below the GPU's own slowdown temperature.")
    temperature_for: str = why("10m", "How long the GPU must stay near its slowdown temperature.")
    memory_used_ratio: float = why(
        0.99, "Device memory share counted as exhausted; engines reserve ~90 % on purpose, so keep this close to 1."
    )
    memory_for: str = why("10m", "How long memory must stay exhausted.")
    missing_lookback: str = why("6h", "How far back the GPU count is compared when detecting a missing GPU.")
    missing_for: str = why("10m", "How long a GPU must be missing.")
    collector_for: str = why("10m", "How long the GPU collector may fail before alerting.")


@dataclass(frozen=True)
class Dashboards:
    """Dashboard-only windows; thresholds come from the alert sections above."""

    lifecycle_window: str = why(
        "15m",
        "Window of the restart and rollout annotations; keep it longer than your slowest model load, which a "
        "restart spends with no engine series.",
    )


@dataclass(frozen=True)
class Settings:
    """Every setting of the generated rules and dashboards."""

    selectors: Selectors = field(default_factory=Selectors)
    aggregation: Aggregation = field(default_factory=Aggregation)
    output: Output = field(default_factory=Output)
    availability: Availability = field(default_factory=Availability)
    replicas: Replicas = field(default_factory=Replicas)
    queue: Queue = field(default_factory=Queue)
    hpa: Hpa = field(default_factory=Hpa)
    kv_cache: KVCache = field(default_factory=KVCache)
    preemption: Preemption = field(default_factory=Preemption)
    prefix_cache: PrefixCache = field(default_factory=PrefixCache)
    spec_decode: SpecDecode = field(default_factory=SpecDecode)
    rejections: Rejections = field(default_factory=Rejections)
    kv_transfer: KVTransfer = field(default_factory=KVTransfer)
    slo: Slo = field(default_factory=Slo)
    gpu: Gpu = field(default_factory=Gpu)
    dashboards: Dashboards = field(default_factory=Dashboards)


class SettingsError(ValueError):
    """A settings file with one or more problems, one line each."""


def _key(f: dataclasses.Field[Any]) -> str:
    """The YAML key of a field (`for_` is spelled `for`)."""
    return f.name.rstrip("_")


def _check_scalar(value: Any, default: Any, where: str, problems: list[str]) -> Any:
    if isinstance(default, bool) and isinstance(value, bool):
        return value
    if isinstance(value, bool):
        problems.append(f"{where}: booleans are not settings here")
    elif isinstance(default, bool):
        problems.append(f"{where}: must be bool, got {type(value).__name__}")
    elif isinstance(default, float) and isinstance(value, (int, float)):
        return float(value)
    elif isinstance(default, int) and isinstance(value, int):
        return value
    elif isinstance(default, str) and isinstance(value, str):
        if (
            where.endswith(("for", "window", "lookback", "interval", "grace", "warmup", ".long", ".short"))
            and value
            and not is_prometheus_duration(value)
        ):
            problems.append(f'{where}: must be a duration like "5m", got {value!r}')
        return value
    else:
        problems.append(f"{where}: must be {type(default).__name__}, got {type(value).__name__}")
    return default


def _merge(cls: type, base: Any, data: Any, where: str, problems: list[str]) -> Any:
    """base with the values of data applied, type-checked field by field."""
    if not isinstance(data, dict):
        problems.append(f"{where or 'settings'}: must be a mapping")
        return base
    fields = {_key(f): f for f in dataclasses.fields(cls)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        here = f"{where}.{key}" if where else str(key)
        f = fields.get(key)
        if f is None:
            problems.append(f"{here}: unknown setting (known: {', '.join(fields)})")
            continue
        current = getattr(base, f.name)
        if dataclasses.is_dataclass(current):
            changes[f.name] = _merge(type(current), current, value, here, problems)
        elif f.name == "burn_windows":
            changes[f.name] = _burn_windows(value, here, problems)
        elif f.name in ("engine_bounds", "engine_failure_reasons"):
            changes[f.name] = _per_engine(value, current, here, problems)
        elif f.name.endswith("severity") and value not in SEVERITIES:
            problems.append(f"{here}: must be one of {', '.join(SEVERITIES)}, got {value!r}")
        elif isinstance(current, list):
            if not isinstance(value, list):
                problems.append(f"{here}: must be a list")
                continue
            sample = current[0] if current else ""
            changes[f.name] = [_check_scalar(v, sample, f"{here}[{i}]", problems) for i, v in enumerate(value)]
        elif isinstance(current, dict):
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                problems.append(f"{here}: must be a mapping of strings")
                continue
            changes[f.name] = {str(k): v for k, v in value.items()}
        else:
            changes[f.name] = _check_scalar(value, current, here, problems)
    return dataclasses.replace(base, **changes)


def _per_engine(value: Any, default: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    """A mapping engine_type -> list of strings (failure reasons) or -> {sli_seconds: bound}, shaped as default."""
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a mapping of engine types")
        return default
    out: dict[str, Any] = {}
    for engine, item in value.items():
        here = f"{where}.{engine}"
        if engine not in ENGINES:
            problems.append(f"{here}: unknown engine type (known: {', '.join(ENGINES)})")
        elif where.endswith("failure_reasons"):
            if isinstance(item, list) and item and all(isinstance(v, str) for v in item):
                out[engine] = item
            else:
                problems.append(f"{here}: must be a non-empty list of finish_reason values")
        elif isinstance(item, dict) and set(item) <= {"ttft_seconds", "tpot_seconds"}:
            out[engine] = {k: _check_scalar(v, 0.0, f"{here}.{k}", problems) for k, v in item.items()}
        else:
            problems.append(f"{here}: must map ttft_seconds and/or tpot_seconds to a bucket bound")
    return out


def _burn_windows(value: Any, where: str, problems: list[str]) -> list[BurnWindow]:
    if not isinstance(value, list) or not value:
        problems.append(f"{where}: must be a non-empty list")
        return list(_SRE_WINDOWS)
    template = _SRE_WINDOWS[0]
    windows = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        missing = [_key(f) for f in dataclasses.fields(BurnWindow) if not isinstance(item, dict) or _key(f) not in item]
        if missing:
            problems.append(f"{here}: missing {', '.join(missing)}")
            continue
        windows.append(_merge(BurnWindow, template, item, here, problems))
    return windows


def load(path: Path | None) -> Settings:
    """The default settings overridden by a YAML file; SettingsError lists every problem."""
    if path is None:
        return Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise SettingsError(f"{path}: cannot read: not UTF-8 text (byte {error.start})") from None
    try:
        data = yaml.safe_load(text) or {}
        lines = _lines(yaml.compose(text), "")
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise SettingsError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML: {error.problem}") from None
    problems: list[str] = []
    settings = _merge(Settings, Settings(), data, "", problems)
    if problems:
        raise SettingsError("\n".join(f"{path}:{_line(problem, lines)}: {problem}" for problem in problems))
    assert isinstance(settings, Settings)  # _merge rebuilds the dataclass it is given
    return settings


def _lines(node: yaml.Node | None, where: str) -> dict[str, int]:
    """The 1-based line of every setting path in a composed YAML tree ("queue.window", "gpu.xid_critical[1]")."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = f"{where}.{key.value}" if where else str(key.value)
            lines[here] = key.start_mark.line + 1
            lines.update(_lines(value, here))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[f"{where}[{i}]"] = item.start_mark.line + 1
            lines.update(_lines(item, f"{where}[{i}]"))
    return lines


def _line(problem: str, lines: dict[str, int]) -> int:
    """The line of the setting a problem names (its text up to the first ": "), or 1 for the whole file."""
    return lines.get(problem.split(": ", 1)[0], 1)


def _yaml_value(value: Any) -> str:
    if dataclasses.is_dataclass(value):
        return (
            "{"
            + ", ".join(f"{_key(f)}: {_yaml_value(getattr(value, f.name))}" for f in dataclasses.fields(value))
            + "}"
        )
    return yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip().removesuffix("...").strip()


def render_defaults(settings: Settings | None = None) -> str:
    """The settings as a commented YAML file: every key with the reason one would change it."""
    settings = settings or Settings()
    lines = [
        "# llm-exporter settings of the generated rules and dashboards (defaults). Copy, edit what you need, and pass",
        "# the file to `llm-exporter generate all --settings FILE`; keys you leave out keep these values.",
    ]
    for section in dataclasses.fields(settings):
        value = getattr(settings, section.name)
        lines += ["", f"{section.name}:  # {type(value).__doc__}"]
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            lines.append(f"  # {f.metadata['why']}")
            if isinstance(item, list) and item and dataclasses.is_dataclass(item[0]):
                lines.append(f"  {_key(f)}:")
                lines += [f"    - {_yaml_value(entry)}" for entry in item]
            else:
                lines.append(f"  {_key(f)}: {_yaml_value(item)}")
    return "\n".join(lines) + "\n"
