"""render: families to text exposition 0.0.4, read back the same by prometheus_client's parser."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.family import Family, Sample
from exporter.render import format_value, render


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (-2.0, "-2"), (0.5, "0.5"), (1e20, "1e+20"), (math.nan, "NaN"), (math.inf, "+Inf"),
     (-math.inf, "-Inf"), (1e14, "100000000000000")],
)  # fmt: skip
def test_values_are_spelled_like_prometheus(value: float, text: str) -> None:
    assert format_value(value) == text


def test_help_type_and_samples_in_the_order_given() -> None:
    families = [
        Family("b_total", "counter", "Second.", [Sample("b_total", {"engine": "vllm"}, 2.0)]),
        Family("a", "gauge", "First.", [Sample("a", {}, 0.25)]),
    ]
    assert render(families) == (
        "# HELP b_total Second.\n# TYPE b_total counter\nb_total{engine=\"vllm\"} 2\n"
        "# HELP a First.\n# TYPE a gauge\na 0.25\n"
    )


def test_info_is_a_gauge_unknown_is_untyped_and_empty_families_are_left_out() -> None:
    text = render([
        Family("build_info", "info", "Build.", [Sample("build_info", {"version": "1"}, 1.0)]),
        Family("odd", "unknown", "Odd.", [Sample("odd", {}, 4.0)]),
        Family("nothing", "gauge", "No samples."),
    ])  # fmt: skip
    assert "# TYPE build_info gauge" in text and "# TYPE odd untyped" in text
    assert "nothing" not in text


def test_label_values_and_help_are_escaped_and_read_back_unchanged() -> None:
    awkward = 'a "quoted" C:\\path\nand a second line'
    family = Family("m", "gauge", "Help with \\ and\nnewline.", [Sample("m", {"model": awkward, "b": "x"}, 7.5)])
    text = render([family])
    assert text.count("\n") == 3  # HELP, TYPE, one sample: escaped newlines stay inside their line
    (parsed,) = text_string_to_metric_families(text)
    assert parsed.documentation == "Help with \\ and\nnewline."
    assert [(s.name, s.labels, s.value) for s in parsed.samples] == [("m", {"model": awkward, "b": "x"}, 7.5)]


def test_histogram_samples_round_trip_through_prometheus_client() -> None:
    samples = [Sample("d_seconds_bucket", {"le": le}, count) for le, count in (("0.5", 1.0), ("+Inf", 3.0))]
    samples += [Sample("d_seconds_count", {}, 3.0), Sample("d_seconds_sum", {}, 2.25)]
    (parsed,) = text_string_to_metric_families(render([Family("d_seconds", "histogram", "D.", samples)]))
    assert parsed.type == "histogram"
    assert [(s.name, s.labels, s.value) for s in parsed.samples] == [(s.name, s.labels, s.value) for s in samples]
