"""BotApp's framework-free core: auth, routing, deadlines, exactly once, shutdown."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from kommunicate_async import ConfigurationError
from kommunicate_async.bots import (
    BotApp,
    BotContext,
    BotRequest,
    MemoryReplyStore,
    Reply,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

SECRET = "s3cret-bot-header"
HEADERS = {"X-Bot-Token": SECRET}


def body(key: str = "5-k", text: str = "hi", **extra: Any) -> bytes:
    return msgspec.json.encode(
        {"key": key, "groupId": 7, "botId": "bot", "message": text, **extra}
    )


def app(**kwargs: Any) -> BotApp:
    return BotApp(None, bot_header=("X-Bot-Token", SECRET), **kwargs)


async def test_answers_with_the_handlers_replies() -> None:
    bot = app()
    seen: list[tuple[str, float]] = []

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        seen.append((request.text, ctx.time_left()))
        return f"echo: {request.text}"

    reply = await bot.handle("bot", HEADERS, body())
    assert (reply.status, reply.body, reply.content_type) == (
        200,
        b'[{"message":"echo: hi"}]',
        "application/json",
    )
    assert seen[0][0] == "hi" and 0 < seen[0][1] <= 25


async def test_routing_by_event_and_bot() -> None:
    bot = app()

    @bot.on_event("WELCOME")
    async def welcome(request: BotRequest, ctx: BotContext) -> str:
        return "welcome"

    @bot.on_message(bot_id="sales")
    async def sales(request: BotRequest, ctx: BotContext) -> str:
        return "sales"

    @bot.on_message
    async def anything(request: BotRequest, ctx: BotContext) -> None:
        return None

    async def ask(key: str, **extra: Any) -> bytes:
        return (await bot.handle("bot", HEADERS, body(key, **extra))).body

    assert await ask("1", eventName="WELCOME") == b'[{"message":"welcome"}]'
    assert await ask("2", botId="sales") == b'[{"message":"sales"}]'
    assert await ask("3") == b"[]"  # None: no answer
    assert await ask("4", eventName="KOMMUNICATE_MEDIA_EVENT") == b"[]"  # no handler


@pytest.mark.parametrize(
    ("headers", "request_body", "status"),
    [
        pytest.param({}, body(), 401, id="no-header"),
        pytest.param({"X-Bot-Token": "wrong"}, body(), 401, id="wrong-header"),
        pytest.param({"Authorization": SECRET}, body(), 401, id="other-header"),
        pytest.param(HEADERS, b"{nope", 400, id="not-json"),
        pytest.param(HEADERS, b'{"groupId": 1}', 400, id="no-key"),
    ],
)
async def test_refused_requests_never_reach_a_handler(
    headers: dict[str, str],
    request_body: bytes,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = app()
    called: list[BotRequest] = []

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> None:
        called.append(request)

    caplog.set_level(logging.DEBUG)
    reply = await bot.handle("bot", headers, request_body)
    assert reply.status == status and called == []
    assert SECRET not in reply.body.decode() and SECRET not in caplog.text
    assert "wrong" not in caplog.text.replace("wrong X-Bot-Token", "")


async def test_a_failing_handler_answers_with_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = app()

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        raise RuntimeError("boom")

    reply = await bot.handle("bot", HEADERS, body(text="my card is 4111 1111"))
    assert msgspec.json.decode(reply.body) == [
        {
            "message": "Sorry, something went wrong. Let me find you a person.",
            "metadata": {"KM_ASSIGN_TO": ""},
        }
    ]
    assert "RuntimeError" in caplog.text and "5-k" in caplog.text
    assert "4111" not in caplog.text  # the message body is never logged
    custom = app(fallback=["Try again later"])

    @custom.on_message
    async def bad(request: BotRequest, ctx: BotContext) -> object:
        return {"not": "a reply"}

    assert (
        await custom.handle("bot", HEADERS, body())
    ).body == b'[{"message":"Try again later"}]'


async def test_a_redelivery_while_running_waits_and_runs_nothing_twice() -> None:
    bot = app()
    runs: list[str] = []
    release = asyncio.Event()

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        runs.append(request.key)
        await release.wait()
        return "done"

    first = asyncio.ensure_future(bot.handle("bot", HEADERS, body()))
    second = asyncio.ensure_future(bot.handle("bot", HEADERS, body()))
    await asyncio.sleep(0.01)
    release.set()
    replies = await asyncio.gather(first, second)
    assert [r.body for r in replies] == [b'[{"message":"done"}]'] * 2
    later = await bot.handle("bot", HEADERS, body())
    assert later.body == b'[{"message":"done"}]'  # the same bytes, not a new run
    assert runs == ["5-k"]


async def test_a_slow_handler_is_deferred_and_posted_once() -> None:
    bot = app(reply_deadline=0.05, interim=["One moment…"])
    posted: list[tuple[str, list[Any]]] = []

    async def post(request: BotRequest, replies: Sequence[Any]) -> None:
        posted.append((request.key, list(replies)))

    bot.deliverer.post = post  # type: ignore[method-assign]
    release = asyncio.Event()

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        await release.wait()
        return "late"

    first = await bot.handle("bot", HEADERS, body())
    assert msgspec.json.decode(first.body) == [{"message": "One moment…"}]
    interim = await bot.handle("bot", HEADERS, body())  # a redelivery: times out too
    assert msgspec.json.decode(interim.body) == [{"message": "One moment…"}]
    release.set()
    await asyncio.sleep(0.01)
    assert posted == [("5-k", [Reply("late")])]
    after = await bot.handle("bot", HEADERS, body())
    assert after.body == b"[]"  # posted already: a redelivery must not repeat it
    assert len(posted) == 1


async def test_serialize_runs_one_handler_per_conversation() -> None:
    bot = app(serialize=True)
    active: list[int] = []
    peak = 0

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        nonlocal peak
        active.append(1)
        peak = max(peak, len(active))
        await asyncio.sleep(0.01)
        active.pop()
        return "ok"

    await asyncio.gather(*(bot.handle("bot", HEADERS, body(f"k{i}")) for i in range(5)))
    assert peak == 1
    assert bot._locks == {}  # pyright: ignore[reportPrivateUsage]
    other = app()

    @other.on_message
    async def parallel(request: BotRequest, ctx: BotContext) -> str:
        nonlocal peak
        active.append(1)
        peak = max(peak, len(active))
        await asyncio.sleep(0.01)
        active.pop()
        return "ok"

    peak = 0
    await asyncio.gather(
        *(other.handle("bot", HEADERS, body(f"k{i}")) for i in range(5))
    )
    assert peak == 5


async def test_shutdown_drains_then_reports_what_did_not_finish() -> None:
    bot = app(reply_deadline=0.01)
    posted: list[str] = []

    async def post(request: BotRequest, replies: Sequence[Any]) -> None:
        posted.append(request.key)

    bot.deliverer.post = post  # type: ignore[method-assign]

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        await asyncio.sleep(0.05 if request.key == "quick" else 10)
        return "x"

    await bot.handle("bot", HEADERS, body("quick"))
    await bot.handle("bot", HEADERS, body("stuck"))
    await bot.aclose(grace=0.2)
    assert posted == ["quick"]
    assert [(u.key, u.reason) for u in bot.undelivered] == [
        ("stuck", "shut down before the handler finished")
    ]
    assert (await bot.handle("bot", HEADERS, body("new"))).status == 503


async def test_without_auth_it_refuses_to_serve_unless_insecure() -> None:
    bare = BotApp(None)

    @bare.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        return "x"

    with pytest.raises(ConfigurationError, match="set bot_header"):
        await bare.handle("bot", {}, body())
    with pytest.raises(ConfigurationError, match="set bot_header"):
        bare.aiohttp_app()
    insecure = BotApp(None, insecure_no_auth=True)
    insecure.on_message(answer)
    with pytest.warns(RuntimeWarning, match="insecure_no_auth"):
        assert (await insecure.handle("bot", {}, body())).status == 200
    assert (await insecure.handle("bot", {}, body("2"))).status == 200  # warned once


@pytest.mark.parametrize("deadline", [0, -1, 61, "5"])
def test_bad_deadlines(deadline: Any) -> None:
    with pytest.raises(ConfigurationError, match="reply_deadline"):
        BotApp(None, reply_deadline=deadline)


async def test_token_check() -> None:
    bot = app()
    assert (await bot.handle("token", {}, b"{}")).status == 404

    @bot.on_token_check
    async def check(user_id: str, token: str) -> bool:
        if token == "explode":
            raise ValueError("db down")
        return (user_id, token) == ("user-1", "good")

    async def ask(payload: bytes) -> tuple[int, bytes]:
        reply = await bot.handle("token", {}, payload)
        return reply.status, reply.body

    assert await ask(b'{"userId":"user-1","token":"good"}') == (200, b"true")
    assert await ask(b'{"userId":"user-1","token":"bad"}') == (200, b"false")
    assert await ask(b'{"userId":"user-1","token":"explode"}') == (200, b"false")
    assert (await ask(b'{"userId":1}'))[0] == 400


async def test_store_is_bounded() -> None:
    store = MemoryReplyStore(max_keys=3)
    bot = app(store=store)

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        return "x"

    for i in range(10):
        await bot.handle("bot", HEADERS, body(f"k{i}"))
    assert len(store) == 3


async def test_memory_store_ttl_and_release() -> None:
    store = MemoryReplyStore(ttl=0.0)
    assert await store.claim("k")
    assert await store.claim("k")  # expired at once
    keep = MemoryReplyStore()
    assert await keep.claim("k") and not await keep.claim("k")
    await keep.release("k")
    assert await keep.claim("k")


WEBHOOK_HEADERS = {"Authentication": "Basic d2gtdG9rZW4="}  # base64("wh-token")


def webhook_body(key: str = "m-1", sender: str = "user", **extra: Any) -> bytes:
    return msgspec.json.encode(
        {"key": key, "groupId": 7, "from": sender, "message": "hi", **extra}
    )


async def test_a_failed_webhook_handler_is_a_500_and_may_be_retried() -> None:
    bot = BotApp(None, webhook_token="wh-token")
    attempts: list[str] = []

    @bot.on_webhook
    async def flaky(message: Any, ctx: Any) -> None:
        attempts.append(message.key)
        if len(attempts) == 1:
            raise ConnectionError("crm down")

    assert (await bot.handle("webhook", WEBHOOK_HEADERS, webhook_body())).status == 500
    assert (await bot.handle("webhook", WEBHOOK_HEADERS, webhook_body())).status == 200
    assert (await bot.handle("webhook", WEBHOOK_HEADERS, webhook_body())).status == 200
    assert attempts == [
        "m-1",
        "m-1",
    ]  # retried once after the failure, then never again


async def test_slow_webhook_handlers_finish_in_the_background() -> None:
    bot = BotApp(
        None,
        webhook_token="wh-token",
        reply_deadline=0.01,
        include_echoes=True,
        bot_ids=["bot"],
    )
    done: list[str] = []

    @bot.on_webhook
    async def slow(message: Any, ctx: Any) -> None:
        await asyncio.sleep(0.05)
        done.append(message.sender)

    reply = await bot.handle("webhook", WEBHOOK_HEADERS, webhook_body(sender="bot"))
    assert (reply.status, done) == (200, [])  # answered before the handler finished
    await bot.aclose(grace=1)
    assert done == ["bot"]  # an echo, delivered because include_echoes=True


async def test_a_key_run_by_another_worker_is_awaited_through_the_store() -> None:
    store = MemoryReplyStore()
    worker_a, worker_b = (
        app(store=store, reply_deadline=0.5),
        app(store=store, reply_deadline=0.5),
    )
    runs: list[str] = []

    for bot in (worker_a, worker_b):

        @bot.on_message
        async def answer(request: BotRequest, ctx: BotContext) -> str:
            runs.append(request.key)
            await asyncio.sleep(0.1)
            return "from one worker"

    a, b = await asyncio.gather(
        worker_a.handle("bot", HEADERS, body()), worker_b.handle("bot", HEADERS, body())
    )
    assert a.body == b.body == b'[{"message":"from one worker"}]'
    assert runs == ["5-k"]
    impatient = app(store=MemoryReplyStore(), reply_deadline=0.05)
    await impatient.store.claim("5-x")  # claimed elsewhere, never answered
    assert (await impatient.handle("bot", HEADERS, body("5-x"))).body == b"[]"
