"""The one loopback HTTP server of the tests: a threaded server on 127.0.0.1 in a background thread, stoppable and
restartable on its port, and EngineStub, which answers /metrics the way a healthy or broken engine would."""

from __future__ import annotations

import ssl
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.ports import Loopback, free_port

# serve_forever checks for shutdown() every poll interval; the default 0.5 s made each stop cost half a second.
POLL_INTERVAL = 0.01


class _OwnedServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows the LocalHTTPServer it serves for."""

    daemon_threads = True

    def __init__(self, owner: LocalHTTPServer, port: int, handler: type[QuietHandler]) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", port), handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when the client hung up first (a scrape that timed out on a stalled stub); report the rest."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler):
    """Request handler that keeps the test output clean and reaches its owner through `self.owner`."""

    @property
    def owner(self) -> Any:
        """The LocalHTTPServer this request arrived at."""
        server = self.server
        assert isinstance(server, _OwnedServer)
        return server.owner

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        """Drop per-request access logs."""

    def send_body(self, status: int, body: bytes, content_type: str) -> None:
        """Answer with `status` and `body`."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LocalHTTPServer(Loopback):
    """Serves `handler` on 127.0.0.1 (a free port unless given); stop() frees the port, start() binds it again."""

    def __init__(self, handler: type[QuietHandler], port: int | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.port = port or free_port()
        self.tls = tls  # a server context: HTTPS (an engine behind its own certificate)
        self._server: _OwnedServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind the port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} on port {self.port} is already running")
        server = _OwnedServer(self, self.port, self.handler)
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(POLL_INTERVAL,), name=f"http-{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        """Root URL, https:// when it serves TLS."""
        return f"{'https' if self.tls else 'http'}://{self.address}"

    def __enter__(self) -> LocalHTTPServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


Behaviour = Callable[[QuietHandler], None]


def respond(body: bytes, status: int = 200, content_type: str = "text/plain; version=0.0.4") -> Behaviour:
    """A behaviour that sends body with status and content type."""

    def behaviour(handler: QuietHandler) -> None:
        handler.send_body(status, body, content_type)

    return behaviour


def cut_short(body: bytes, sent: int) -> Behaviour:
    """Promise the whole body, send only the first bytes, then close."""

    def behaviour(handler: QuietHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:sent])
        handler.close_connection = True

    return behaviour


def stall(seconds: float) -> Behaviour:
    """Answer nothing for a while (a hung engine)."""

    def behaviour(handler: QuietHandler) -> None:
        time.sleep(seconds)
        respond(b"late 1\n")(handler)

    return behaviour


class _StubHandler(QuietHandler):
    """GET /metrics runs the owner's behaviour; anything else is a 404."""

    def do_GET(self) -> None:  # noqa: N802 - http.server dispatches on this name
        """Serve the stub's behaviour at /metrics."""
        if self.path.startswith("/metrics"):
            self.owner.behaviour(self)
        else:
            self.send_body(404, b"not found\n", "text/plain")


class EngineStub(LocalHTTPServer):
    """Serves behaviour(handler) for GET /metrics and 404 elsewhere; a context manager that starts and stops it."""

    def __init__(self, behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(_StubHandler, tls=tls)
        self.behaviour = behaviour

    def __enter__(self) -> EngineStub:
        self.start()
        return self
