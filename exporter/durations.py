"""The one duration parser of the project: Prometheus durations (`500ms`, `1m30s`, `1d`, `2w`) to seconds.

The exporter config, the CLI flags and the rule settings all read durations through `seconds`, so a duration
that works in one place works in every other, and the rule settings accept exactly what PromQL accepts.
"""

from __future__ import annotations

import re

# Units largest first, each at most once, as Prometheus' model.ParseDuration requires.
_UNITS = {"y": 31_536_000.0, "w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PROMETHEUS = re.compile("".join(rf"(?:(?P<{unit}>[0-9]+){unit})?" for unit in _UNITS))
# A single decimal amount ("0.5s") is not Prometheus syntax; the exporter config accepted it before, so it stays.
_DECIMAL = re.compile(r"(?P<amount>[0-9]+\.[0-9]+)(?P<unit>ms|s|m|h)")


def seconds(text: str) -> float:
    """Seconds in a Prometheus duration (or one decimal amount like "0.5s"); ValueError otherwise."""
    stripped = text.strip()
    decimal = _DECIMAL.fullmatch(stripped)
    if decimal:
        return float(decimal["amount"]) * _UNITS[decimal["unit"]]
    match = _PROMETHEUS.fullmatch(stripped) if stripped else None
    if match is None:
        raise ValueError(f'must be a duration like "5s", got {text!r}')
    return sum(int(amount) * _UNITS[unit] for unit, amount in match.groupdict().items() if amount)


def is_prometheus_duration(text: str) -> bool:
    """Whether PromQL accepts text as a range or `for` duration (`5m`, `1h30m`; not `0.5s`, not empty)."""
    return bool(text) and _PROMETHEUS.fullmatch(text) is not None
