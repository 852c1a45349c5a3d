"""An Alertmanager webhook receiver: collects POSTed notifications with their arrival times."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.http_server import LocalHTTPServer, QuietHandler


@dataclass(frozen=True)
class Delivery:
    """One webhook POST: when it arrived (time.time()) and its JSON payload."""

    received_at: float
    payload: dict[str, Any]

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The alerts in an Alertmanager notification."""
        return list(self.payload.get("alerts", []))


class _WebhookHandler(QuietHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server dispatches on this name
        receiver: WebhookReceiver = self.owner
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        receiver.add(Delivery(time.time(), json.loads(body or b"{}")))
        self.send_body(200, b"ok\n", "text/plain")


class WebhookReceiver(LocalHTTPServer):
    """HTTP server on 127.0.0.1 that stores every notification POSTed to it."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(_WebhookHandler, port)
        self._deliveries: list[Delivery] = []
        self._arrived = threading.Condition()

    @property
    def webhook_url(self) -> str:
        """URL to put in an Alertmanager webhook_configs entry."""
        return f"{self.url}/alerts"

    def add(self, delivery: Delivery) -> None:
        """Store a delivery and wake waiters."""
        with self._arrived:
            self._deliveries.append(delivery)
            self._arrived.notify_all()

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery so far, oldest first."""
        with self._arrived:
            return list(self._deliveries)

    def wait_for(self, matches: Callable[[Delivery], bool], timeout: float) -> Delivery:
        """The first delivery for which `matches` holds, waiting up to `timeout` s; TimeoutError lists what came."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for delivery in self._deliveries:
                    if matches(delivery):
                        return delivery
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(d.payload.get("status"), [a.get("labels") for a in d.alerts]) for d in self._deliveries]
                    raise TimeoutError(f"no matching webhook delivery within {timeout:.0f}s; received: {seen}")
                self._arrived.wait(left)

    def wait_for_alert(self, alertname: str, status: str = "firing", timeout: float = 60.0) -> Delivery:
        """The first delivery holding alert `alertname` with `status` ("firing" or "resolved")."""
        return self.wait_for(
            lambda d: any(
                a.get("labels", {}).get("alertname") == alertname and a.get("status") == status for a in d.alerts
            ),
            timeout,
        )
