"""Fetch one target's /metrics and identity endpoints over HTTP, with a deadline and a size cap."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from exporter.client import MAX_REDIRECTS
from exporter.config import redact


class ScrapeError(Exception):
    """A fetch that must not be re-exported; kind is a short label value (timeout, http_status, …)."""

    def __init__(self, kind: str, message: str, status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status  # the HTTP status, for kind http_status


def fetch_body(
    client: httpx.Client, url: str, timeout: float, max_bytes: int, headers: dict[str, str] | None = None
) -> bytes:
    """The body of a 200 answer, streamed under a size cap and an overall deadline; raises ScrapeError."""
    deadline = time.monotonic() + timeout
    shown = redact(url)
    try:
        with client.stream("GET", url, timeout=timeout, headers=headers) as response:
            if response.history:  # name where the redirects led, in every error below
                shown = f"{shown} (redirected to {redact(str(response.url))})"
            if response.status_code != 200:
                raise ScrapeError("http_status", f"HTTP {response.status_code} from {shown}", response.status_code)
            content_type = response.headers.get("content-type", "")
            if "html" in content_type:
                raise ScrapeError("not_metrics", f"{shown} answered {content_type!r}, not metrics text")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ScrapeError("too_large", f"{shown} sent more than {max_bytes} bytes (the size cap)")
                if time.monotonic() > deadline:
                    raise ScrapeError("timeout", f"{shown} did not finish within {timeout:g}s")
                chunks.append(chunk)
    except httpx.TimeoutException:
        raise ScrapeError("timeout", f"{shown} did not answer within {timeout:g}s") from None
    except httpx.TooManyRedirects:
        raise ScrapeError(
            "redirect", f"{shown} redirected more than {MAX_REDIRECTS} times (a redirect loop?)"
        ) from None
    except httpx.ConnectError as error:
        raise ScrapeError("connection", f"cannot connect to {shown}: {error}") from None
    except httpx.HTTPError as error:
        raise ScrapeError("http", f"{shown}: {type(error).__name__}: {error}") from None
    return b"".join(chunks)


def fetch_metrics(
    client: httpx.Client, url: str, timeout: float, max_bytes: int, headers: dict[str, str] | None = None
) -> str:
    """The body of url as text; raises ScrapeError for anything a scraper should not trust."""
    body = fetch_body(client, url, timeout, max_bytes, headers)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScrapeError("encoding", f"{redact(url)} sent invalid UTF-8 at byte {error.start}") from None


def _dig(document: Any, path: str) -> Any:
    for key in path.split("."):
        if isinstance(document, list) and key.isdigit() and int(key) < len(document):
            document = document[int(key)]
        elif isinstance(document, dict) and key in document:
            document = document[key]
        else:
            return None
    return document


# An identity document (/v1/models, /info) is a few KB; a cap this size still holds a server listing many models.
IDENTITY_MAX_BYTES = 1 << 20


def fetch_identity(
    client: httpx.Client,
    url: str,
    fields: tuple[tuple[str, str], ...],
    timeout: float,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Identity values (model, version) read from a JSON endpoint; empty when it is absent or unreadable.

    Fetched like /metrics: streamed under a byte cap and one overall deadline, so a huge or drip-fed answer
    cannot hold the poll or the exporter's memory.
    """
    try:
        document = json.loads(fetch_body(client, url, timeout, IDENTITY_MAX_BYTES, headers))
    except (ScrapeError, ValueError):
        return {}
    found = {key: _dig(document, path) for key, path in fields}
    return {key: str(value) for key, value in found.items() if isinstance(value, (str, int, float)) and value != ""}


def fetch_status(client: httpx.Client, url: str, timeout: float, headers: dict[str, str] | None = None) -> int | None:
    """The HTTP status a health endpoint answers (its body is not read); None when nothing answers."""
    try:
        with client.stream("GET", url, timeout=timeout, headers=headers) as response:
            return response.status_code
    except httpx.HTTPError:
        return None
