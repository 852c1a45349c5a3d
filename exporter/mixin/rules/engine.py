"""Alerts on the engines: availability, saturation, prefix-cache collapse and SLO burn rates."""

from __future__ import annotations

from exporter.mixin.promql import by, model_labels, number, on, sample, selector, target_labels
from exporter.mixin.rules.model import Group, Rule, make_alert
from exporter.mixin.rules.recording import hit_ratio_name, rate_name, slo_name
from exporter.mixin.settings import Settings

_WHERE = "{{ $labels.target }} ({{ $labels.engine_type }}, model {{ $labels.model }}) on {{ $labels.instance }}"
_MODEL = "Model {{ $labels.model }} ({{ $labels.engine_type }})"


def _engine(settings: Settings, name: str, *matchers: str) -> str:
    return selector(sample(name), settings.selectors.engine, *matchers)


def _per_target(settings: Settings, aggregation: str, inner: str) -> str:
    return f"{aggregation} {by(target_labels(settings.aggregation))} ({inner})"


def availability(settings: Settings) -> list[Rule]:
    """Exporter down, exporter metrics absent, engine down, engine stalled."""
    s, out = settings.availability, settings.output
    target = on(target_labels(settings.aggregation))
    waiting = _per_target(settings, "sum", _engine(settings, "llm_requests_waiting"))
    running = _per_target(settings, "sum", _engine(settings, "llm_requests_running"))
    tokens = _per_target(
        settings, "sum", f"rate({_engine(settings, 'llm_generation_tokens_total')}[{s.stalled_window}])"
    )
    return [
        make_alert(
            out,
            "LLMExporterDown",
            f"{selector('up', settings.selectors.exporter)} == 0",
            for_=s.exporter_down_for,
            severity="critical",
            summary="Prometheus cannot scrape an llm-exporter.",
            description="The llm-exporter at {{ $labels.instance }} (job {{ $labels.job }}) has not answered "
            "scrapes for " + s.exporter_down_for + "; its engines and GPUs are unobserved.",
        ),
        make_alert(
            out,
            "LLMExporterMetricsAbsent",
            f"absent({_engine(settings, 'llm_exporter_target_up')})",
            for_="15m",
            severity="warning",
            summary="No llm-exporter target metrics reach Prometheus.",
            description="No series llm_exporter_target_up matches "
            + settings.selectors.engine
            + " for 15m: the scrape job or the rule selectors are misconfigured.",
        ),
        make_alert(
            out,
            "LLMEngineDown",
            f"{_engine(settings, 'llm_exporter_target_up')} == 0",
            for_=s.engine_down_for,
            severity="critical",
            summary="An inference engine's /metrics cannot be read.",
            description="The exporter on {{ $labels.instance }} has failed to poll target {{ $labels.target }} "
            "({{ $labels.engine_type }}) for " + s.engine_down_for + ": the engine is down, restarting or unreachable.",
        ),
        make_alert(
            out,
            "LLMEngineStalled",
            f"({waiting}\n+\n{running}\n> 0)\nand {target}\n({tokens}\n== 0)",
            for_=s.stalled_for,
            severity="critical",
            summary="An inference engine holds requests but generates no tokens.",
            description=_WHERE
            + " has {{ $value }} requests waiting or running and generated no token in "
            + s.stalled_window
            + ": the engine is wedged.",
        ),
    ]


def saturation(settings: Settings) -> list[Rule]:
    """Queue pressure, KV saturation with consequences, preemption storm."""
    q, kv, p, out = settings.queue, settings.kv_cache, settings.preemption, settings.output
    target = on(target_labels(settings.aggregation))
    t_labels = target_labels(settings.aggregation)
    waiting_avg = _per_target(
        settings, "sum", f"avg_over_time({_engine(settings, 'llm_requests_waiting')}[{q.window}])"
    )
    queue_bucket = f"rate({_engine(settings, 'llm_request_queue_time_seconds_bucket')}[{q.window}])"
    queue_time = f"histogram_quantile({number(q.queue_time_quantile)}, sum {by([*t_labels, 'le'])} ({queue_bucket}))"
    # Engines without a queue-time histogram (llama.cpp) are judged on the waiting requests alone.
    no_queue_time = (
        f"{_per_target(settings, 'sum', _engine(settings, 'llm_requests_waiting'))}\n"
        f"  unless {target}\n"
        f"  {_per_target(settings, 'sum', _engine(settings, 'llm_request_queue_time_seconds_count'))}"
    )
    waiting_now = _per_target(settings, "sum", _engine(settings, "llm_requests_waiting"))
    kv_peak = _per_target(
        settings, "max", f"max_over_time({_engine(settings, 'llm_kv_cache_usage_ratio')}[{kv.window}])"
    )
    kv_preempted = _per_target(settings, "sum", f"increase({_engine(settings, 'llm_preemptions_total')}[{kv.window}])")
    preemptions = _per_target(settings, "sum", f"rate({_engine(settings, 'llm_preemptions_total')}[{p.window}])")
    finished = _per_target(settings, "sum", f"rate({_engine(settings, 'llm_requests_finished_total')}[{p.window}])")
    quantile = f"p{round(q.queue_time_quantile * 100)}"
    return [
        make_alert(
            out,
            "LLMQueuePressure",
            f"({waiting_avg}\n> {number(q.waiting)})\nand {target}\n(\n  {queue_time}\n  > "
            f"{number(q.queue_time_seconds)}\n  or {target}\n  {no_queue_time}\n)",
            for_=q.for_,
            severity="warning",
            summary="Requests pile up in an inference engine's queue.",
            description=_WHERE
            + " had {{ $value | humanize }} requests waiting on average over "
            + q.window
            + f" (threshold {number(q.waiting)}), with a {quantile} queue time above "
            + f"{number(q.queue_time_seconds)}s where the engine reports one: add replicas or "
            "reduce load.",
        ),
        make_alert(
            out,
            "LLMKVCacheSaturated",
            f"({kv_peak}\n> {number(kv.usage_ratio)})\nand {target}\n(\n  {waiting_now} > 0\n  or {target}\n"
            f"  {kv_preempted} > 0\n)",
            for_=kv.for_,
            severity="warning",
            summary="An inference engine's KV cache is full and requests suffer for it.",
            description=_WHERE + " peaked at {{ $value | humanizePercentage }} KV-cache usage while requests "
            "waited or were preempted: capacity, not just high use.",
        ),
        make_alert(
            out,
            "LLMPreemptionStorm",
            f"({preemptions}\n> {number(p.min_rate)})\nand {target}\n({preemptions}\n/\n{finished}\n"
            f"> {number(p.ratio)})",
            for_=p.for_,
            severity="warning",
            summary="An inference engine preempts a large share of its requests.",
            description=_WHERE
            + " preempts {{ $value | humanize }} requests per second, more than "
            + f"{number(p.ratio)} per finished request over {p.window}: the KV cache is "
            "oversubscribed and work is recomputed.",
        ),
    ]


