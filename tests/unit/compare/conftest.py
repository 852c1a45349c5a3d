"""Scripted engines for the compare tests, reached through an httpx client with a mock transport."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.scripted import Engines


@pytest.fixture
def engines() -> Iterator[Engines]:
    """Scripted engines reachable through `client`."""
    yield Engines()


@pytest.fixture
def client(engines: Engines) -> Iterator[httpx.Client]:
    """An httpx client whose requests the scripted engines answer."""
    with httpx.Client(transport=httpx.MockTransport(engines.handle)) as client:
        yield client
