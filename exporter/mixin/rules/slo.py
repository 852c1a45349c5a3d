"""Multi-window, multi-burn-rate alerts on the SLOs (Google SRE workbook): TTFT, TPOT and errors."""

from __future__ import annotations

from exporter.mixin.promql import by, model_labels, number, on, sample, selector
from exporter.mixin.rules import engines
from exporter.mixin.rules.model import MODEL_TEXT, Group, Rule, Runbook, make_alert
from exporter.mixin.rules.recording import slo_name
from exporter.mixin.settings import Settings

_SLO_INTRO = (
    "The burn-rate alerts follow the multi-window, multi-burn-rate method of the Google SRE workbook: each fires "
    "when both a long and a short window burn the error budget faster than a factor (14.4× over 1h and 5m, 6× over "
    "6h and 30m page; 3× over 1d and 2h, 1× over 3d and 6h open a ticket). Labels `long` and `short` name the "
    "windows. A model must also have served `slo.min_requests` (100) requests in the long window, so a few slow "
    "requests of a quiet model never page (the workbook's low-traffic advice). Engines whose histogram lacks the "
    "objective's bucket bound are judged at `slo.engine_bounds` or by the p99 alerts LLMTTFTSlow/LLMTPOTSlow; "
    "docs/METRICS.md lists which engine is judged how."
)
# sli -> (alert name infix, budget words, runbook)
_SLI_TEXT = {
    "ttft": (
        "TTFT",
        "time to first token",
        Runbook(
            meaning=(
                "More requests than the objective allows (default: 1 % slower than 2.5s) wait too "
                "long for their first token, at the burn factor of the firing window pair."
            ),
            impact='Users see the model "think" before it answers.',
            diagnose=(
                "Queue time (`LLMQueuePressure`), prefill time (`llm_request_prefill_time_seconds`), "
                "prompt length, prefix-cache hit ratio."
            ),
            fix=(
                "Capacity (replicas), chunked prefill settings, prefix reuse; or adjust the objective "
                "to what the model can deliver (`slo.ttft_seconds` must be a bucket bound; SGLang 0.5 is judged at its "
                "2s bound, `slo.engine_bounds`)."
            ),
        ),
    ),
    "tpot": (
        "TPOT",
        "time per output token",
        Runbook(
            meaning=(
                "More requests than the objective allows (default: 1 % slower than 0.1s per output "
                "token) stream too slowly."
            ),
            impact="Answers trickle out.",
            diagnose=(
                "Batch size (`llm_requests_running`), preemptions, GPU clocks (`GPUThermalSlowdown`, "
                "`GPUPowerBrake`), prefill interfering with decode."
            ),
            fix=(
                "Smaller batches or more replicas; fix GPU throttling; separate prefill from decode "
                "if the engine supports it."
            ),
        ),
    ),
    "errors": (
        "Error",
        "availability",
        Runbook(
            meaning=(
                "More requests than the objective allows (default: 0.1 %) finish with one of the engine's "
                "failure reasons: `error` everywhere, `abort` too on SGLang (its only failure signal); the "
                "engine tables' `failure_reasons` plus `slo.error_finish_reasons`. The client's own invalid "
                "requests (`rejected`, TGI's validation errors) are left out (docs/METRICS.md, error taxonomy)."
            ),
            impact="Users get failures.",
            diagnose=(
                "`model_finish_reason:llm_requests_finished:rate5m` by finish reason; engine logs for "
                "exceptions (out-of-memory, invalid requests, tokenizer errors)."
            ),
            fix="Depends on the error; roll back a recent deployment if the burn started with it.",
        ),
    ),
}


def _count(sli: str) -> str:
    """The counter of an SLI's valid events: requests observed by its histogram, or finished requests."""
    if sli == "errors":
        return sample("llm_requests_finished_total")
    return sample(f"{engines.SLI_HISTOGRAMS[sli][0]}_count")


def _requests(settings: Settings, sli: str, window: str, *matchers: str) -> str:
    """Per model, the SLI's events in window."""
    model = by(model_labels(settings.aggregation))
    return f"sum {model} (increase({selector(_count(sli), settings.selectors.engine, *matchers)}[{window}]))"


