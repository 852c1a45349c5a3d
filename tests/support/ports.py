"""Free TCP ports on the loopback interface, and the addresses of a server listening on one."""

from __future__ import annotations

import random
import socket


def free_port(below: int = 0) -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now; with `below`, one under that number
    (Dynamo reads its system port as a 16-bit signed integer, and the kernel's ephemeral ports start above it)."""
    for candidate in random.sample(range(10_000, below), 200) if below else [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError(f"no free port on 127.0.0.1 below {below}")


class Loopback:
    """The addresses of a server listening on 127.0.0.1 at `port`."""

    port: int

    @property
    def address(self) -> str:
        """host:port it listens on (for a scrape target or an alerting config)."""
        return f"127.0.0.1:{self.port}"

    @property
    def target(self) -> str:
        """The exporter's default target name for this server: its host:port."""
        return self.address

    @property
    def url(self) -> str:
        """Root URL, e.g. http://127.0.0.1:40123."""
        return f"http://{self.address}"

    @property
    def metrics_url(self) -> str:
        """URL of its Prometheus endpoint, /metrics."""
        return f"{self.url}/metrics"
