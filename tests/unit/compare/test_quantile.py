"""histogram_quantile as PromQL defines it, on bucket layouts the engines really use."""

from __future__ import annotations

import math

from exporter.compare.quantile import histogram_quantile

INF = math.inf
# vLLM's TPOT bounds (0.01, 0.025, 0.05, 0.075, 0.1, ...): 10 requests under 10 ms, 30 under 25 ms, 40 in all.
VLLM_TPOT = [(0.01, 10.0), (0.025, 30.0), (0.05, 38.0), (0.075, 40.0), (0.1, 40.0), (INF, 40.0)]


def test_interpolates_linearly_inside_the_bucket_the_rank_falls_in() -> None:
    # rank 20 of 40: 10 below 0.01, so 10 of the 20 in (0.01, 0.025] -> half way.
    estimate = histogram_quantile(0.5, VLLM_TPOT)
    assert estimate is not None
    assert math.isclose(estimate.value, 0.0175)
    assert (estimate.lower, estimate.upper) == (0.01, 0.025)


def test_the_first_bucket_starts_at_zero() -> None:
    estimate = histogram_quantile(0.1, VLLM_TPOT)
    assert estimate is not None and (estimate.lower, estimate.upper) == (0.0, 0.01)
    assert math.isclose(estimate.value, 0.004)


def test_a_rank_in_the_inf_bucket_gives_the_highest_finite_bound() -> None:
    buckets = [(0.1, 1.0), (0.2, 2.0), (INF, 10.0)]  # SGLang's TTFT layout starts at 0.1
    estimate = histogram_quantile(0.99, buckets)
    assert estimate is not None and estimate.value == 0.2 and math.isinf(estimate.upper)


def test_a_zero_bound_bucket_answers_its_bound() -> None:
    # SGLang's queue-time histogram has an le="0.0" bucket: requests scheduled at once.
    buckets = [(0.0, 8.0), (0.001, 9.0), (INF, 10.0)]
    estimate = histogram_quantile(0.5, buckets)
    assert estimate is not None and estimate.value == 0.0


def test_no_observation_or_no_inf_bucket_gives_none() -> None:
    assert histogram_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None
    assert histogram_quantile(0.5, [(0.1, 3.0), (0.2, 4.0)]) is None


def test_counts_read_out_of_order_are_made_monotonic_first() -> None:
    # A bucket lower than the one before it (a torn read) is raised to it, as Prometheus does.
    estimate = histogram_quantile(0.5, [(0.1, 6.0), (0.2, 5.0), (INF, 10.0)])
    assert estimate is not None and math.isclose(estimate.value, 5.0 / 6.0 * 0.1)
