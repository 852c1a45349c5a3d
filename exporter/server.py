"""The HTTP face of the exporter: landing page, /metrics, health and readiness."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter import __version__
from exporter.config import redact
from exporter.daemon import Daemon
from exporter.webconfig import BasicAuth, WebConfig, ssl_context

_OPEN_PATHS = ("/-/healthy", "/-/ready")

Reload = Callable[[], list[str]]  # returns the new config's problems; empty when it was applied

log = logging.getLogger("llm_exporter.http")

_LANDING = """<!doctype html><html><head><title>llm-exporter</title></head><body>
<h1>llm-exporter {version}</h1>
<p>One Prometheus schema for LLM inference engines and their GPUs.</p>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/-/healthy">/-/healthy</a></li>
<li><a href="/-/ready">/-/ready</a></li></ul>
<h2>Targets</h2><table border="1"><tr><th>name</th><th>url</th><th>engine</th><th>up</th><th>last error</th></tr>
{rows}</table></body></html>
"""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# A request body larger than this is never read: the connection is closed after the answer instead.
_MAX_BODY_BYTES = 64 << 10


def make_handler(daemon: Daemon, auth: BasicAuth, reload: Reload | None) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one daemon, its basic-auth users and its reload action (None: off)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = f"llm-exporter/{__version__}"
        protocol_version = "HTTP/1.1"  # keep-alive: Prometheus reuses its connection between scrapes
        wbufsize = -1  # headers and body leave in one write, flushed at the end of each response
        disable_nagle_algorithm = True
        timeout = 120  # an idle keep-alive connection gives its thread back after this

        def _consume_body(self) -> None:
            """Read a small request body so keep-alive stays in step; close the connection after anything else."""
            length = self.headers.get("Content-Length", "0")
            if self.headers.get("Transfer-Encoding") or not length.isdigit() or int(length) > _MAX_BODY_BYTES:
                self.close_connection = True
            elif int(length):
                self.rfile.read(int(length))

        def _authorized(self) -> bool:
            self._consume_body()
            # Liveness and readiness say nothing secret, and container health checks and kubelet probes
            # should not need the password.
            if self.path.split("?", 1)[0] in _OPEN_PATHS and self.command in ("GET", "HEAD"):
                return True
            if not auth.enabled or auth.check(self.headers.get("Authorization")):
                return True
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="llm-exporter"')
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"Unauthorized\n")
            return False

        def _send(
            self, status: int, body: str | bytes, content_type: str = "text/plain; charset=utf-8", gzipped: bool = False
        ) -> None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            if not self._authorized():
                return
            if self.path.split("?", 1)[0] != "/-/reload":
                self._send(404, "Not found\n")
                return
            if reload is None:
                self._send(403, "Lifecycle API is not enabled (start with --web.enable-lifecycle, or send SIGHUP)\n")
                return
            problems = reload()
            self._send(500 if problems else 200, "\n".join(problems) + "\n" if problems else "Reloaded\n")

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if not self._authorized():
                return
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                try:
                    body, content_type, gzipped = daemon.exposition(
                        self.headers.get("Accept"), self.headers.get("Accept-Encoding")
                    )
                except Exception as error:  # a bug of ours: the scraper gets a 500 (up 0 there), we one line
                    log.error("/metrics failed: %r", error)
                    log.debug("/metrics failed", exc_info=True)
                    self._send(500, "Internal error building /metrics (see the exporter's log)\n")
                    return
                self._send(200, body, content_type, gzipped)
            elif path == "/-/healthy":
                self._send(200, "Healthy\n")
            elif path == "/-/ready":
                ready = daemon.ready
                self._send(200 if ready else 503, "Ready\n" if ready else "Not ready: targets not yet polled\n")
            elif path == "/":
                rows = "".join(
                    f"<tr><td>{_escape(t.config.name)}</td><td>{_escape(redact(t.config.url))}</td>"
                    f"<td>{t.snapshot.engine_type}</td><td>{int(t.snapshot.up)}</td>"
                    f"<td>{_escape(t.snapshot.error)}</td></tr>"
                    for t in daemon.targets
                )
                self._send(200, _LANDING.format(version=__version__, rows=rows), "text/html; charset=utf-8")
            else:
                self._send(404, "Not found\n")

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
            log.debug("%s %s", self.address_string(), format % args)

    return Handler


def _any_host() -> str:
    """ "::" (every interface, IPv6 and IPv4) where the kernel has IPv6, else "0.0.0.0"."""
    if not socket.has_ipv6:
        return "0.0.0.0"
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
    except OSError:
        return "0.0.0.0"
    return "::"


_ANY_HOST = _any_host()


def parse_listen_address(address: str) -> tuple[str, int]:
    """(host, port) from ":10117", "127.0.0.1:10117" or "[::1]:10117"; ValueError otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f'--web.listen-address must look like ":10117" or "127.0.0.1:10117", got {address!r}')
    return host.strip("[]") or _ANY_HOST, int(port)


class _Server(ThreadingHTTPServer):
    """The stdlib server with a listen backlog that holds a burst of concurrent scrapers (the default is 5), a cap
    on open connections (each holds a thread), dual-stack IPv6, and one log line for a client that went away."""

    request_queue_size = 128
    daemon_threads = True
    max_connections = 256

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(self.max_connections)
        super().__init__(address, handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6 and self.server_address[0] == "::":
            # Every interface, IPv4 included (as IPv4-mapped addresses), on one socket.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning("connection from %s refused: %d connections open", client_address[0], self.max_connections)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (or never finishes its request) is the client's business.
        log.info("connection from %s ended early: %s", client_address[0], sys.exc_info()[1])


class _TlsServer(_Server):
    """Hands each accepted socket to its own thread before the TLS handshake, so a slow client cannot block accept;
    the handshake has a deadline, so a silent client cannot hold a thread."""

    handshake_timeout = 10.0

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.handshake_timeout)
        request.do_handshake()
        request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A failed handshake (wrong CA, plain HTTP to a TLS port) is the client's problem: one debug line, no trace.
        log.debug("TLS connection from %s failed: %s", client_address[0], sys.exc_info()[1])


def serve(
    daemon: Daemon, address: str, web: WebConfig | None = None, reload: Reload | None = None
) -> ThreadingHTTPServer:
    """An HTTP(S) server for the daemon, bound and ready for serve_forever()."""
    web = web or WebConfig()
    host, port = parse_listen_address(address)
    handler = make_handler(daemon, BasicAuth(web.users), reload)
    if web.tls is None:
        server = _Server((host, port), handler)
    else:
        server = _TlsServer((host, port), handler)
        server.socket = ssl_context(web.tls).wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    return server
