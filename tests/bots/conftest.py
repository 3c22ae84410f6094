"""Loopback fixtures for bot tests: a FakeKommunicate whose rules pick an agent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kommunicate_async.testing import FakeKommunicate
from tests.scaleout.conftest import RedisProcess

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from redis.asyncio import Redis

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


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    """A throwaway redis-server of the test's own (skips without redis-server)."""
    server = RedisProcess()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_server: RedisProcess) -> AsyncIterator[Redis]:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()
