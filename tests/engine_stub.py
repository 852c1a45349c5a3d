"""A loopback HTTP server that answers /metrics the way a broken or healthy engine would."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Behaviour = Callable[[BaseHTTPRequestHandler], None]


def respond(body: bytes, status: int = 200, content_type: str = "text/plain; version=0.0.4") -> Behaviour:
    """A behaviour that sends body with status and content type."""
    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return behaviour


def cut_short(body: bytes, sent: int) -> Behaviour:
    """Promise the whole body, send only the first bytes, then close."""
    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:sent])
        handler.close_connection = True
    return behaviour


def stall(seconds: float) -> Behaviour:
    """Answer nothing for a while (a hung engine)."""
    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        respond(b"late 1\n")(handler)
    return behaviour


class EngineStub:
    """Serves behaviour(handler) for GET /metrics and 404 elsewhere, on 127.0.0.1."""

    def __init__(self, behaviour: Behaviour):
        self.behaviour = behaviour
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path.startswith("/metrics"):
                    stub.behaviour(self)
                else:
                    respond(b"not found\n", 404)(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the stub."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> EngineStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
