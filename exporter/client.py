"""The HTTP clients that fetch engines: redirects followed up to a bound, TLS checked as each target's tls_config says.

One pooled client per TLS setting: targets that share a setting share connections, and a target with its own CA or
client certificate never lends its context to another.
"""

from __future__ import annotations

import ssl

import httpx

from exporter.config import TlsClientConfig

# As Prometheus' scrape client: a proxy's redirect or two is normal, more is a loop.
MAX_REDIRECTS = 5


def ssl_context(tls: TlsClientConfig) -> ssl.SSLContext:
    """A client SSLContext for one tls_config: its CA (else the system's), client certificate and verification."""
    context = ssl.create_default_context(cafile=tls.ca_file or None)
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def engine_client(tls: TlsClientConfig | None = None) -> httpx.Client:
    """A client that follows at most MAX_REDIRECTS redirects and verifies TLS as tls says (None: system CAs)."""
    if tls is None:
        return httpx.Client(follow_redirects=True, max_redirects=MAX_REDIRECTS)
    hooks = {}
    if tls.server_name:
        server_name = tls.server_name

        def name_server(request: httpx.Request) -> None:
            # httpcore hands this to the TLS handshake as SNI and as the name the certificate must carry.
            request.extensions["sni_hostname"] = server_name

        hooks["request"] = [name_server]
    return httpx.Client(follow_redirects=True, max_redirects=MAX_REDIRECTS, verify=ssl_context(tls), event_hooks=hooks)


class Clients:
    """The engine clients of one exporter, one per TLS setting, made when first asked for."""

    def __init__(self) -> None:
        self._by_tls: dict[TlsClientConfig | None, httpx.Client] = {}

    def get(self, tls: TlsClientConfig | None) -> httpx.Client:
        """The client for targets with this tls_config."""
        client = self._by_tls.get(tls)
        if client is None:
            client = self._by_tls[tls] = engine_client(tls)
        return client

    def keep_only(self, settings: set[TlsClientConfig | None]) -> None:
        """Close the clients of TLS settings no target uses any more (a reload changed or removed them)."""
        for tls in set(self._by_tls) - settings:
            self._by_tls.pop(tls).close()

    def close(self) -> None:
        """Release every client's connections."""
        for client in self._by_tls.values():
            client.close()
