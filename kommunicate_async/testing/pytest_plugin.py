"""Pytest fixtures for code that uses kommunicate_async. Opt in from a conftest.py:

    pytest_plugins = ["kommunicate_async.testing.pytest_plugin"]

Fixtures (function scope), on the test's own event loop: pytest-asyncio's (strict
or auto mode) or anyio's (a test marked `@pytest.mark.anyio`, asyncio backend):
    kommunicate_fake: a running `FakeKommunicate`.
    kommunicate_session: a `KommunicateSession` connected to it, closed afterwards.
    kommunicate_bot_server: `await kommunicate_bot_server(app)` serves a `BotApp`
        on 127.0.0.1 (aiohttp; `adapter="asgi"` for its ASGI app) until the test
        ends, and returns its `RunningBot` (bot_url, webhook_url, token_url).

Options (override either in a conftest.py or a test module to change the pair):
    kommunicate_fake_options: keyword arguments for `FakeKommunicate(...)`
        (default `{}`), e.g. `{"routing_agent": "agent@acme.io"}`.
    kommunicate_session_options: keyword arguments for `fake.session(...)`
        (default `{}`), e.g. `{"max_retries": 0}`.

Each public fixture is a plain fixture that picks the async twin for the test's
runner: pytest-asyncio runs only fixtures marked for it, anyio only fixtures of
tests that use `anyio_backend`, and a fixture set up on one loop is unusable on the
other.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import pytest

from ._bot_server import RunningBot, serve_bot
from ._server import FakeKommunicate

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - an anyio-only project
    pytest_asyncio = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from typing import Literal

    from .._session import KommunicateSession
    from ..bots import BotApp

    ServeBot = Callable[..., Awaitable[RunningBot]]

__all__ = [
    "kommunicate_bot_server",
    "kommunicate_fake",
    "kommunicate_fake_options",
    "kommunicate_session",
    "kommunicate_session_options",
]


def _twin(request: pytest.FixtureRequest, name: str) -> Any:
    """The fixture `name` set up by the runner of this test (anyio or asyncio)."""
    uses_anyio = (
        "anyio_backend" in request.fixturenames
        or request.node.get_closest_marker("anyio") is not None
    )
    if not uses_anyio and pytest_asyncio is None:
        raise RuntimeError(
            f"{name} needs pytest-asyncio (pip install 'kommunicate-async[testing]') "
            "or an anyio test (@pytest.mark.anyio)"
        )
    return request.getfixturevalue(f"_{name}_{'anyio' if uses_anyio else 'asyncio'}")


@pytest.fixture
def kommunicate_fake_options() -> dict[str, Any]:
    """Keyword arguments for `FakeKommunicate(...)`: override to configure the fake."""
    return {}


@pytest.fixture
def kommunicate_session_options() -> dict[str, Any]:
    """Keyword arguments for `fake.session(...)`: override to configure the session."""
    return {}


@pytest.fixture
def kommunicate_fake(request: pytest.FixtureRequest) -> FakeKommunicate:
    """A running in-memory Kommunicate on 127.0.0.1 (a free port)."""
    fake: FakeKommunicate = _twin(request, "kommunicate_fake")
    return fake


@pytest.fixture
def kommunicate_session(request: pytest.FixtureRequest) -> KommunicateSession:
    """A session against `kommunicate_fake`, closed after the test."""
    session: KommunicateSession = _twin(request, "kommunicate_session")
    return session


@pytest.fixture
def kommunicate_bot_server(request: pytest.FixtureRequest) -> ServeBot:
    """Serve `BotApp`s for the test's duration: `await kommunicate_bot_server(app)`."""
    serve: ServeBot = _twin(request, "kommunicate_bot_server")
    return serve


# -- the async twins ------------------------------------------------------------------


async def _fake(options: dict[str, Any]) -> AsyncIterator[FakeKommunicate]:
    async with FakeKommunicate(**options) as fake:
        yield fake


async def _session(
    fake: FakeKommunicate, options: dict[str, Any]
) -> AsyncIterator[KommunicateSession]:
    async with fake.session(**options) as km:
        yield km


async def _bot_server() -> AsyncIterator[ServeBot]:
    async with AsyncExitStack() as stack:

        async def start(
            app: BotApp, *, adapter: Literal["aiohttp", "asgi"] = "aiohttp"
        ) -> RunningBot:
            return await stack.enter_async_context(serve_bot(app, adapter=adapter))

        yield start


@pytest.fixture
async def _kommunicate_fake_anyio(
    anyio_backend: object,  # noqa: ARG001 (asks anyio to run this fixture)
    kommunicate_fake_options: dict[str, Any],
) -> AsyncIterator[FakeKommunicate]:
    async for fake in _fake(kommunicate_fake_options):
        yield fake


@pytest.fixture
async def _kommunicate_session_anyio(
    anyio_backend: object,  # noqa: ARG001
    kommunicate_fake: FakeKommunicate,
    kommunicate_session_options: dict[str, Any],
) -> AsyncIterator[KommunicateSession]:
    async for km in _session(kommunicate_fake, kommunicate_session_options):
        yield km


@pytest.fixture
async def _kommunicate_bot_server_anyio(
    anyio_backend: object,  # noqa: ARG001
) -> AsyncIterator[ServeBot]:
    async for start in _bot_server():
        yield start


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def _kommunicate_fake_asyncio(
        kommunicate_fake_options: dict[str, Any],
    ) -> AsyncIterator[FakeKommunicate]:
        async for fake in _fake(kommunicate_fake_options):
            yield fake

    @pytest_asyncio.fixture
    async def _kommunicate_session_asyncio(
        kommunicate_fake: FakeKommunicate,
        kommunicate_session_options: dict[str, Any],
    ) -> AsyncIterator[KommunicateSession]:
        async for km in _session(kommunicate_fake, kommunicate_session_options):
            yield km

    @pytest_asyncio.fixture
    async def _kommunicate_bot_server_asyncio() -> AsyncIterator[ServeBot]:
        async for start in _bot_server():
            yield start
