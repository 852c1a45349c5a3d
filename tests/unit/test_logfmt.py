"""Log lines are logfmt, one record a line (review-2026-11-qa finding 23: `ts=2026-11-30 17:19:55,707` held a space
and a comma, `msg=` was unquoted, and a client hanging up printed a multi-line traceback, finding 15)."""

from __future__ import annotations

import logging
import re
import socket
import struct
import sys
import threading
import time

from exporter.config import Config
from exporter.daemon import Daemon
from exporter.logfmt import LogfmtFormatter
from exporter.server import serve

PAIR = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^\s"=\\]+)')
UNESCAPE = {"n": "\n", "r": "\r", '"': '"', "\\": "\\"}


def parse_logfmt(line: str) -> dict[str, str]:
    """The key=value pairs of one logfmt line; AssertionError when it is not one."""
    assert "\n" not in line
    pairs = PAIR.findall(line)
    assert " ".join(f"{key}={raw}" for key, raw in pairs) == line, f"not logfmt: {line!r}"
    return {
        key: re.sub(r"\\(.)", lambda m: UNESCAPE[m.group(1)], raw[1:-1]) if raw.startswith('"') else raw
        for key, raw in pairs
    }


def _record(message: str, level: int = logging.WARNING, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("llm_exporter.target", level, __file__, 1, "%s", (message,), exc_info)  # type: ignore[arg-type]


def test_a_message_with_spaces_quotes_equals_and_newlines_is_one_parseable_line():
    message = 'target t0: HTTP 500 from http://e:8000/metrics body="a\\b"\nnext=line'
    line = LogfmtFormatter().format(_record(message))
    fields = parse_logfmt(line)
    assert (fields["level"], fields["logger"], fields["msg"]) == ("warn", "llm_exporter.target", message)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", fields["ts"])


def test_a_traceback_rides_along_as_one_err_value():
    try:
        raise KeyError("a bug in a table")
    except KeyError:
        record = _record("target t0: internal error while polling", logging.DEBUG, sys.exc_info())
    fields = parse_logfmt(LogfmtFormatter().format(record))
    assert fields["level"] == "debug"
    assert (
        fields["err"].startswith("Traceback (most recent call last):\n")
        and "KeyError: 'a bug in a table'" in fields["err"]
    )


def test_a_client_that_resets_mid_request_is_one_log_line_and_no_traceback(caplog, capsys):
    server = serve(Daemon(Config()), "127.0.0.1:0")
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="llm_exporter"):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"GET /metr")
            time.sleep(0.2)  # the server thread is now reading the request line
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
            client.close()
            deadline = time.monotonic() + 5
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
    assert [r.getMessage() for r in caplog.records] == [
        "connection from 127.0.0.1 ended early: [Errno 104] Connection reset by peer"
    ]
    assert "Traceback" not in capsys.readouterr().err