def prefix_cache(settings: Settings) -> list[Rule]:
    """Prefix-cache hit ratio collapsing against the same model's own baseline, with a traffic guard."""
    pc, out = settings.prefix_cache, settings.output
    ratio = hit_ratio_name(pc.window)
    baseline = f"avg_over_time({ratio}[{pc.baseline_window}] offset {pc.window})"
    traffic = rate_name("model", "llm_prefix_cache_queries_tokens_total", pc.window)
    model = on(model_labels(settings.aggregation))
    expr = (
        f"{ratio}\n< {number(pc.drop_factor)} * {baseline}\n"
        f"and {model}\n{baseline} > {number(pc.min_baseline_ratio)}\n"
        f"and {model}\n{traffic} > {number(pc.min_query_tokens_per_second)}"
    )
    return [
        make_alert(
            out,
            "LLMPrefixCacheHitCollapse",
            expr,
            for_=pc.for_,
            severity="warning",
            summary="A model's prefix-cache hit ratio collapsed against its own baseline.",
            description=_MODEL + " hits the prefix cache for {{ $value | humanizePercentage }} of prompt "
            f"tokens over {pc.window}, under {number(pc.drop_factor)}x its "
            f"{pc.baseline_window} average: routing lost affinity, the cache is evicted too "
            "early, or prompts changed.",
        )
    ]


_SLI_TEXT = {
    "ttft": ("TTFT", "time to first token"),
    "tpot": ("TPOT", "time per output token"),
    "errors": ("Error", "availability"),
}


def slo(settings: Settings) -> list[Rule]:
    """Multi-window, multi-burn-rate alerts for TTFT, TPOT and errors."""
    slo_s, out = settings.slo, settings.output
    objectives = {"ttft": slo_s.ttft_objective, "tpot": slo_s.tpot_objective, "errors": slo_s.availability_objective}
    goals = {
        "ttft": f"first token within {number(slo_s.ttft_seconds)}s",
        "tpot": f"time per output token within {number(slo_s.tpot_seconds)}s",
        "errors": "finishing without error",
    }
    rules = []
    for sli, objective in objectives.items():
        prefix, words = _SLI_TEXT[sli]
        budget = number(1 - objective)
        for w in slo_s.burn_windows:
            factor = number(w.factor)
            threshold = f"({factor} * {budget})"
            rules.append(
                make_alert(
                    out,
                    f"LLM{prefix}BudgetBurn",
                    f"{slo_name(sli, w.long)} > {threshold}\nand\n{slo_name(sli, w.short)} > {threshold}",
                    for_=w.for_,
                    severity=w.severity,
                    labels={"long": w.long, "short": w.short},
                    summary=f"A model burns its {words} error budget too fast.",
                    description=_MODEL
                    + f" misses its objective ({number(objective * 100)} % of requests {goals[sli]}) "
                    f"at {factor}x the sustainable rate over {w.long} and {w.short}: "
                    "{{ $value | humanizePercentage }} of requests are bad.",
                )
            )
    return rules


def groups(settings: Settings) -> list[Group]:
    """The engine alert groups."""
    interval = settings.output.evaluation_interval
    return [
        Group("llm-exporter-availability", availability(settings), interval),
        Group("llm-exporter-saturation", saturation(settings) + prefix_cache(settings), interval),
        Group("llm-exporter-slo", slo(settings), interval),
    ]
