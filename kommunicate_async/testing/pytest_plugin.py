"""Pytest fixtures for code that uses kommunicate_async. Opt in from a conftest.py:

    pytest_plugins = ["kommunicate_async.testing.pytest_plugin"]

Fixtures (function scope, on pytest-asyncio's loop):
    kommunicate_fake: a running `FakeKommunicate`.
    kommunicate_session: a `KommunicateSession` connected to it, closed afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest_asyncio

from ._server import FakeKommunicate

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .._session import KommunicateSession

__all__ = ["kommunicate_fake", "kommunicate_session"]


@pytest_asyncio.fixture
async def kommunicate_fake() -> AsyncIterator[FakeKommunicate]:
    """A running in-memory Kommunicate on 127.0.0.1 (a free port)."""
    async with FakeKommunicate() as fake:
        yield fake


@pytest_asyncio.fixture
async def kommunicate_session(
    kommunicate_fake: FakeKommunicate,
) -> AsyncIterator[KommunicateSession]:
    """A session against `kommunicate_fake`."""
    async with kommunicate_fake.session() as km:
        yield km
