"""Real completion traffic for a live engine: some prompts share a long prefix (prefix-cache hits), some do not."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

# About 450 tokens with the tiny model's tokenizer: several KV blocks at any engine's block size, so the
# requests that repeat it are served partly from the prefix cache, yet well inside the 1024-token context.
SHARED_PREFIX = " ".join(
    f"Section {n}: the licensee may copy, modify and distribute the work under the terms of this license."
    for n in range(1, 21)
)


@dataclass(frozen=True)
class TrafficResult:
    """What a traffic run sent and what the engine said it used."""

    requests: int
    prompt_tokens: int
    completion_tokens: int


def build_prompts(count: int, shared: int) -> list[str]:
    """`count` prompts; the first `shared` start with SHARED_PREFIX, the rest are short and unique."""
    if not 0 <= shared <= count:
        raise ValueError(f"shared={shared} must be between 0 and count={count}")
    with_prefix = [f"{SHARED_PREFIX} Question {i}: which section applies?" for i in range(shared)]
    unique = [f"Request {i} of {count}: summarise clause {i * 7 + 3} in one line." for i in range(count - shared)]
    return with_prefix + unique


def send_completions(
    base_url: str,
    model: str,
    count: int,
    shared: int,
    concurrency: int = 1,
    max_tokens: int = 8,
    mix_streaming: bool = False,
    timeout: float = 120.0,
) -> TrafficResult:
    """POST `count` /v1/completions (`shared` with the common prefix) over `concurrency` threads.

    With `mix_streaming`, every other request is streamed (server-sent events, usage in the last chunk).
    """
    prompts = build_prompts(count, shared)
    with httpx.Client(base_url=base_url, timeout=timeout) as client:

        def complete(numbered: tuple[int, str]) -> dict[str, int]:
            index, prompt = numbered
            body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0}
            if mix_streaming and index % 2:
                return _streamed_usage(client, body)
            response = client.post("/v1/completions", json=body)
            response.raise_for_status()
            return dict(response.json()["usage"])

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            usages = list(pool.map(complete, enumerate(prompts)))
    return TrafficResult(
        requests=len(usages),
        prompt_tokens=sum(u["prompt_tokens"] for u in usages),
        completion_tokens=sum(u["completion_tokens"] for u in usages),
    )


def _streamed_usage(client: httpx.Client, body: dict[str, Any]) -> dict[str, int]:
    """Send one streamed completion, read it to the end, and return the usage its last chunk reports."""
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    usage: dict[str, int] | None = None
    with client.stream("POST", "/v1/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            data = line.removeprefix("data:").strip()
            if not line.startswith("data:") or data == "[DONE]":
                continue
            usage = json.loads(data).get("usage") or usage
    if usage is None:
        raise RuntimeError(f"streamed completion from {client.base_url} reported no usage")
    return usage
