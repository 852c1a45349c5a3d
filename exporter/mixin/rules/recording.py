"""Recording rules: the dashboards' hot paths and the SLO error ratios, named level:metric:operations.

`Recorded` is the registry the dashboards read them through, by symbol: a panel asks for
`recorded.rate("llm_generation_tokens_total")`, never spells `model:llm_generation_tokens:rate5m`, and a test
proves every recorded series is read by some alert or dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter import durations
from exporter.mixin.promql import alternatives, by, le_matcher, model_labels, on, sample, selector
from exporter.mixin.rules import engines
from exporter.mixin.rules.model import Group, Rule, record
from exporter.mixin.settings import Settings

# Histograms the fleet panels (Overview, Migration) draw quantiles of per engine type.
QUANTILE_HISTOGRAMS = (
    "gen_ai_server_time_to_first_token_seconds",
    "gen_ai_server_time_per_output_token_seconds",
    "gen_ai_server_request_duration_seconds",
    "llm_inter_token_latency_seconds",
)
# Counters the fleet panels show as rates per model and engine type.
RATE_COUNTERS = (
    "llm_generation_tokens_total",
    "llm_prompt_tokens_total",
    "llm_prefix_cache_hits_tokens_total",
    "llm_prefix_cache_queries_tokens_total",
)
# Gauges the fleet panels sum per model.
SUMMED_GAUGES = ("llm_requests_waiting",)

SLO_SLIS = ("ttft", "tpot", "errors")
# States a model's replicas are counted in (model:llm_replicas_<state>:count).
REPLICA_STATES = ("known", "ready", "down", "warming")


def rate_name(level: str, counter: str, window: str) -> str:
    """Recorded name of a counter's rate: `_total` stripped, as the naming practice asks."""
    return f"{level}:{counter.removesuffix('_total')}:rate{window}"


def bucket_name(histogram: str, window: str) -> str:
    """Recorded name of a histogram's bucket rates kept by le."""
    return f"model_le:{histogram}_bucket:rate{window}"


def hit_ratio_name(window: str) -> str:
    """Recorded name of the model's prefix-cache hit ratio over window."""
    return f"model:llm_prefix_cache_hits_per_queries:ratio_rate{window}"


def slo_name(sli: str, window: str) -> str:
    """Recorded name of an SLI's error ratio over window."""
    metric = {"ttft": "llm_ttft_slo_errors", "tpot": "llm_tpot_slo_errors", "errors": "llm_request_errors"}[sli]
    return f"model:{metric}:ratio_rate{window}"


def _rate(settings: Settings, counter: str, window: str, *matchers: str, extra: tuple[str, ...] = ()) -> str:
    labels = [*model_labels(settings.aggregation), *extra]
    return f"sum {by(labels)} (rate({selector(sample(counter), settings.selectors.engine, *matchers)}[{window}]))"


def _hot_paths(settings: Settings) -> list[Rule]:
    window = settings.aggregation.rate_window
    model = model_labels(settings.aggregation)
    recorded = Recorded(settings)
    rules = [record(recorded.rate(c), _rate(settings, c, window)) for c in RATE_COUNTERS]
    rules.append(
        record(
            recorded.finished,
            _rate(settings, "llm_requests_finished_total", window, extra=("finish_reason",)),
        )
    )
    rules += [
        record(recorded.buckets(histogram), _rate(settings, f"{histogram}_bucket", window, extra=("le",)))
        for histogram in QUANTILE_HISTOGRAMS
    ]
    rules += [
        record(recorded.summed(gauge), f"sum {by(model)} ({selector(sample(gauge), settings.selectors.engine)})")
        for gauge in SUMMED_GAUGES
    ]
    rules.append(
        record(
            recorded.kv_usage_max,
            f"max {by(model)} ({selector(sample('llm_kv_cache_usage_ratio'), settings.selectors.engine)})",
        )
    )
    return rules


