"""Parse Prometheus text exposition (0.0.4, and OpenMetrics as engines emit it) into families.

Strict where a half-read or foreign body would otherwise be re-exported: a body without its final newline,
a malformed line or a duplicate series is a ParseError naming the line. NaN and ±Inf are legal values.
OpenMetrics' exemplars, float timestamps, `# UNIT` and `# EOF` are read and dropped: the exporter serves its own
poll's values, so an engine's timestamps and trace ids have nowhere to go.
Everything prometheus_client's parser rejects is rejected here too (tests/engines/test_parse_fuzz.py pins it).

Fast because a poll's series are the previous poll's series with new values: the text before a sample's value
is parsed once, remembered, and later lines that repeat it only have their value read.
"""

from __future__ import annotations

import re

from exporter.family import Family, Sample

_PAIR = r'[ \t]*[a-zA-Z_][a-zA-Z0-9_]*[ \t]*=[ \t]*"[^"\\]*(?:\\.[^"\\]*)*"[ \t]*'
_LABEL_LIST = rf"(?:{_PAIR}(?:,{_PAIR})*(?:,[ \t]*)?|[ \t]*)"
# A timestamp: integer milliseconds (text 0.0.4) or float seconds (OpenMetrics, `1.7e9` included); never re-exported.
_TIMESTAMP = r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
# A whole sample line: name, optional label list (each pair checked here), value, optional timestamp, and an
# OpenMetrics exemplar (` # {trace_id="…"} 0.05 1.7e9`), whose labels are checked as strictly and which is dropped.
_SAMPLE = re.compile(
    rf"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{{({_LABEL_LIST})\}})?[ \t]+(\S+)(?:[ \t]+({_TIMESTAMP}))?"
    rf"(?:[ \t]+#[ \t]+\{{({_LABEL_LIST})\}}[ \t]+(\S+)(?:[ \t]+{_TIMESTAMP})?)?"
)
_LOOSE_SAMPLE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\{(.*)\}[ \t]+\S+.*")  # only to name what is wrong
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"([^"\\]*(?:\\.[^"\\]*)*)"')
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_ESCAPE = re.compile(r"\\(.)")
_HELP_ESCAPE = re.compile(r"\\([\\n])")
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created", "_gsum", "_gcount"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("_sum", "_count", "_created"),
    "info": ("_info",),
}
_TYPES = {"counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "untyped", "unknown", "stateset"}

_Identity = tuple[str, frozenset[tuple[str, str]]]


class ParseError(ValueError):
    """A body that is not valid exposition; line is 1-based (0 when it concerns the whole body)."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


class SampleLimitError(ParseError):
    """A body with more samples than its target's sample_limit."""


def _unescape(match: re.Match[str]) -> str:
    return _UNESCAPE.get(match.group(1), "\\" + match.group(1))


def _labels(body: str, line_no: int) -> dict[str, str]:
    # _SAMPLE has checked the list as a whole, so its pairs are exactly what findall finds, in order.
    pairs = _LABEL.findall(body)
    labels = dict(pairs)
    if len(labels) != len(pairs):
        twice = next(name for index, (name, _) in enumerate(pairs) if name in dict(pairs[:index]))
        raise ParseError(line_no, f"label {twice!r} appears twice")
    if "__" in body or "\\" in body:  # rare enough to look at each pair only then
        for name, value in pairs:
            if name.startswith("__"):
                raise ParseError(line_no, f"label name {name!r} is reserved")
            if "\\" in value:
                labels[name] = _ESCAPE.sub(_unescape, value)
    return labels


def _value(text: str, line_no: int) -> float:
    # float() also reads "1_000"; the exposition format (and prometheus_client) does not.
    try:
        if "_" not in text:
            return float(text)
    except ValueError:
        pass
    raise ParseError(line_no, f"value {text!r} is not a number")


_SeriesCache = dict[str, tuple[str, dict[str, str], _Identity]]
_HeaderCache = dict[str, tuple[str, str, str] | None]


def _sample_line(line: str, line_no: int, series: _SeriesCache) -> tuple[str, dict[str, str], _Identity, float]:
    """(name, labels, series identity, value) of a sample line, remembering its series text when it is plain."""
    stripped = line.strip()
    match = _SAMPLE.fullmatch(stripped)
    if match is None:
        loose = _LOOSE_SAMPLE.fullmatch(stripped)
        if loose is not None:
            raise ParseError(line_no, f"malformed labels {{{loose.group(1)[:80]}}}")
        raise ParseError(line_no, f"not a sample line: {stripped[:80]!r}")
    name, label_body, value_text, timestamp, exemplar_labels, exemplar_value = match.groups()
    labels = _labels(label_body, line_no) if label_body else {}
    value = _value(value_text, line_no)
    if exemplar_value is not None:
        _labels(exemplar_labels or "", line_no)
        _value(exemplar_value, line_no)
    identity = (name, frozenset(labels.items()))
    series_end = match.end(2) + 1 if label_body is not None else match.end(1)
    # Only "series value" exactly, so a later line with the same series text is this line with another value.
    plain = len(stripped) == len(line) and timestamp is None and exemplar_value is None
    if plain and match.start(3) == series_end + 1 and line[series_end] == " ":
        if len(series) >= Parser.LIMIT:
            series.clear()
        series[line[:series_end]] = (name, labels, identity)
    return name, dict(labels), identity, value


def _header(line: str, line_no: int, headers: _HeaderCache) -> tuple[str, str, str] | None:
    """(HELP or TYPE, family name, help text or type) of a comment line; None for any other comment."""
    known = headers.get(line)
    if known is not None or line in headers:
        return known
    parts = line.split(None, 3)
    header = None
    if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
        keyword, name = parts[1], parts[2]
        if _METRIC_NAME.fullmatch(name) is None:
            raise ParseError(line_no, f"invalid metric name {name!r}")
        if keyword == "TYPE":
            kind = parts[3].strip() if len(parts) > 3 else ""
            if kind not in _TYPES:
                raise ParseError(line_no, f"unknown metric type {kind!r} for {name}")
            header = (keyword, name, "unknown" if kind == "untyped" else kind)
        else:
            text = parts[3] if len(parts) > 3 else ""
            header = (keyword, name, _HELP_ESCAPE.sub(_unescape, text) if "\\" in text else text)
    if len(headers) >= Parser.LIMIT:
        headers.clear()
    headers[line] = header
    return header


def _members(name: str, kind: str) -> tuple[str, ...]:
    """The sample names a family of this name and type may have."""
    return (name, *(name + suffix for suffix in _SUFFIXES.get(kind, ())))


class Parser:
    """Parses one target's successive bodies, remembering the text of its series and comment lines.

    Owned by one target: its memory holds that target's series only. Bounded: past the limit it starts over,
    which costs one slow parse per series and never a wrong result.
    """

    LIMIT = 50_000

    def __init__(self) -> None:
        self._series: _SeriesCache = {}  # series text (a sample line before " value") -> name, labels, identity
        self._headers: _HeaderCache = {}  # comment line -> what _header read from it

    def parse(self, text: str, sample_limit: int = 0) -> list[Family]:
        """Families in the order they appear; raises ParseError on anything a scraper should not trust.

        Past sample_limit samples (0: no limit) it stops with SampleLimitError, before holding any more.
        """
        if text and not text.endswith("\n"):
            raise ParseError(0, "truncated body: the last line has no newline")
        families: list[Family] = []
        by_name: dict[str, Family] = {}
        current: Family | None = None
        members: tuple[str, ...] = ()  # the sample names of the current family
        seen: set[tuple[str, frozenset[tuple[str, str]]]] = set()
        series = self._series
        for line_no, line in enumerate(text.split("\n"), 1):
            if not line:
                continue
            head, _, value_text = line.rpartition(" ")
            known = series.get(head)
            # isprintable(): no whitespace of any kind around the number, as a freshly parsed line would demand.
            if known is not None and "_" not in value_text and value_text.isprintable():
                name, labels, identity = known
                labels = labels.copy()
                try:
                    value = float(value_text)
                except ValueError:
                    name, labels, identity, value = _sample_line(line, line_no, series)
            elif line.isspace():
                continue
            elif line.lstrip()[0] == "#":
                header = _header(line, line_no, self._headers)
                if header is not None:
                    keyword, name, detail = header
                    family = by_name.get(name)
                    if family is None:
                        family = by_name[name] = Family(name, "unknown")
                        families.append(family)
                    if keyword == "TYPE":
                        family.type = detail
                    else:
                        family.help = detail
                    current = family
                    members = _members(name, family.type)
                continue
            else:
                name, labels, identity, value = _sample_line(line, line_no, series)
            if identity in seen:
                shown = ",".join(f'{key}="{text}"' for key, text in labels.items())
                raise ParseError(line_no, f"duplicate series {name}{{{shown}}}")
            seen.add(identity)
            if sample_limit and len(seen) > sample_limit:
                raise SampleLimitError(line_no, f"more than {sample_limit} samples (the target's sample_limit)")
            if name not in members:
                current = by_name.get(name)
                if current is None:
                    current = by_name[name] = Family(name, "unknown")
                    families.append(current)
                members = _members(name, current.type)
            current.samples.append(Sample(name, labels, value))  # type: ignore[union-attr]
        return families


def parse(text: str) -> list[Family]:
    """Families of one body, parsed with no memory of earlier bodies."""
    return Parser().parse(text)