def slo(settings: Settings) -> list[Rule]:
    """Multi-window, multi-burn-rate alerts for TTFT, TPOT and errors."""
    slo_s, out = settings.slo, settings.output
    objectives = {"ttft": slo_s.ttft_objective, "tpot": slo_s.tpot_objective, "errors": slo_s.availability_objective}
    goals = {
        "ttft": f"first token within {number(slo_s.ttft_seconds)}s",
        "tpot": f"time per output token within {number(slo_s.tpot_seconds)}s",
        "errors": "finishing without error",
    }
    model = on(model_labels(settings.aggregation))
    rules = []
    for sli, objective in objectives.items():
        prefix, words, runbook = _SLI_TEXT[sli]
        budget = number(1 - objective)
        for w in slo_s.burn_windows:
            factor = number(w.factor)
            threshold = f"({factor} * {budget})"
            # The SRE workbook's low-traffic advice: a few slow requests of a quiet model are no budget burn.
            traffic = f"and {model}\n{_requests(settings, sli, w.long)} >= {slo_s.min_requests}"
            rules.append(
                make_alert(
                    out,
                    f"LLM{prefix}BudgetBurn",
                    f"{slo_name(sli, w.long)} > {threshold}\nand\n{slo_name(sli, w.short)} > {threshold}\n{traffic}",
                    for_=w.for_,
                    severity=w.severity,
                    labels={"long": w.long, "short": w.short},
                    summary=f"A model burns its {words} error budget too fast.",
                    description=MODEL_TEXT
                    + f" misses its objective ({number(objective * 100)} % of requests {goals[sli]}"
                    + _own_bounds(settings, sli)
                    + f") at {factor}x the sustainable rate over {w.long} and {w.short}: "
                    "{{ $value | humanizePercentage }} of requests are bad.",
                    runbook=runbook,
                )
            )
    return rules


def _own_bounds(settings: Settings, sli: str) -> str:
    """For an engine judged at its own bucket bound, that bound, shown only on that engine's alerts."""
    if sli == "errors":
        return ""
    own = engines.resolve(settings, sli).own_bound
    return "".join(
        f'{{{{ if eq $labels.engine_type "{engine}" }}}}, or {number(bound)}s where the replica lacks that '
        "bucket bound{{ end }}"
        for engine, bound in own.items()
    )


# sli -> (the fallback alert, what its description calls the SLI)
FALLBACK_ALERTS = {"ttft": ("LLMTTFTSlow", "first token"), "tpot": ("LLMTPOTSlow", "time per output token")}


def fallback(settings: Settings) -> list[Rule]:
    """p99 checks for the engines whose histogram has no usable bound at the objective (quantile_fallback)."""
    slo_s, rules = settings.slo, []
    model_by, model = model_labels(settings.aggregation), on(model_labels(settings.aggregation))
    for sli, (name, what) in FALLBACK_ALERTS.items():
        r = engines.resolve(settings, sli)
        if not r.fallback:
            continue
        which = engines.engine_matcher(r.fallback)
        bucket = selector(sample(f"{r.histogram}_bucket"), settings.selectors.engine, which)
        p99 = f"histogram_quantile(0.99, sum {by([*model_by, 'le'])} (rate({bucket}[{slo_s.fallback_window}])))"
        expr = (
            f"{p99}\n> {number(r.bound)}\nand {model}\n"
            f"{_requests(settings, sli, slo_s.fallback_window, which)} >= {slo_s.min_requests}"
        )
        rules.append(
            make_alert(
                settings.output,
                name,
                expr,
                for_=slo_s.fallback_for,
                severity="warning",
                summary=f"A model's p99 {what} exceeds its objective (engine without a usable SLO bucket bound).",
                description=MODEL_TEXT + f" has a p99 {what} of {{{{ $value | humanizeDuration }}}} over "
                f"{slo_s.fallback_window}, above the {number(r.bound)}s objective; this engine's histogram has no "
                f"bucket bound at {number(r.bound)}s, so this quantile check replaces the burn-rate alerts.",
                runbook=Runbook(
                    meaning=(
                        f"On engines whose {what} histogram has no bucket bound at the objective "
                        f"({', '.join(r.fallback)} with the defaults), the p99 over `slo.fallback_window` (30m) "
                        "exceeded the objective for 15m, with at least `slo.min_requests` (100) requests. The "
                        "burn-rate alerts cannot count good requests there, so this replaces them."
                    ),
                    impact=_SLI_TEXT[sli][2].impact,
                    diagnose=_SLI_TEXT[sli][2].diagnose,
                    fix=(
                        f"As for LLM{_SLI_TEXT[sli][0]}BudgetBurn. To judge the engine by burn rate instead, set "
                        "`slo.engine_bounds.<engine>` to one of its bucket bounds (docs/METRICS.md)."
                    ),
                ),
            )
        )
    return rules


