"""`llm-exporter probe`: one fetch of an engine, explained."""

from __future__ import annotations

import time

import httpx
from prometheus_client.utils import floatToGoString

from exporter.config import TargetConfig, default_name, redact
from exporter.target import Target


def _escape(value: str) -> str:
    """A label value as the exposition format writes it, so a newline in a model name cannot break the line."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def report(client: httpx.Client, url: str, engine_type: str, model: str, timeout: float) -> str:
    """A human-readable account of one fetch: engine, mapped families with values, unmapped families, timing."""
    config = TargetConfig(
        url=url,
        name=default_name(url),
        engine_type=engine_type,
        model=model,
        interval=max(timeout, 1.0),
        timeout=timeout,
        max_response_bytes=64 << 20,
    )
    started = time.monotonic()
    target = Target(config, client)
    engine, result, families = target.scrape_once()
    elapsed = time.monotonic() - started
    lines = [
        f"target:   {redact(url)}",
        f"engine:   {engine.engine_type if engine else 'unknown'}",
        f"families: {len(families)} in the scrape",
        f"timing:   {elapsed * 1000:.1f} ms (fetch + parse + map)",
    ]
    if target.mismatch:
        lines.append(f"warning:  {target.mismatch}")
    if engine is None or result is None:
        lines.append("\nno engine table knows these families; all are unmapped:")
        lines += [f"  {family.name}" for family in families]
        return "\n".join(lines)
    lines.append(f"\nmapped: {len(result.mapped)} engine families -> {len(result.families)} unified families")
    for family in result.families:
        lines.append(f"  {family.name} ({family.type})")
        shown = [s for s in family.samples if not s.name.endswith("_bucket")]
        for sample in shown[:8]:
            labels = ",".join(
                f'{k}="{_escape(v)}"' for k, v in sample.labels.items() if k not in ("engine_type", "target")
            )
            value: str = floatToGoString(sample.value)  # type: ignore[no-untyped-call]
            lines.append(f"      {sample.name}{{{labels}}} {value}")
        if len(shown) > 8:
            lines.append(f"      … {len(shown) - 8} more")
    lines.append(f"\nunmapped engine families ({len(result.unmapped)}):")
    lines += [f"  {name}" for name in result.unmapped] or ["  (none)"]
    lines.append(f"deliberately ignored: {len(result.ignored)}")
    return "\n".join(lines)
