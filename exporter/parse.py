"""Parse Prometheus text exposition (0.0.4, and the OpenMetrics subset engines emit) into families.

Strict where a half-read or foreign body would otherwise be re-exported: a body without its final newline,
a malformed line or a duplicate series is a ParseError naming the line. NaN and ±Inf are legal values.
"""

from __future__ import annotations

import re

from exporter.family import Family, Sample

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?[0-9]+))?[ \t]*")
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created", "_gsum", "_gcount"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("_sum", "_count", "_created"),
    "info": ("_info",),
}
_TYPES = {"counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "untyped", "unknown", "stateset"}


class ParseError(ValueError):
    """A body that is not valid exposition; line is 1-based (0 when it concerns the whole body)."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


def _unescape(match: re.Match[str]) -> str:
    return _UNESCAPE.get(match.group(1), "\\" + match.group(1))


def _labels(body: str, line_no: int) -> dict[str, str]:
    labels: dict[str, str] = {}
    position = 0
    for match in _LABEL.finditer(body):
        if match.start() != position:
            break
        name, value = match.group(1), match.group(2)
        if name in labels:
            raise ParseError(line_no, f"label {name!r} appears twice")
        labels[name] = _ESCAPE.sub(_unescape, value) if "\\" in value else value
        position = match.end()
    if body[position:].strip():
        raise ParseError(line_no, f"malformed labels {{{body}}}")
    return labels


def _value(text: str, line_no: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise ParseError(line_no, f"value {text!r} is not a number") from None


def _belongs(sample_name: str, family: Family) -> bool:
    if sample_name == family.name:
        return True
    suffix = sample_name[len(family.name):] if sample_name.startswith(family.name) else ""
    return suffix in _SUFFIXES.get(family.type, ())


def parse(text: str) -> list[Family]:
    """Families in the order they appear; raises ParseError on anything a scraper should not trust."""
    if text and not text.endswith("\n"):
        raise ParseError(0, "truncated body: the last line has no newline")
    families: list[Family] = []
    by_name: dict[str, Family] = {}
    current: Family | None = None
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for line_no, line in enumerate(text.split("\n"), 1):
        if not line or line.isspace():
            continue
        if line[0] == "#":
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                family = by_name.get(name)
                if family is None:
                    family = Family(name, "unknown")
                    by_name[name] = family
                    families.append(family)
                if parts[1] == "TYPE":
                    kind = parts[3].strip() if len(parts) > 3 else ""
                    if kind not in _TYPES:
                        raise ParseError(line_no, f"unknown metric type {kind!r} for {name}")
                    family.type = "unknown" if kind == "untyped" else kind
                else:
                    family.help = parts[3] if len(parts) > 3 else ""
                current = family
            continue
        match = _SAMPLE.fullmatch(line)
        if match is None:
            raise ParseError(line_no, f"not a sample line: {line[:80]!r}")
        name, label_body, value_text = match.group(1), match.group(2), match.group(3)
        labels = _labels(label_body, line_no) if label_body else {}
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise ParseError(line_no, f"duplicate series {name}{{{label_body or ''}}}")
        seen.add(key)
        if current is None or not _belongs(name, current):
            current = by_name.get(name)
            if current is None:
                current = Family(name, "unknown")
                by_name[name] = current
                families.append(current)
        current.samples.append(Sample(name, labels, _value(value_text, line_no)))
    return families