def _tokens_per_joule(settings: Settings) -> list[Rule]:
    """Inputs of tokens per joule, per exporter: a sidecar polls its engine and the GPUs that engine runs on."""
    window = settings.aggregation.rate_window
    instance = [*settings.aggregation.fleet_labels, *settings.aggregation.instance_labels]
    tokens, watts = (
        f"sum {by(instance)} (rate({selector(counter, matchers)}[{window}]))"
        for counter, matchers in (
            ("llm_generation_tokens_total", settings.selectors.engine),
            ("llm_gpu_energy_joules_total", settings.selectors.gpu),
        )
    )
    tokens_name = rate_name("instance", "llm_generation_tokens_total", window)
    watts_name = rate_name("instance", "llm_gpu_energy_joules_total", window)
    return [
        record(tokens_name, tokens),
        record(watts_name, watts),
        record(Recorded(settings).tokens_per_joule, f"{tokens_name}\n/\n({watts_name} > 0)"),
    ]


def _prefix_cache(settings: Settings) -> list[Rule]:
    """Hit ratio over the collapse window, kept only where there was traffic (0/0 would poison baselines)."""
    window = settings.prefix_cache.window
    queries = _rate(settings, "llm_prefix_cache_queries_tokens_total", window)
    ratio = f"{_rate(settings, 'llm_prefix_cache_hits_tokens_total', window)}\n/\n({queries} > 0)"
    rules = [record(hit_ratio_name(window), ratio)]
    if window != settings.aggregation.rate_window:
        rules.append(record(rate_name("model", "llm_prefix_cache_queries_tokens_total", window), queries))
    return rules


@dataclass(frozen=True)
class Recorded:
    """The recorded series the dashboards read, by symbol, named with the settings' windows and labels."""

    settings: Settings

    def rate(self, counter: str) -> str:
        """Per-model rate of one of RATE_COUNTERS."""
        if counter not in RATE_COUNTERS:
            raise ValueError(f"{counter} has no per-model rate recording (RATE_COUNTERS)")
        return rate_name("model", counter, self.settings.aggregation.rate_window)

    def buckets(self, histogram: str) -> str:
        """Per-model bucket rates of one of QUANTILE_HISTOGRAMS."""
        if histogram not in QUANTILE_HISTOGRAMS:
            raise ValueError(f"{histogram} has no bucket recording (QUANTILE_HISTOGRAMS)")
        return bucket_name(histogram, self.settings.aggregation.rate_window)

    def summed(self, gauge: str) -> str:
        """Per-model sum of one of SUMMED_GAUGES."""
        if gauge not in SUMMED_GAUGES:
            raise ValueError(f"{gauge} has no per-model sum recording (SUMMED_GAUGES)")
        return f"model:{gauge}:sum"

    def replicas(self, state: str) -> str:
        """Per-model count of replicas in one of REPLICA_STATES (known: served within replicas.lookback)."""
        return replicas_name(state)

    @property
    def finished(self) -> str:
        """Per-model rate of finished requests, kept by finish_reason."""
        return f"model_finish_reason:llm_requests_finished:rate{self.settings.aggregation.rate_window}"

    @property
    def kv_usage_max(self) -> str:
        """Per-model peak KV-cache usage."""
        return "model:llm_kv_cache_usage_ratio:max"

    @property
    def tokens_per_joule(self) -> str:
        """Per-exporter output tokens per joule of GPU energy."""
        return f"instance:llm_generation_tokens_per_joule:ratio_rate{self.settings.aggregation.rate_window}"


def exprs(settings: Settings) -> dict[str, str]:
    """Every series the recording rules record with these settings, and the expression recording it."""
    return {rule.record: rule.expr for group in groups(settings) for rule in group.rules}


def names(settings: Settings) -> set[str]:
    """Every series the recording rules record with these settings."""
    return set(exprs(settings))


def slo_windows(settings: Settings) -> list[str]:
    """Every window a burn-rate alert reads, shortest first."""
    windows = {w for bw in settings.slo.burn_windows for w in (bw.long, bw.short)}
    return sorted(windows, key=durations.seconds)


def replicas_name(state: str) -> str:
    """Recorded name of a model's count of replicas in one of REPLICA_STATES."""
    if state not in REPLICA_STATES:
        raise ValueError(f"{state} is not one of {', '.join(REPLICA_STATES)}")
    return f"model:llm_replicas_{state}:count"


