"""The exposition parser: agrees with prometheus_client on real captures, and names the line it rejects."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.parse import ParseError, parse
from tests.support.fixture_set import FIXTURES


def _samples_ours(text: str) -> list[tuple]:
    out = []
    for family in parse(text):
        for s in family.samples:
            # prometheus_client appends _total to counter samples that lack it (TGI, Triton); compare on that form.
            name = (
                s.name + "_total"
                if family.type == "counter" and not s.name.endswith(("_total", "_created"))
                else s.name
            )
            out.append((name, tuple(sorted(s.labels.items())), "nan" if math.isnan(s.value) else s.value))
    return sorted(out)


def _samples_stock(text: str) -> list[tuple]:
    return sorted(
        (s.name, tuple(sorted(s.labels.items())), "nan" if math.isnan(s.value) else s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    )


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_agrees_with_prometheus_client(path):
    text = path.read_text(encoding="utf-8")
    assert _samples_ours(text) == _samples_stock(text)


def test_families_types_and_help():
    families = parse(
        '# HELP a_total Things.\n# TYPE a_total counter\na_total{x="1"} 2\n'
        '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n'
    )
    assert [(f.name, f.type, f.help, len(f.samples)) for f in families] == [
        ("a_total", "counter", "Things.", 1),
        ("h", "histogram", "", 4),
    ]


def test_label_escapes_and_special_values():
    (family,) = parse('m{a="x\\"y",b="line\\nbreak",c="back\\\\slash",d="}"} -Inf\n')
    assert family.samples[0].labels == {"a": 'x"y', "b": "line\nbreak", "c": "back\\slash", "d": "}"}
    assert family.samples[0].value == -math.inf


def test_timestamps_are_accepted():
    (family,) = parse("m 1 1700000000000\n")
    assert family.samples[0].value == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a 1\nb 2", "truncated body: the last line has no newline"),
        ("a 1\n<html>\n", "line 2: not a sample line: '<html>'"),
        ('a{x="1" 2\n', "line 1: not a sample line"),
        ("a one\n", "line 1: value 'one' is not a number"),
        ('a{x="1"} 1\na{x="1"} 2\n', 'line 2: duplicate series a{x="1"}'),
        ('a{x="1",x="2"} 1\n', "line 1: label 'x' appears twice"),
        ("# TYPE a bogus\n", "line 1: unknown metric type 'bogus' for a"),
        # OpenMetrics exemplars and timestamps are read, and held to the same rules.
        ('m 1 # {trace_id="abc} 0.5\n', "line 1: not a sample line"),
        ('m 1 # {trace_id="a",trace_id="b"} 0.5\n', "line 1: label 'trace_id' appears twice"),
        ('m 1 # {trace_id="abc"} half\n', "line 1: value 'half' is not a number"),
        ("m 1 17e\n", "line 1: not a sample line"),
    ],
)
def test_errors_name_the_line(text, message):
    with pytest.raises(ParseError) as error:
        parse(text)
    assert str(error.value).startswith(message)
