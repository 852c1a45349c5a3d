"""Markers by tier: a test's folder says what it needs, so `-m` selects tiers without a marker in every file."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
TIER_MARKERS = {
    TESTS / "artifacts": pytest.mark.tools,
    TESTS / "integration": pytest.mark.integration,
    TESTS / "e2e": pytest.mark.e2e,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/artifacts, tests/integration and tests/e2e with its tier's marker."""
    for item in items:
        # A gpu test runs only when asked for by -m gpu (on a GPU machine), never as part of `-m e2e`.
        if item.get_closest_marker("gpu") is not None:
            continue
        for folder, marker in TIER_MARKERS.items():
            if folder in item.path.parents:
                item.add_marker(marker)
