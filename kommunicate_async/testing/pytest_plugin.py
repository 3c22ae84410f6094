"""Pytest fixtures for code that uses kommunicate_async. Opt in from a conftest.py:

    pytest_plugins = ["kommunicate_async.testing.pytest_plugin"]

Fixtures (function scope, on pytest-asyncio's loop):
    kommunicate_fake: a running `FakeKommunicate`.
    kommunicate_session: a `KommunicateSession` connected to it, closed afterwards.
    kommunicate_bot_server: `await kommunicate_bot_server(app)` serves a `BotApp`
        on 127.0.0.1 (aiohttp; `adapter="asgi"` for its ASGI app) until the test
        ends, and returns its `RunningBot` (bot_url, webhook_url, token_url).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import pytest_asyncio

from ._bot_server import RunningBot, serve_bot
from ._server import FakeKommunicate

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from typing import Literal

    from .._session import KommunicateSession
    from ..bots import BotApp

    ServeBot = Callable[..., Awaitable[RunningBot]]

__all__ = ["kommunicate_bot_server", "kommunicate_fake", "kommunicate_session"]


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


@pytest_asyncio.fixture
async def kommunicate_bot_server() -> AsyncIterator[ServeBot]:
    """Serve `BotApp`s for the test's duration: `await kommunicate_bot_server(app)`."""
    async with AsyncExitStack() as stack:

        async def start(
            app: BotApp, *, adapter: Literal["aiohttp", "asgi"] = "aiohttp"
        ) -> RunningBot:
            return await stack.enter_async_context(serve_bot(app, adapter=adapter))

        yield start
