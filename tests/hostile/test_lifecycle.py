"""Per-call deadlines, endless paging, and one session across event loops."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from kommunicate_async import APITimeoutError, EventLoopError, KommunicateSession
from tests.hostile.conftest import HostileServer, session_for
from tests.threaded_fake import ThreadedFake

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

INFO = "/rest/ws/group/info"
CHANGE = "/rest/ws/group/assignee/change"
LIST = "/rest/ws/message/list"
FILTER = "/rest/ws/group/filter"


def slow(
    seconds: float, body: object
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(_: web.Request) -> web.Response:
        await asyncio.sleep(seconds)
        return web.json_response(body)

    return handler


@pytest.mark.slow
async def test_a_lookup_and_a_change_share_one_total_timeout(
    hostile: HostileServer,
) -> None:
    # Before: 2.71 s against a 1.5 s total (each request had its own budget).
    hostile.on("GET", INFO, slow(1.0, {"status": "success", "response": {"id": 7}}))
    hostile.on("PATCH", CHANGE, slow(1.0, {"status": "success", "response": "UPDATED"}))
    async with session_for(hostile, total=1.5, attempt=5) as km:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await km.assignees.change("client-id", "agent@x.io")
        took = time.monotonic() - started
    assert took < 1.8, f"took {took:.2f}s against a 1.5s total"
    assert hostile.count("PATCH", CHANGE) == 1  # started in the time left, cut off


async def test_paging_stops_when_the_server_ignores_the_cursor(
    hostile: HostileServer,
) -> None:
    # Before: 10,337 requests in 3 s, and no end.
    page = [
        {"key": f"k{i}", "message": "m", "createdAtTime": 1000 + i} for i in range(50)
    ]

    async def same_page(_: web.Request) -> web.Response:
        return web.json_response({"message": page})

    hostile.on("GET", LIST, same_page)
    async with session_for(hostile) as km:
        got = [m.key async for m in km.messages.list(5, page_size=50)]
    assert sorted(got) == sorted(str(p["key"]) for p in page)  # each once, no repeat
    assert hostile.count("GET", LIST) <= 4


async def test_conversation_paging_is_bounded_too(hostile: HostileServer) -> None:
    groups = [{"id": i, "createdAtTime": 1000 + i} for i in range(1, 51)]

    async def same_page(_: web.Request) -> web.Response:
        return web.json_response({"status": "success", "response": {"groups": groups}})

    hostile.on("GET", FILTER, same_page)
    async with session_for(hostile) as km:
        got = [g.id async for g in km.conversations.list(page_size=50)]
    assert sorted(got) == list(range(1, 51))
    assert hostile.count("GET", FILTER) <= 6


# -- event loops ---------------------------------------------------------------------


def test_a_module_level_session_follows_asyncio_run() -> None:
    # The Celery / bot-worker pattern: one session made at import time, used from
    # one asyncio.run() per job. Before: "Event loop is closed", ResourceWarnings.
    with ThreadedFake() as fake:
        km = KommunicateSession(fake.api_key, base_url=fake.url, chat_url=fake.url)

        async def job(n: int) -> int:
            chat = await km.conversations.create([f"user-{n}"])
            await km.messages.send(chat, f"job {n}")
            return chat.id

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a leaked pool or socket would warn
            ids = [asyncio.run(job(n)) for n in range(3)]
            asyncio.run(km.aclose())
            gc.collect()
        assert len(set(ids)) == 3
        assert all(len(fake.messages(i)) == 1 for i in ids)


def test_two_live_loops_at_once_are_refused_clearly() -> None:
    with ThreadedFake() as fake:
        km = KommunicateSession(fake.api_key, base_url=fake.url, chat_url=fake.url)
        first_ready, release = threading.Event(), threading.Event()

        async def hold() -> None:
            await km.conversations.create(["u"])
            first_ready.set()
            while not release.is_set():  # noqa: ASYNC110 - a thread sets it
                await asyncio.sleep(0.01)
            await km.aclose()

        thread = threading.Thread(target=asyncio.run, args=(hold(),))
        thread.start()
        try:
            assert first_ready.wait(10)

            async def other() -> None:
                with pytest.raises(EventLoopError, match="one session per event loop"):
                    await km.conversations.create(["u2"])

            asyncio.run(other())
        finally:
            release.set()
            thread.join(10)
