"""Engines answering from real captures over a mock transport: each read of /metrics gets the next scripted answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from exporter.compare.sampling import Side, open_side, watch

FIXTURES = Path(__file__).parents[1] / "fixtures" / "engines"
IDENTITY = {
    "vllm": {"/v1/models": {"data": [{"id": "tiny"}]}, "/version": {"version": "0.32.0"}},
    "sglang": {"/get_model_info": {"model_path": "tiny"}, "/get_server_info": {"version": "0.5.23"}},
    "tgi": {"/info": {"model_id": "tgi-model", "version": "3.3.5"}},
}
Script = Sequence[str | Exception]  # one /metrics answer (or failure) per read; the last one repeats


def capture(name: str) -> str:
    """A capture from tests/fixtures/engines."""
    return (FIXTURES / name).read_text()


class Engines:
    """A mock transport routing by host: each host answers its identity JSON and its scripted /metrics."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[str | Exception]] = {}
        self.identity: dict[str, Mapping[str, object]] = {}

    def add(self, host: str, engine_type: str, script: Script) -> str:
        """Serve `script` at http://host:8000; returns that URL."""
        self.scripts[host] = list(script)
        self.identity[host] = IDENTITY.get(engine_type, {})
        return f"http://{host}:8000"

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        host, path = request.url.host, request.url.path
        if path != "/metrics":
            found = self.identity[host].get(path)
            return httpx.Response(200, json=found) if found is not None else httpx.Response(404)
        script = self.scripts[host]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(200, text=answer, headers={"content-type": "text/plain; version=0.0.4"})


def watched(client: httpx.Client, urls: tuple[str, str], reads: int, step: float = 30.0) -> tuple[Side, Side]:
    """Both sides watched for `reads` readings `step` seconds apart, on a fake clock."""
    now = [0.0]
    sides = (open_side("before", urls[0], client, 4.0), open_side("after", urls[1], client, 4.0))

    def sleep(seconds: float) -> None:
        now[0] += seconds

    watch(sides, step * (reads - 1), step, lambda *_: None, clock=lambda: now[0], sleep=sleep)
    return sides
