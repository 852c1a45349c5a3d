"""scrape: what a target's HTTP answer becomes, through httpx.MockTransport (no socket)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from exporter.scrape import ScrapeError, fetch_identity, fetch_metrics

URL = "http://engine.test:8000/metrics"


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def _fetch(handler: Callable[[httpx.Request], httpx.Response], max_bytes: int = 1 << 20, **kwargs: object) -> str:
    with _client(handler) as client:
        return fetch_metrics(client, URL, 5.0, max_bytes, **kwargs)  # type: ignore[arg-type]


def _kind(handler: Callable[[httpx.Request], httpx.Response], max_bytes: int = 1 << 20) -> tuple[str, str]:
    with pytest.raises(ScrapeError) as caught:
        _fetch(handler, max_bytes)
    return caught.value.kind, str(caught.value)


def test_the_body_comes_back_as_text_and_the_headers_reach_the_engine() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="vllm:num_requests_running 1\n", headers={"content-type": "text/plain"})

    assert _fetch(handler, headers={"Authorization": "Bearer t0ken"}) == "vllm:num_requests_running 1\n"
    assert (str(seen[0].url), seen[0].headers["authorization"]) == (URL, "Bearer t0ken")


def test_a_status_other_than_200_is_an_http_status_error() -> None:
    assert _kind(lambda _: httpx.Response(503, text="busy")) == ("http_status", f"HTTP 503 from {URL}")


def test_an_html_page_is_not_metrics() -> None:
    kind, message = _kind(lambda _: httpx.Response(200, text="<html/>", headers={"content-type": "text/html"}))
    assert (kind, message) == ("not_metrics", f"{URL} answered 'text/html', not metrics text")


def test_a_body_over_the_cap_is_too_large() -> None:
    kind, message = _kind(lambda _: httpx.Response(200, content=b"x" * 101), max_bytes=100)
    assert (kind, message) == ("too_large", f"{URL} sent more than 100 bytes (the size cap)")


def test_a_body_exactly_at_the_cap_is_read() -> None:
    assert _fetch(lambda _: httpx.Response(200, content=b"x" * 100), max_bytes=100) == "x" * 100


def test_invalid_utf8_names_the_byte() -> None:
    assert _kind(lambda _: httpx.Response(200, content=b"ok \xff")) == (
        "encoding", f"{URL} sent invalid UTF-8 at byte 3")  # fmt: skip


@pytest.mark.parametrize(
    ("error", "kind"),
    [(httpx.ConnectError("refused"), "connection"), (httpx.ReadTimeout("slow"), "timeout"),
     (httpx.RemoteProtocolError("cut"), "http")],
)  # fmt: skip
def test_transport_errors_become_their_kind(error: httpx.HTTPError, kind: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    assert _kind(handler)[0] == kind


IDENTITY_FIELDS = (("model", "data.0.id"), ("version", "version"), ("missing", "data.5.id"))


def _identity(handler: Callable[[httpx.Request], httpx.Response]) -> dict[str, str]:
    with _client(handler) as client:
        return fetch_identity(client, "http://engine.test:8000/v1/models", IDENTITY_FIELDS, 5.0)


def test_identity_fields_are_read_along_their_paths() -> None:
    document = {"data": [{"id": "llama-3"}], "version": 0.32}
    assert _identity(lambda _: httpx.Response(200, json=document)) == {"model": "llama-3", "version": "0.32"}


def test_identity_leaves_out_empty_and_structured_values() -> None:
    document = {"data": [{"id": ""}], "version": {"major": 1}}
    assert _identity(lambda _: httpx.Response(200, json=document)) == {}


@pytest.mark.parametrize(
    "response",
    [httpx.Response(404, json={"version": "1"}), httpx.Response(200, text="not json")],
    ids=["not-found", "not-json"],
)
def test_identity_is_empty_when_the_endpoint_fails(response: httpx.Response) -> None:
    assert _identity(lambda _: response) == {}
