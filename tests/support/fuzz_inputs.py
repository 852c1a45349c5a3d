"""Hypothesis strategies for exposition text: real capture lines, mutated the ways broken engines break them."""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

_FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "engines").glob("*.prom"))
REAL_LINES = sorted(
    {
        line
        for path in _FIXTURES
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("# source:")
    }
)
_SPECIAL = list('{}",=\\# \t\n:_') + [
    "NaN",
    "+Inf",
    "-Inf",
    "1e308",
    "-0",
    "le=",
    'le="+Inf"',
    "_total",
    "_bucket",
    "_created",
    "vllm:",
    "sglang_",
    "tgi_",
    "\x00",
    "é",
]


@st.composite
def mutated_line(draw: st.DrawFn) -> str:
    """A real line, sometimes cut, spliced or sprinkled with characters that matter to the format."""
    line = draw(st.sampled_from(REAL_LINES))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(("cut", "insert", "delete", "keep")))
        at = draw(st.integers(0, len(line)))
        if kind == "cut":
            line = line[:at]
        elif kind == "insert":
            line = line[:at] + draw(st.sampled_from(_SPECIAL)) + line[at:]
        elif kind == "delete":
            line = line[:at] + line[at + 1 :]
    return line


def exposition() -> st.SearchStrategy[str]:
    """Whole bodies: runs of real or mutated lines, with or without the final newline."""
    lines = st.lists(st.one_of(st.sampled_from(REAL_LINES), mutated_line()), min_size=1, max_size=40)
    return st.builds(lambda body, newline: "\n".join(body) + ("\n" if newline else ""), lines, st.booleans())
