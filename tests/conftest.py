"""The fixture vocabulary of the whole suite: each name means one thing everywhere.

| name            | what it is                                                      |
|-----------------|-----------------------------------------------------------------|
| `api`           | the mocked hosts (aioresponses + `tests.mockapi.MockApi`)       |
| `km`            | a `KommunicateSession` on the mocked hosts (`api`)              |
| `fake`          | the shipped plugin's `kommunicate_fake`: a loopback             |
|                 | `FakeKommunicate` on the test's own event loop                  |
| `session`       | the shipped plugin's `kommunicate_session`: a session on `fake` |
| `threaded_fake` | a `FakeKommunicate` on a thread of its own, `KOMMUNICATE_*` set |
|                 | (for code that runs `asyncio.run`: the CLI, examples, docs)     |
| `redis_server`  | a throwaway redis-server; `redis`: a client of it               |

A directory conftest or a test module configures `fake`/`session` by overriding
the plugin's `kommunicate_fake_options` / `kommunicate_session_options` (keyword
arguments for `FakeKommunicate(...)` / `fake.session(...)`); it never defines a
fixture of one of these names (tests/test_fixture_vocabulary.py checks). Helpers
that build a session by hand are named for what they build (`session_on(fake)`,
`mocked_session()`), never `session`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from aioresponses import aioresponses

from kommunicate_async import KommunicateSession, Retries, Timeouts
from tests.mockapi import API_KEY, BASE_URL, CHAT_URL, MockApi
from tests.threaded_fake import ThreadedFake

# The fixtures users get from the documented opt-in (see kommunicate_async.testing).
pytest_plugins = ["kommunicate_async.testing.pytest_plugin"]

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from redis.asyncio import Redis

    from kommunicate_async.testing import FakeKommunicate
    from tests.scaleout.conftest import RedisProcess


@pytest.fixture
def fake(kommunicate_fake: FakeKommunicate) -> FakeKommunicate:
    """The plugin's `kommunicate_fake`, under the suite's short name."""
    return kommunicate_fake


@pytest.fixture
def session(kommunicate_session: KommunicateSession) -> KommunicateSession:
    """The plugin's `kommunicate_session` (a session on `fake`), short name."""
    return kommunicate_session


@pytest.fixture
def threaded_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKommunicate]:
    """A fake on its own thread, the environment pointing at it (for `asyncio.run`)."""
    with ThreadedFake() as server:
        monkeypatch.setenv("KOMMUNICATE_API_KEY", server.api_key)
        monkeypatch.setenv("KOMMUNICATE_APP_ID", server.app_id)
        monkeypatch.setenv("KOMMUNICATE_BASE_URL", server.url)
        monkeypatch.setenv("KOMMUNICATE_CHAT_URL", server.url)
        monkeypatch.setenv("KOMMUNICATE_APP_URL", server.url)
        yield server


@pytest.fixture
def api() -> Iterator[MockApi]:
    with aioresponses() as mocked:
        yield MockApi(mocked)


@pytest.fixture
async def km(api: MockApi) -> AsyncIterator[KommunicateSession]:  # noqa: ARG001
    """A session against the mocked hosts (`api` first: mocking must be on)."""
    mocked = KommunicateSession(
        API_KEY,
        app_id="app-1",
        base_url=BASE_URL,
        chat_url=CHAT_URL,
        timeout=Timeouts(connect=1, attempt=2, total=5),
        # No real back-off waits in unit tests; the retry maths is tested on its own.
        retries=Retries(backoff_base=0.0),
    )
    async with mocked:
        yield mocked


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    """A throwaway redis-server of the test's own (skips without redis-server)."""
    from tests.scaleout.conftest import RedisProcess

    server = RedisProcess()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_server: RedisProcess) -> AsyncIterator[Redis]:
    """A client of `redis_server` (tests/temporal uses the shared one instead)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()
