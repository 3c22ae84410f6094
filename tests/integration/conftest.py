"""Loopback fixtures: a real FakeKommunicate and a real session (no mocking)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kommunicate_async import KommunicateSession, Retries, Timeouts
from kommunicate_async.testing import FakeKommunicate

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def fake() -> AsyncIterator[FakeKommunicate]:
    async with FakeKommunicate() as server:
        yield server


@pytest.fixture
async def km(fake: FakeKommunicate) -> AsyncIterator[KommunicateSession]:
    session = fake.session(
        timeout=Timeouts(connect=2, attempt=5, total=10),
        retries=Retries(backoff_base=0.01),
    )
    async with session:
        yield session