def _replicas(settings: Settings) -> list[Rule]:
    """A model's replicas: known (served within the lookback, exporter still discovered), ready, down, warming."""
    a, eng = settings.aggregation, settings.selectors.engine
    exporter = [*a.fleet_labels, *a.instance_labels]
    target = [*exporter, "target"]
    model = by(model_labels(a))
    info, up = selector(sample("llm_engine_info"), eng), selector(sample("llm_exporter_target_up"), eng)
    state = selector(sample("llm_exporter_target_state"), eng, 'state=~"ready|loading"')
    per_target = by([*target, "engine_type", "model"])
    # A down replica no longer exports llm_engine_info, but it stays its model's for the lookback.
    known = (
        f"max {per_target} (max_over_time({info}[{settings.replicas.lookback}]))\n"
        f"and {on(exporter)}\n{selector('up', settings.selectors.exporter)}"
    )
    warmup = settings.prefix_cache.warmup
    return [
        record(replicas_name("known"), f"count {model} (\n{known}\n)"),
        record(
            replicas_name("ready"),
            f"count {model} (\n  max {per_target} ({info})\n  and {on(target)}\n  ({up} == 1)\n)",
        ),
        # Neither ready nor loading: the engine is down, or the exporter cannot be scraped (no state at all).
        # Zero rather than absent when none is, so "0 down" reads as an answer, not as missing data.
        record(
            replicas_name("down"),
            f"count {model} (\n(\n{known}\n)\nunless {on(target)}\n({state} == 1)\n)\nor\n{replicas_name('known')} * 0",
        ),
        # Warming: not up at some point of the warmup, or younger than it (no sample a warmup ago).
        record(
            replicas_name("warming"),
            f"count {model} (\n  max {per_target} ({info})\n  and {on(target)}\n  (\n"
            f"    min_over_time({up}[{warmup}]) == 0\n    or\n    ({up} unless {up} offset {warmup})\n  )\n)\n"
            f"or\n{replicas_name('ready')} * 0",
        ),
    ]


def _slo_expr(settings: Settings, sli: str, window: str) -> str:
    slo = settings.slo
    if sli == "errors":
        finished = "llm_requests_finished_total"
        # One branch per distinct set of failure reasons in the engine tables; the settings' set covers the rest.
        groups = engines.failure_reasons(settings)
        special = tuple(e for members in groups.values() for e in members)
        branches = [
            _rate(
                settings,
                finished,
                window,
                engines.engine_matcher(members or special, negate=not members),
                f'finish_reason=~"{alternatives(reasons)}"',
            )
            for reasons, members in groups.items()
        ]
        total = _rate(settings, finished, window)
        valid = _rate(settings, finished, window, f'finish_reason!~"{alternatives(slo.client_finish_reasons)}"')
        # Error series may be created on the first error only: count models with traffic and no errors as 0.
        bad = "\n  or\n  ".join([*branches, f"{total} * 0"])
        return f"(\n  {bad}\n)\n/\n({valid} > 0)"
    r = engines.resolve(settings, sli)
    bucket = f"{r.histogram}_bucket"

    def rate(*matchers: str) -> str:
        return f"rate({selector(sample(bucket), settings.selectors.engine, *matchers)}[{window}])"

    model = by(model_labels(settings.aggregation))
    # Per replica the configured bound wins where its version has it (SGLang 0.4: 2.5), else the engine's own.
    good = [
        f"sum {model} ("
        + " or ignoring (le) ".join(rate(f'engine_type="{e}"', le_matcher(b)) for b in (r.bound, own))
        + ")"
        for e, own in r.own_bound.items()
    ]
    good.append(f"sum {model} ({rate(engines.engine_matcher(r.special, negate=True), le_matcher(r.bound))})")
    total = _rate(settings, f"{r.histogram}_count", window)
    joined = "\n    or\n    ".join(good)
    return f"1 - (\n  (\n    {joined}\n  )\n  /\n  ({total} > 0)\n)"


def groups(settings: Settings) -> list[Group]:
    """The recording-rule groups."""
    interval = settings.output.evaluation_interval
    slo_rules = [
        record(slo_name(sli, w), _slo_expr(settings, sli, w)) for sli in SLO_SLIS for w in slo_windows(settings)
    ]
    return [
        Group("llm-exporter-recording", _hot_paths(settings) + _prefix_cache(settings), interval),
        Group("llm-exporter-gpu-recording", _tokens_per_joule(settings), interval),
        Group("llm-exporter-slo-recording", slo_rules, interval),
        Group("llm-exporter-replicas-recording", _replicas(settings), interval),
    ]
