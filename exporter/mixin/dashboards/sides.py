"""The two sides of the Migration dashboard and their figures over the dashboard's time range.

A side is every replica whose engine info matches its engine type, target (the pod, where targets are named
after pods) and version patterns, for the selected job and models. Figures are instant queries over `$__range`:
quantiles from bucket increases, rates from counter increases over the range's seconds, and every numerator
and denominator scoped by model and side.
"""

from __future__ import annotations

from grafanalib import core as g

from exporter.mixin.dashboards.queries import RANGE, ratio, selector
from exporter.mixin.dashboards.variables import label, textbox

SIDES = ("A", "B")
# The move the guide is about; any engine type, target or version pattern can be chosen instead.
DEFAULT_ENGINES = {"A": "tgi", "B": "vllm"}
SHARED = {"job": "$job", "model": "$model"}
FINISHED = "llm_requests_finished_total"
REPLICAS = "llm_exporter_target_up"


def variables(sample: str) -> list[g.Template]:
    """Per side: the engine type (a list of those `sample` carries), and target and version patterns."""
    found: list[g.Template] = []
    for side in SIDES:
        low = side.lower()
        found += [
            label(f"engine_{low}", f"{side}: engine", sample, {"job": "$job"}, multi=False, label_name="engine_type",
                  default=DEFAULT_ENGINES[side]),
            textbox(f"target_{low}", f"{side}: target (regex)", ".*"),
            textbox(f"version_{low}", f"{side}: version (regex)", ".*"),
        ]  # fmt: skip
    return found


def _info(side: str) -> str:
    low = side.lower()
    scope = {**SHARED, "engine_type": f"$engine_{low}", "target": f"$target_{low}", "version": f"$version_{low}"}
    return selector("llm_engine_info", scope)


def chosen(side: str) -> str:
    """One series per replica (job, instance, target) of the side that served the selected models in the range."""
    return f"group by (job, instance, target) (max_over_time({_info(side)}[{RANGE}]))"


def increase(sample: str, side: str, window: str = RANGE, function: str = "increase", **matchers: str) -> str:
    """A counter sample's increase (or rate) over the window, on the side's replicas only."""
    counted = f"{function}({selector(sample, SHARED, **matchers)}[{window}])"
    return f"{counted} and on (job, instance, target) {chosen(side)}"


def total(sample: str, side: str, **matchers: str) -> str:
    """The side's summed increase of a counter sample over the range."""
    return f"sum({increase(sample, side, **matchers)})"


def quantile(q: float, family: str, side: str) -> str:
    """Quantile q of a histogram over the range, from the side's bucket increases."""
    return f"histogram_quantile({q}, sum by (le) ({increase(f'{family}_bucket', side)}))"


def mean(family: str, side: str) -> str:
    """A histogram's mean over the range: increase of _sum over increase of _count."""
    return ratio(total(f"{family}_sum", side), total(f"{family}_count", side))


def per_second(side: str, *samples: str) -> str:
    """The side's summed counter increases over the range, per second of the range."""
    return f"({' + '.join(total(sample, side) for sample in samples)}) / ($__range_s)"


def error_ratio(kind: str, side: str) -> str:
    """Finished requests of one finish_reason over all finished requests of the side in the range."""
    return ratio(total(FINISHED, side, finish_reason=kind), total(FINISHED, side))


def replicas(side: str) -> str:
    """The side's replicas polled successfully, averaged over the range (replica-hours = this × range hours)."""
    up = selector(REPLICAS, {"job": "$job"})
    return f"avg_over_time(count(({up} == 1) and on (job, instance, target) {_info(side)})[{RANGE}:])"


def cost(side: str) -> str:
    """USD per 1M output tokens: price × replica-hours of the range over the output tokens of the range / 1e6."""
    price, tokens = f"$price_{side.lower()}", total("llm_generation_tokens_total", side)
    return f"({price} * {replicas(side)} * $__range_s / 3600) / (({tokens} / 1e6) > 0)"


def gpu_sm_active(side: str) -> str:
    """Mean SM-active ratio over the range of the GPUs polled by the side's exporters (sidecars)."""
    gpus = selector("llm_gpu_sm_active_ratio", {"job": "$job"})
    return f"avg(avg_over_time({gpus}[{RANGE}]) and on (job, instance) {chosen(side)})"


def tokens_per_joule(side: str) -> str:
    """Output tokens of the range over the energy its GPUs drew in the range."""
    energy = selector("llm_gpu_energy_joules_total", {"job": "$job"})
    joules = f"sum(increase({energy}[{RANGE}]) and on (job, instance) {chosen(side)})"
    return ratio(total("llm_generation_tokens_total", side), joules)
