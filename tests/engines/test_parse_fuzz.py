"""Our exposition parser against prometheus_client's on generated expositions.

Well-formed documents: both accept them and read the same samples. Mutated ones (a character inserted, deleted
or replaced, a line repeated, the last newline cut): whatever prometheus_client rejects we reject too, with a
ParseError, and where both accept they still agree. We may reject more (duplicate series, a body cut mid-line,
an unknown type, exemplars, float timestamps): those are deliberate. bench/fuzz_parse.py runs the same
comparison on 100 000 inputs and counts each outcome.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from exporter.parse import ParseError, parse

# No "_" in family names: a suffixed sample name (x_bucket) can then never be another family's name.
NAMES = st.builds(str.__add__, st.sampled_from("abcXYZ:"), st.text("abcxyz019:", max_size=5))
LABEL_NAMES = st.builds(str.__add__, st.sampled_from("abcdXYZ"), st.text("abcxyz019_", max_size=4))
# Label values written as they appear on the wire: escapes, and the characters a naive splitter trips on.
VALUE_PIECES = ("a", "Z", "0", " ", "{", "}", ",", "=", "#", "é", "\t", "\\\\", '\\"', "\\n", "\\q", "'")
LABEL_VALUES = st.lists(st.sampled_from(VALUE_PIECES), max_size=6).map("".join)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["+Inf", "-Inf", "NaN", "nan", "inf", "Infinity", "1e3", "-0", ".5", "5.", "+5", "1E-3"]),
)
TIMESTAMPS = st.one_of(st.none(), st.integers(-(10**13), 10**13).map(str))
SEPARATORS = st.sampled_from([" ", " ", " ", "\t", "  ", " \t"])
LIST_SEPARATORS = st.sampled_from([",", ",", ", ", " ,", "\t,"])
# Values float() reads but the format does not (or the other way round), and ones only one reader might take.
ODD_VALUES = ("1_000", "0x10", "1e", "--1", "\u0661", "inf_", "1.0.0", "0b1", "1,5", "+-1", "nan1", "1e1_0", "\u00bd")
MUTATION_CHARS = ("{", "}", '"', ",", "=", " ", "\t", "\\", "#", "_", "x", "1", ".", "e", "-", "+", ":", "é", "\r")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped", None)


@st.composite
def sample_line(draw: st.DrawFn, name: str, labels: dict[str, str]) -> str:
    """One sample line for `name` with wire-form label values, in one of the spacings both parsers allow."""
    text = name
    if labels or draw(st.booleans()):
        pairs = [f'{key}{draw(st.sampled_from(["=", "=", " = "]))}"{value}"' for key, value in labels.items()]
        body = draw(LIST_SEPARATORS).join(pairs)
        if pairs and draw(st.integers(0, 5)) == 0:
            body += ","
        text += "{" + draw(st.sampled_from(["", "", " "])) + body + "}"
    text += draw(SEPARATORS) + draw(NUMBERS)
    timestamp = draw(TIMESTAMPS)
    return text + (draw(SEPARATORS) + timestamp if timestamp else "")


@st.composite
def family_lines(draw: st.DrawFn, name: str) -> list[str]:
    """HELP/TYPE headers and samples of one family, each series once."""
    kind = draw(st.sampled_from(TYPES))
    lines = []
    if draw(st.booleans()):
        lines.append(f"# HELP {name} " + draw(st.lists(st.sampled_from(VALUE_PIECES), max_size=5).map("".join)))
    if kind is not None:
        lines.append(f"# TYPE {name} {kind}")
    label_sets = draw(
        st.lists(
            st.dictionaries(LABEL_NAMES, LABEL_VALUES, max_size=3),
            min_size=1,
            max_size=3,
            unique_by=lambda labels: tuple(sorted(labels.items())),
        )
    )
    if kind == "histogram":
        for labels in label_sets:
            bounds = draw(st.lists(st.sampled_from(["0.1", "1", "2.5", "10", "1e3"]), unique=True, max_size=3))
            for bound in [*bounds, "+Inf"]:
                lines.append(draw(sample_line(f"{name}_bucket", {**labels, "le": bound})))
            lines.append(draw(sample_line(f"{name}_sum", labels)))
            lines.append(draw(sample_line(f"{name}_count", labels)))
    else:
        suffix = draw(st.sampled_from(["", "_total"])) if kind == "counter" else ""
        lines.extend(draw(sample_line(name + suffix, labels)) for labels in label_sets)
    return lines


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A well-formed exposition: unique families, blank lines and comments between them."""
    lines: list[str] = []
    for name in draw(st.lists(NAMES, min_size=1, max_size=4, unique=True)):
        lines.extend(draw(family_lines(name)))
        lines.extend(draw(st.sampled_from([[], [], [""], ["# a comment"], ["#"], ["   "]])))
    return "\n".join(lines) + "\n"