def not_evaluable(settings: Settings) -> list[Rule]:
    """An info alert per SLI a model with traffic cannot be judged on (the engine lacks its series)."""
    slo_s, a = settings.slo, settings.aggregation
    model = on(model_labels(a))
    # Every engine counts prompt tokens: traffic without them is no traffic at all.
    prompts = selector(sample("llm_prompt_tokens_total"), settings.selectors.engine)
    traffic = f"sum {by(model_labels(a))} (rate({prompts}[{slo_s.not_evaluable_for}])) > 0"
    rules, runbook = [], _not_evaluable_runbook(settings)
    for sli in ("ttft", "tpot", "errors"):
        expr = f"{traffic}\nunless {model}\n{slo_name(sli, slo_s.burn_windows[0].long)}"
        if sli != "errors" and (fallen := engines.resolve(settings, sli).fallback):
            count = selector(_count(sli), settings.selectors.engine, engines.engine_matcher(fallen))
            expr += f"\nunless {model}\nsum {by(model_labels(a))} (rate({count}[{slo_s.not_evaluable_for}])) > 0"
        rules.append(
            make_alert(
                settings.output,
                "LLMSLINotEvaluable",
                expr,
                for_=slo_s.not_evaluable_for,
                severity="info",
                labels={"sli": sli},
                summary="A model serves traffic but one of its SLIs cannot be computed.",
                description=MODEL_TEXT + f" served traffic for {slo_s.not_evaluable_for} but its {sli} SLI has no "
                "data: the engine does not report the histogram/counter it needs, or the SLO bound is not one of "
                "its bucket bounds. Its burn-rate alerts cannot fire.",
                runbook=runbook,
            )
        )
    return rules


def _not_evaluable_runbook(settings: Settings) -> Runbook:
    absent = {sli: engines.resolve(settings, sli).not_evaluable for sli in engines.SLI_HISTOGRAMS}
    return Runbook(
        meaning=(
            "A model served prompt tokens for 1h (`slo.not_evaluable_for`), yet the SLI named by the `sli` label "
            "(ttft, tpot, errors) has no recording and no quantile fallback covers it: its burn-rate alerts cannot "
            "fire. By the engine tables of this release, no TTFT histogram: "
            f"{', '.join(absent['ttft'])}; no TPOT histogram: {', '.join(absent['tpot'])}; and an engine without "
            "a finished-request counter has no errors SLI (docs/METRICS.md)."
        ),
        impact="That objective is not watched for this model. Informational: nothing is broken.",
        diagnose=(
            "docs/METRICS.md lists per engine which series it reports and how each SLI is judged; an engine "
            "version older than its table may lack one; `slo.engine_bounds` may name a bound the running version "
            "does not have."
        ),
        fix=(
            "Upgrade the engine to a version reporting the series, watch the objective another way (a gateway's "
            "latency), or silence this alert for the engine and SLI you accept not to watch."
        ),
    )


def groups(settings: Settings) -> list[Group]:
    """The SLO alert group."""
    interval = settings.output.evaluation_interval
    return [
        Group(
            "llm-exporter-slo",
            slo(settings) + fallback(settings) + not_evaluable(settings),
            interval,
            "Service-level objectives",
            _SLO_INTRO,
        )
    ]
