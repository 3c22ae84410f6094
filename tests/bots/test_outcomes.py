"""Every answer is delivered or reported, at once: over real HTTP, both adapters.

A run has one owner (kommunicate_async/bots/_runs.py): whatever a handler returns
or raises, the request is answered with the fallback within milliseconds, the
failure is logged once (key and conversation, never the body), a redelivery gets
the same bytes, and a late answer ends posted or in `undelivered`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from kommunicate_async import ConfigurationError, rich
from kommunicate_async.bots import BotApp, BotContext, BotRequest, Reply
from kommunicate_async.testing import serve_bot

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate

SECRET = "dashboard-header-s3cret"
HEADER = ("X-Bot-Token", SECRET)
FALLBACK = b'[{"message":"Sorry, try again"}]'


@pytest.fixture(params=["aiohttp", "asgi"])
def adapter(request: pytest.FixtureRequest) -> Any:
    return request.param


class _NotJson:
    pass


BAD_RESULTS: dict[str, Any] = {
    "empty-str": "",
    "empty-reply": Reply(""),
    "lone-surrogate": "caf\udce9",
    "non-json-metadata": Reply("hi", {"x": _NotJson()}),
    "non-str-metadata-key": Reply("hi", {1: "x"}),  # type: ignore[dict-item]
    "wrong-type": 42,
    "dict": {"message": "hi"},
    "list-with-wrong-item": ["fine", 3.5],
    "empty-in-a-list": ["fine", ""],
}


def body(key: str, text: str = "hi", group_id: int = 7) -> bytes:
    return msgspec.json.encode(
        {"key": key, "groupId": group_id, "botId": "bot", "message": text}
    )


async def post(url: str, payload: bytes) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=payload, headers=dict([HEADER])) as reply,
    ):
        return reply.status, await reply.read(), time.perf_counter() - started


async def test_every_bad_handler_result_is_the_fallback_at_once(
    adapter: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "kommunicate_async")
    bot = BotApp(None, bot_header=HEADER, fallback="Sorry, try again")
    calls: list[str] = []

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> Any:
        calls.append(request.key)
        if request.text.startswith("raise"):
            raise RuntimeError("boom")
        if request.text == "cancelled":
            raise asyncio.CancelledError
        return BAD_RESULTS[request.text]

    cases = [*BAD_RESULTS, "raise: my card is 4111 1111", "cancelled"]
    async with serve_bot(bot, adapter=adapter) as server:
        for index, case in enumerate(cases):
            caplog.clear()
            key = f"m-{index}"
            status, first, took = await post(
                server.bot_url, body(key, case, 40 + index)
            )
            assert (status, first) == (200, FALLBACK), case
            assert took < 5, (case, took)  # not after the 25 s reply deadline
            lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(lines) == 1, (case, caplog.text)
            text = lines[0].getMessage()
            assert key in text and f"conversation {40 + index}" in text
            assert "4111" not in caplog.text and "caf" not in text
            _, again, took = await post(server.bot_url, body(key, case, 40 + index))
            assert again == first and took < 5  # a redelivery: the same bytes, at once
    assert len(calls) == len(cases)  # each ran once


async def test_the_apps_own_shutdown_is_not_a_handler_failure() -> None:
    bot = BotApp(None, bot_header=HEADER, reply_deadline=0.05)
    started = asyncio.Event()

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    reply = await bot.handle("bot", dict([HEADER]), body("k"))
    assert reply.body == b"[]"  # no interim configured
    await bot.aclose(grace=0.01)
    assert [(u.key, u.reason) for u in bot.undelivered] == [
        ("k", "shut down before the handler finished")
    ]


async def test_interim_and_fallback_take_one_reply_or_a_sequence() -> None:
    cases: list[tuple[Any, list[dict[str, Any]]]] = [
        ("One moment", [{"message": "One moment"}]),  # ONE message, not 10
        (Reply("One moment"), [{"message": "One moment"}]),
        (
            rich.suggested_replies("Wait?", ["Yes"]),
            [rich.suggested_replies("Wait?", ["Yes"]).bot_reply()],
        ),
        (["a", Reply("b")], [{"message": "a"}, {"message": "b"}]),
        (("a",), [{"message": "a"}]),
    ]
    for given, expected in cases:
        bot = BotApp(
            None, bot_header=HEADER, reply_deadline=0.01, interim=given, fallback=given
        )
        release = asyncio.Event()

        @bot.on_message
        async def answer(
            request: BotRequest, ctx: BotContext, release: asyncio.Event = release
        ) -> str:
            if request.text == "fail":
                raise ValueError("x")
            await release.wait()
            return "late"

        slow = await bot.handle("bot", dict([HEADER]), body("slow"))
        failed = await bot.handle("bot", dict([HEADER]), body("fail", "fail"))
        assert msgspec.json.decode(slow.body) == expected
        assert msgspec.json.decode(failed.body) == expected
        release.set()
        await bot.aclose(grace=1)
    bads: list[Any] = ["", Reply(""), 42, [1], ["ok", None]]
    for bad in bads:
        with pytest.raises(ConfigurationError, match="interim"):
            BotApp(None, interim=bad)
        with pytest.raises(ConfigurationError, match="fallback"):
            BotApp(None, fallback=bad)


async def test_a_string_interim_is_one_message_over_http(adapter: Any) -> None:
    bot = BotApp(None, bot_header=HEADER, reply_deadline=0.05, interim="One moment")

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        await asyncio.sleep(0.5)
        return "late"

    async with serve_bot(bot, adapter=adapter) as server:
        status, reply, _ = await post(server.bot_url, body("k"))
        await bot.aclose(grace=0.01)
    assert (status, msgspec.json.decode(reply)) == (200, [{"message": "One moment"}])


async def test_a_redelivery_during_the_late_post_gets_empty_at_once(
    fake: FakeKommunicate, session: KommunicateSession, adapter: Any
) -> None:
    bot = BotApp(session, bot_header=HEADER, reply_deadline=0.05, interim="One moment")
    chat = await session.conversations.create(["user-1"])

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        await asyncio.sleep(0.1)
        return "late answer"

    async with serve_bot(bot, adapter=adapter) as server:
        fake.commit_delay = 2.0  # the late post takes 2 s to be answered
        first = await fake.deliver_bot_message(
            server.bot_url, "hi", group_id=chat.id, bot_id="bot", header=HEADER
        )
        await asyncio.sleep(0.15)  # the handler is done; its post is on its way
        started = time.perf_counter()
        during = await fake.redeliver(first.key)
        took = time.perf_counter() - started
        await bot.aclose(grace=5)
    assert msgspec.json.decode(first.body) == [{"message": "One moment"}]
    assert during.body == b"[]" and took < 1.5  # not after the post's 2 s
    assert [m.text for m in fake.messages(chat.id)][-1] == "late answer"
    assert bot.undelivered == []


async def test_shutdown_with_posts_in_flight_loses_nothing_silently(
    fake: FakeKommunicate, session: KommunicateSession, caplog: pytest.LogCaptureFixture
) -> None:
    """100 late answers, posts slowed down, a short grace: each one is either in the
    conversation or in `undelivered` (with its text) and logged."""
    bot = BotApp(session, bot_header=HEADER, reply_deadline=0.01)
    chat = await session.conversations.create(["user-1"])

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        await asyncio.sleep(0.05 if int(request.text[1:]) % 2 else 0.25)
        return f"answer to {request.text}"

    fake.commit_delay = 0.3  # odd: posted by ~0.35 s; even: cut off at ~0.5 s
    await asyncio.gather(
        *(
            bot.handle("bot", dict([HEADER]), body(f"k{i}", f"q{i}", chat.id))
            for i in range(100)
        )
    )
    await bot.aclose(grace=0.4)
    fake.commit_delay = 0.0
    await asyncio.sleep(0.4)  # let the server finish what reached it
    posted = {m.text for m in fake.messages(chat.id) if m.sender == "bot"}
    reported = {u.text for u in bot.undelivered}
    everything = {f"answer to q{i}" for i in range(100)}
    assert posted | reported == everything
    assert len(posted) >= 50 and len(reported) >= 50  # both ways were exercised
    assert {u.reason for u in bot.undelivered} == {
        "shut down while posting (the reply in flight may have arrived)"
    }
    errors = [r for r in caplog.records if "not delivered" in r.getMessage()]
    assert len(errors) == len(bot.undelivered)
    assert all(u.replies and u.reason for u in bot.undelivered)
