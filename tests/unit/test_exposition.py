"""exposition: families encoded as prometheus_client encodes them, read back the same by its parsers."""

from __future__ import annotations

import math

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from exporter.exposition import FamiliesCollector, TextEncoder, accepts_gzip, encoder_for, render
from exporter.family import Family, Sample
from tests.support.fixture_set import FIXTURES, normalized


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3.0"), (-2.0, "-2.0"), (0.5, "0.5"), (1e20, "1e+20"), (math.nan, "NaN"), (math.inf, "+Inf"),
     (-math.inf, "-Inf")],
)  # fmt: skip
def test_values_are_spelled_like_prometheus_client(value: float, text: str) -> None:
    assert render([Family("v", "gauge", "V.", [Sample("v", {}, value)])]).endswith(f"\nv {text}\n")


def test_help_type_and_samples_in_the_order_given_labels_sorted() -> None:
    families = [
        Family("b_total", "counter", "Second.", [Sample("b_total", {"engine": "vllm", "a": "1"}, 2.0)]),
        Family("a", "gauge", "First.", [Sample("a", {}, 0.25)]),
    ]
    assert render(families) == (
        '# HELP b_total Second.\n# TYPE b_total counter\nb_total{a="1",engine="vllm"} 2.0\n'
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
    assert [(s.name, s.labels, s.value) for s in parsed.samples] == [("m", {"b": "x", "model": awkward}, 7.5)]


def test_histograms_counters_and_info_round_trip_through_openmetrics() -> None:
    samples = [Sample("d_seconds_bucket", {"le": le}, count) for le, count in (("0.5", 1.0), ("+Inf", 3.0))]
    samples += [Sample("d_seconds_count", {}, 3.0), Sample("d_seconds_sum", {}, 2.25)]
    families = [
        Family("d_seconds", "histogram", "D.", samples),
        Family("c_total", "counter", "C.", [Sample("c_total", {}, 5.0)]),
        Family("e_info", "info", "E.", [Sample("e_info", {"version": "1"}, 1.0)]),
    ]
    encoder, content_type = encoder_for("application/openmetrics-text;version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    parsed = {f.name: f for f in parse_openmetrics(encoder(FamiliesCollector(families)).decode())}
    assert parsed["d_seconds"].type == "histogram" and len(parsed["d_seconds"].samples) == 4
    assert parsed["c"].type == "counter" and parsed["c"].samples[0].value == 5.0
    assert parsed["e"].type == "info" and parsed["e"].samples[0].labels == {"version": "1"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [("gzip", True), ("gzip, deflate, br", True), ("deflate", False), ("gzip;q=0", False), ("GZIP;q=0.5", True),
     (None, False), ("", False)],
)  # fmt: skip
def test_accept_encoding(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_the_text_encoder_writes_prometheus_client_bytes_for_every_fixture_poll_after_poll() -> None:
    encoder = TextEncoder()
    for path in FIXTURES:
        _, result = normalized(path)
        if result is None:
            continue
        for step in (0.0, 1.5, 7.0):  # the same series with new values: what the remembered prefixes serve
            for family in result.families:
                for sample in family.samples:
                    sample.value += step
            collector = FamiliesCollector(result.families)
            assert encoder(collector) == generate_latest(collector), path.name


def test_the_text_encoder_follows_changed_label_values_and_escapes_them() -> None:
    encoder = TextEncoder()
    first = [Family("m", "gauge", "M.", [Sample("m", {"model": "a", "b": "x"}, 1.0)])]
    awkward = [Family("m", "gauge", "M.", [Sample("m", {"model": 'q"\\\n', "b": "x"}, math.nan)])]
    for families in (first, awkward, first):
        collector = FamiliesCollector(families)
        assert encoder(collector) == generate_latest(collector)
