"""The one duration parser: Prometheus durations everywhere, the exporter config's decimals kept."""

from __future__ import annotations

import pytest

from exporter.durations import is_prometheus_duration, seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", 0.5),
        ("5s", 5.0),
        ("1m30s", 90.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("2w", 1_209_600.0),
        ("1y", 31_536_000.0),
        ("1m500ms", 60.5),
        ("0.5s", 0.5),
        (" 5s ", 5.0),
    ],
)
def test_seconds_reads_prometheus_durations_and_single_decimals(text: str, expected: float) -> None:
    assert seconds(text) == expected


@pytest.mark.parametrize("text", ["", "5", "soon", "1s1m", "1m1m", "-1s", "1.5d", "1m0.5s"])
def test_seconds_rejects_what_prometheus_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r'must be a duration like "5s"'):
        seconds(text)


@pytest.mark.parametrize(("text", "valid"), [("5m", True), ("1h30m", True), ("0.5s", False), ("", False)])
def test_promql_accepts_only_integer_compound_durations(text: str, valid: bool) -> None:
    assert is_prometheus_duration(text) is valid
