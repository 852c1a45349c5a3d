"""A threaded HTTP server on 127.0.0.1 run in a background thread, stoppable and restartable on its port."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.harness.ports import Loopback, free_port


class _OwnedServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows the LocalHTTPServer it serves for."""

    daemon_threads = True

    def __init__(self, owner: LocalHTTPServer, port: int, handler: type[QuietHandler]) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", port), handler)


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

    def __init__(self, handler: type[QuietHandler], port: int | None = None) -> None:
        self.handler = handler
        self.port = port or free_port()
        self._server: _OwnedServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind the port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} on port {self.port} is already running")
        server = _OwnedServer(self, self.port, self.handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=f"http-{self.port}", daemon=True)
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
