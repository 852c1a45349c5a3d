"""Multi-window, multi-burn-rate alerts on the SLOs (Google SRE workbook): TTFT, TPOT and errors."""

from __future__ import annotations

from exporter.mixin.promql import number
from exporter.mixin.rules.model import MODEL_TEXT, Group, Rule, Runbook, make_alert
from exporter.mixin.rules.recording import slo_name
from exporter.mixin.settings import Settings

_SLO_INTRO = (
    "The burn-rate alerts follow the multi-window, multi-burn-rate method of the Google SRE workbook: each fires "
    "when both a long and a short window burn the error budget faster than a factor (14.4× over 1h and 5m, 6× over "
    "6h and 30m page; 3× over 1d and 2h, 1× over 3d and 6h open a ticket). Labels `long` and `short` name the "
    "windows."
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
            impact="Users see the model \"think\" before it answers.",
            diagnose=(
                "Queue time (`LLMQueuePressure`), prefill time (`llm_request_prefill_time_seconds`), "
                "prompt length, prefix-cache hit ratio."
            ),
            fix=(
                "Capacity (replicas), chunked prefill settings, prefix reuse; or adjust the objective "
                "to what the model can deliver (`slo.ttft_seconds` must be a bucket bound)."
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
                "More requests than the objective allows (default: 0.1 %) finish with an error finish "
                "reason (setting `slo.error_finish_reasons`, default `error`)."
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
        prefix, words, runbook = _SLI_TEXT[sli]
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
                    description=MODEL_TEXT
                    + f" misses its objective ({number(objective * 100)} % of requests {goals[sli]}) "
                    f"at {factor}x the sustainable rate over {w.long} and {w.short}: "
                    "{{ $value | humanizePercentage }} of requests are bad.",
                    runbook=runbook,
                )
            )
    return rules


def groups(settings: Settings) -> list[Group]:
    """The SLO alert group."""
    interval = settings.output.evaluation_interval
    return [Group("llm-exporter-slo", slo(settings), interval, "Service-level objectives", _SLO_INTRO)]
