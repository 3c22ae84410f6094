"""Routing (filters, first match, Router include, default), middleware, ctx.state and
request.user(), through `BotApp.handle` with realistic request bodies."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from kommunicate_async import ConfigurationError, InvalidRequestError
from kommunicate_async.bots import (
    BotApp,
    BotContext,
    BotRequest,
    CallNext,
    MemoryStateStore,
    Router,
    StateConflictError,
    filters,
)

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate

SECRET = "s3cret-bot-header"
HEADERS = {"X-Bot-Token": SECRET}
_keys = iter(range(10**6))


def body(text: str = "hi", *, group: int = 7, **extra: Any) -> bytes:
    context = extra.pop("context", {})
    return msgspec.json.encode(
        {
            "key": f"5-{next(_keys)}",
            "groupId": group,
            "botId": extra.pop("botId", "bot"),
            "from": "user-1",
            "message": text,
            "metadata": {"KM_CHAT_CONTEXT": {"kmUserLocale": "en", **context}},
            **extra,
        }
    )


def app(km: KommunicateSession | None = None, **kwargs: Any) -> BotApp:
    return BotApp(km, bot_header=("X-Bot-Token", SECRET), **kwargs)


async def ask(bot: BotApp, text: str = "hi", **extra: Any) -> bytes:
    reply = await bot.handle("bot", HEADERS, body(text, **extra))
    assert reply.status == 200
    return reply.body


def said(text: str) -> bytes:
    return msgspec.json.encode([{"message": text}])


async def test_filters_route_first_match_in_registration_order() -> None:
    bot = app()

    def reply(name: str) -> Any:
        async def handler(request: BotRequest, ctx: BotContext) -> str:
            return name

        return handler

    bot.on_message(reply("help"), when=filters.text("help"))
    bot.on_message(reply("exact"), when=filters.text("Exact", exact=True))
    bot.on_message(reply("order"), when=filters.regex(r"order #?(\d+)"))
    bot.on_message(reply("ads"), when=filters.metadata("source", "ads"))
    bot.on_message(reply("tagged"), when=filters.metadata("source"))
    bot.on_message(reply("email form"), when=filters.form("email"))
    bot.on_message(reply("form"), when=filters.form())
    bot.on_message(reply("image"), when=filters.attachment("image/"))
    bot.on_message(reply("file"), when=filters.attachment())
    bot.on_message(reply("where"), when=filters.location())
    bot.on_message(reply("german"), when=[filters.locale("de"), filters.text("hallo")])
    bot.on_message(
        reply("sales"), bot_id="sales", when=filters.negate(filters.text("x"))
    )
    bot.on_message(
        reply("either"), when=filters.any_of(filters.text("a"), filters.text("b"))
    )
    bot.on_event("WELCOME", when=filters.locale("fr"))(reply("bienvenue"))

    image = {
        "type": "image/png",
        "payload": {"url": "https://x/i.png", "name": "i.png"},
    }
    place = {"type": "location", "payload": {"lat": "1.5", "lon": "2.5"}}
    assert await ask(bot, "  HELP ") == said("help")
    assert await ask(bot, "exact") == b"[]"  # exact: case matters, no match
    assert await ask(bot, "Exact") == said("exact")
    assert await ask(bot, "where is order #123?") == said("order")
    assert await ask(bot, "hey", metadata={"source": "ads"}) == said("ads")
    assert await ask(bot, "hey", metadata={"source": "mail"}) == said("tagged")
    assert await ask(bot, "", context={"formData": {"email": "a@b.c"}}) == said(
        "email form"
    )
    assert await ask(bot, "", context={"formData": {"name": "A"}}) == said("form")
    assert await ask(bot, "", context={"attachments": [image]}) == said("image")
    pdf = {"type": "application/pdf", "payload": {}}
    assert await ask(bot, "", context={"attachments": [pdf]}) == said("file")
    assert await ask(bot, "", context={"attachments": [place]}) == said("where")
    assert await ask(bot, "hallo", context={"kmUserLocale": "de_AT"}) == said("german")
    assert await ask(bot, "hallo", context={"kmUserLocale": "en"}) == b"[]"
    assert await ask(bot, "hallo", context={"kmUserLocale": 5}) == b"[]"
    assert await ask(bot, "y", botId="sales") == said("sales")
    assert await ask(bot, "b") == said("either")
    assert await ask(
        bot, "", eventName="WELCOME", context={"kmUserLocale": "fr-FR"}
    ) == (said("bienvenue"))
    assert await ask(bot, "", eventName="WELCOME") == b"[]"


async def test_router_include_default_and_middleware_order() -> None:
    bot = app()
    calls: list[str] = []

    async def outer(request: BotRequest, ctx: BotContext, call_next: CallNext) -> Any:
        calls.append("app in")
        result = await call_next(request, ctx)
        calls.append("app out")
        return result

    async def only_support(
        request: BotRequest, ctx: BotContext, call_next: CallNext
    ) -> Any:
        calls.append("support")
        return await call_next(request, ctx)

    support = Router("support")
    support.use(only_support)

    @support.on_message(when=filters.text("human"))
    async def human(request: BotRequest, ctx: BotContext) -> str:
        return "a person is coming"

    @support.on_default
    async def fallback(request: BotRequest, ctx: BotContext) -> str:
        return "say human"

    @bot.on_message(when=filters.text("hi"))
    async def hello(request: BotRequest, ctx: BotContext) -> str:
        return "hello"

    bot.include(support)
    bot.use(outer)
    assert "support" in repr(support)
    assert await ask(bot, "hi") == said("hello")
    assert calls == ["app in", "app out"]  # the router's middleware is its own
    calls.clear()
    assert await ask(bot, "Human") == said("a person is coming")
    assert calls == ["app in", "support", "app out"]
    assert await ask(bot, "anything") == said("say human")  # the included default
    assert await ask(bot, "", eventName="OTHER") == b"[]"  # default: plain only


async def test_middleware_can_answer_and_its_failure_is_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = app(fallback="sorry")

    async def limit(request: BotRequest, ctx: BotContext, call_next: CallNext) -> Any:
        if request.text == "spam":
            return "slow down"  # answers without the handler
        if request.text == "boom":
            raise RuntimeError("middleware bug")
        return await call_next(request, ctx)

    bot.use(limit)

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        return "ok"

    assert await ask(bot, "spam") == said("slow down")
    assert await ask(bot, "fine") == said("ok")
    assert await ask(bot, "boom") == said("sorry")
    assert "answer raised" in caplog.text and "RuntimeError" in caplog.text


async def test_conversation_state_typed_and_compare_and_set() -> None:
    bot = app()

    class Cart(msgspec.Struct):
        items: list[str] = []

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        turns = await ctx.state.update("turns", lambda n: n + 1, type=int, default=0)
        cart = await ctx.state.get("cart", type=Cart, default=Cart())
        cart.items.append(request.text)
        await ctx.state.set("cart", cart, ttl=60)
        if request.text == "reset":
            await ctx.state.delete("cart")
        return f"{turns}: {','.join(cart.items)}"

    assert await ask(bot, "a") == said("1: a")
    assert await ask(bot, "b") == said("2: a,b")
    assert await ask(bot, "c", group=8) == said("1: c")  # per conversation
    assert await ask(bot, "reset") == said("3: a,b,reset")
    assert await ask(bot, "d") == said("4: d")


async def test_state_update_retries_then_gives_up() -> None:
    store = MemoryStateStore(max_keys=2)
    bot = app(state=store)
    seen: list[int] = []

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        def bump(n: int) -> int:
            seen.append(n)
            if len(seen) == 1:  # another writer comes first, once
                store._values[("7", "n")] = (10**12, 99, b"41")
            return n + 1

        value = await ctx.state.update("n", bump, type=int, default=0)
        return str(value)

    assert await ask(bot, "x") == said("42")  # read again after the conflict
    assert seen == [0, 41]
    assert await ask(bot, "y") == said("43")
    ctx = BotContext(None, BotRequest("k", 9), 0.0, store=store)

    versions = iter(range(100, 200))

    def always_late(n: int) -> int:
        store._values[("9", "m")] = (10**12, next(versions), b"0")
        return n

    with pytest.raises(StateConflictError, match="kept changing"):
        await ctx.state.update("m", always_late, type=int, default=0)
    assert len(store) == 2  # bounded
    for bad in ("", "x" * 201):
        with pytest.raises(InvalidRequestError):
            await ctx.state.get(bad)
    with pytest.raises(InvalidRequestError):
        await ctx.state.set("v", object())
    with pytest.raises(InvalidRequestError):
        await ctx.state.set("v", "x" * 300_000)
    with pytest.raises(InvalidRequestError):
        await ctx.state.set("v", 1, ttl=0)
    assert "'9'" in repr(ctx.state)
    bare = BotContext(None, BotRequest("k", 9), 0.0)  # built by hand: memory state
    await bare.state.set("v", 1)
    assert await bare.state.get("v", type=int) == 1


async def test_request_user_is_fetched_once_per_conversation(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    await session.users.create("user-1", display_name="Ada")
    bot = app(session)
    seen: list[str | None] = []

    async def enrich(request: BotRequest, ctx: BotContext, call_next: CallNext) -> Any:
        seen.append((await request.user()).display_name)
        return await call_next(request, ctx)

    bot.use(enrich)

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        user = await request.user()
        return f"hi {user.display_name}"

    detail = "POST /rest/ws/user/v2/detail"
    assert await ask(bot, "a") == said("hi Ada")
    assert await ask(bot, "b") == said("hi Ada")
    assert seen == ["Ada", "Ada"]
    fetched = fake.requests_to(detail)
    assert len(fetched) == 1  # once: then cached in ctx.state
    assert msgspec.json.decode(fetched[0].body) == {"userIdList": ["user-1"]}


async def test_request_user_outside_an_app_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="BotApp"):
        await BotRequest("k", 1).user()
    bot = app()

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        await request.user()
        return "unreachable"

    assert b"KM_ASSIGN_TO" in await ask(bot)  # no session: a handler failure


def test_bad_filters_and_routes_are_refused() -> None:
    bot = app()
    with pytest.raises(ConfigurationError):
        filters.regex("(")
    with pytest.raises(ConfigurationError):
        filters.text(5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        filters.locale()
    with pytest.raises(ConfigurationError):
        bot.on_message(when=["not callable"])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError):
        bot.use("nope")  # type: ignore[type-var]
    router = Router()
    with pytest.raises(ConfigurationError):
        router.include(router)
    with pytest.raises(TypeError):
        router.on_default("nope")  # type: ignore[type-var]
    assert filters.regex(re.compile("x"))(BotRequest("k", 1, text="axb"))
