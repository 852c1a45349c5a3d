"""A real capture moved in time: as its engine showed it before serving anything, or after serving it all again."""

from __future__ import annotations

import re

_TYPE = re.compile(r"# TYPE (\S+) (counter|histogram)\s*$")
_SUFFIXES = ("", "_total", "_bucket", "_sum", "_count")


def at_start(capture: str) -> str:
    """The capture with every counter and histogram sample at 0, gauges and comments as they were.

    Engines create these series at start-up at zero (vLLM, TGI) or on first use (SGLang), so this is the
    capture's own engine before its first request; `_created` timestamps are gauges and stay.
    """
    return _counted_scaled(capture, 0.0)


def served_twice(capture: str) -> str:
    """The capture after its engine served the same requests once more: every counter and bucket doubled."""
    return _counted_scaled(capture, 2.0)


def _counted_scaled(capture: str, factor: float) -> str:
    counted: set[str] = set()
    lines = []
    for line in capture.splitlines():
        if match := _TYPE.match(line):
            counted.update(match.group(1) + suffix for suffix in _SUFFIXES)
        elif line and not line.startswith("#"):
            name = re.split(r"[{\s]", line, maxsplit=1)[0]
            if name in counted:
                head, value = line.rstrip().rsplit(" ", 1)
                line = f"{head} {float(value) * factor!r}" if factor else f"{head} 0"
        lines.append(line)
    return "\n".join(lines) + "\n"