def mutate(text: str, rng: random.Random) -> str:
    """The exposition with one to three small corruptions chosen by rng."""
    lines = text.split("\n")[:-1]
    for _ in range(rng.randint(1, 3)):
        index = rng.randrange(len(lines))
        line = lines[index]
        position = rng.randint(0, len(line))
        operation = rng.choice(("insert", "delete", "replace", "repeat", "value", "reserved"))
        char = rng.choice(MUTATION_CHARS)
        if operation == "insert":
            lines[index] = line[:position] + char + line[position:]
        elif operation == "delete":
            lines[index] = line[:position] + line[position + 1 :]
        elif operation == "replace":
            lines[index] = line[:position] + char + line[position + 1 :]
        elif operation == "value":  # the last token: the value, or the timestamp
            lines[index] = line.rpartition(" ")[0] + " " + rng.choice(ODD_VALUES)
        elif operation == "reserved":
            lines[index] = line.replace("{", "{__", 1)
        else:
            lines.insert(index, line)
    return "\n".join(lines) + ("" if rng.randint(0, 20) == 0 else "\n")


def _key(name: str, labels: dict[str, str], value: float) -> tuple:
    # prometheus_client appends _total to some counter samples, by its own grouping; compare names without it.
    return name.removesuffix("_total"), tuple(sorted(labels.items())), "nan" if math.isnan(value) else value


def ours(text: str) -> list[tuple]:
    """Our samples, comparable with stock()."""
    return sorted(_key(s.name, s.labels, s.value) for family in parse(text) for s in family.samples)


def stock(text: str) -> list[tuple]:
    """prometheus_client's samples, comparable with ours()."""
    return sorted(
        _key(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples
    )


@dataclass
class Outcome:
    """How the two parsers treated one input."""

    kind: str  # both_accept | both_reject | ours_stricter
    detail: str = ""  # our error message, for ours_stricter


class DisagreementError(AssertionError):
    """The parsers read an input differently, or prometheus_client rejects what we accept."""


def compare(text: str) -> Outcome:
    """Parse with both; raise DisagreementError where ours is not at least as strict and otherwise equal."""
    try:
        expected = stock(text)
    except Exception as error:  # noqa: BLE001 - prometheus_client raises ValueError, IndexError, TypeError ...
        try:
            parse(text)
        except ParseError:
            return Outcome("both_reject")
        raise DisagreementError(f"prometheus_client rejects ({error!r}) what we accept: {text!r}") from None
    try:
        got = ours(text)
    except ParseError as error:
        return Outcome("ours_stricter", error.message)
    if got != expected:
        raise DisagreementError(f"samples differ for {text!r}:\nours  {got}\nstock {expected}")
    return Outcome("both_accept")


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(documents())
def test_well_formed_documents_agree(text):
    assert compare(text).kind == "both_accept"


@FUZZ
@given(documents(), st.randoms(use_true_random=False))
def test_mutated_documents_never_accepted_when_stock_rejects(text, rng):
    compare(mutate(text, rng))


# Tokens from which values and label lists are strung together at random: most strings are invalid somewhere.
VALUE_TEXT = st.one_of(st.sampled_from(ODD_VALUES), NUMBERS, st.text("0123456789._+-eEinfaINFx \t", max_size=8))
LABEL_TEXT = st.lists(
    st.sampled_from(
        (
            'a="x"',
            'b = "y"',
            '__a="1"',
            '__name__="m"',
            "a",
            "__",
            "=",
            '"',
            ",",
            " ",
            "\\",
            "\\\\",
            '\\"',
            "{",
            "}",
            "é",
            "\t",
            ":",
            "1",
        )
    ),
    max_size=10,
).map("".join)


@FUZZ
@given(VALUE_TEXT, TIMESTAMPS | VALUE_TEXT)
def test_values_and_timestamps_agree(value, timestamp):
    compare(f"m {value}{' ' + timestamp if timestamp else ''}\n")


@FUZZ
@given(LABEL_TEXT)
def test_label_lists_agree(body):
    compare(f"m{{{body}}} 1\n")
