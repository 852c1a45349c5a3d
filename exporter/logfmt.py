"""Log records as logfmt lines, as Prometheus and its exporters write them: `ts=… level=… logger=… msg="…"`.

One record is one line, whatever its message holds: values with spaces, quotes or `=` are quoted, newlines escaped,
and a traceback (logged at debug only) rides along as one quoted `err` value. Log shippers parse it key by key.
"""

from __future__ import annotations

import logging
import re
import time

_BARE = re.compile(r"[^\s\"=\\]+")
_LEVELS = {"WARNING": "warn", "CRITICAL": "error"}


def value(text: str) -> str:
    """text as a logfmt value: bare when it can be, else double-quoted with quotes, backslashes, newlines escaped."""
    if _BARE.fullmatch(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    """Formats a record as one logfmt line with an RFC 3339 UTC timestamp (milliseconds)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as `ts=… level=… logger=… msg=…`, plus `err=` when it carries an exception."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        level = _LEVELS.get(record.levelname, record.levelname.lower())
        line = f"ts={stamp} level={level} logger={value(record.name)} msg={value(record.getMessage())}"
        if record.exc_info:
            line += f" err={value(self.formatException(record.exc_info))}"
        return line
