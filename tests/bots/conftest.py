"""Loopback fixtures for bot tests: a FakeKommunicate whose rules pick an agent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kommunicate_async.testing import FakeKommunicate

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from kommunicate_async import KommunicateSession


@pytest.fixture
async def fake() -> AsyncIterator[FakeKommunicate]:
    """The fake; a handoff to "the rules" lands on agent@acme.io."""
    async with FakeKommunicate(routing_agent="agent@acme.io") as server:
        yield server


@pytest.fixture
async def km(fake: FakeKommunicate) -> AsyncIterator[KommunicateSession]:
    async with fake.session(max_retries=0) as session:
        yield session
