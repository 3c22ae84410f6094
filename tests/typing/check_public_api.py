"""Static checks of the public API's result types (mypy and pyright, both strict).

Nothing here runs: the type checkers read it (`.ci/run` checks `tests/` with mypy
and this folder with pyright). `assert_type` fails the check when a public method's
result is not exactly the type it documents, so an `Any` cannot leak out unnoticed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, assert_type

from kommunicate_async import (
    AssignOutcome,
    BatchReport,
    Conversation,
    ItemResult,
    KommunicateSession,
    LoginResult,
    Message,
    OutgoingMessage,
    SentMessage,
    User,
    rich,
)
from kommunicate_async.bots import BotApp, BotContext, BotRequest, BotResponse, Reply
from kommunicate_async.rich import RichContent

if TYPE_CHECKING:
    from kommunicate_async._pipeline.client import ApiClient
    from kommunicate_async._pipeline.routing import Route


async def resources(km: KommunicateSession) -> None:
    chat = await km.conversations.create(["u"])
    assert_type(chat, Conversation)
    assert_type(await km.conversations.get_or_create(["u"]), Conversation)
    assert_type(await km.conversations.get(1), Conversation)
    assert_type(await km.conversations.update_info(chat, {"a": 1}), Conversation)
    async for listed in km.conversations.list():
        assert_type(listed, Conversation)
    assert_type(await km.messages.send(chat, "hi"), SentMessage)
    assert_type(
        await km.messages.send(chat, rich.suggested_replies("?", ["a"])), SentMessage
    )
    assert_type(await km.messages.send_file(chat, b"x", name="a.txt"), SentMessage)
    async for message in km.messages.list(chat):
        assert_type(message, Message)
        assert_type(message.rich, RichContent | None)
    assert_type(await km.assignees.change(chat, "a@x.io"), AssignOutcome)
    assert_type(await km.assignees.get(chat), User | None)
    assert_type(await km.unread.count("u"), int)
    assert_type(await km.unread.counts(["u"]), dict[str, int])
    assert_type(await km.users.get("u"), User)
    assert_type(await km.users.get_many(["u"]), list[User])
    assert_type(await km.users.login("u", password="p"), LoginResult)


async def batches(km: KommunicateSession) -> None:
    items = [OutgoingMessage(1, "hi")]
    async with km.messages.iter_send(items, concurrency=4, reconcile=True) as results:
        async for result in results:
            assert_type(result, ItemResult)
    assert_type(await km.messages.send_many(items, rate_limit=10.0), BatchReport)


async def pipeline(client: ApiClient, route: Route) -> None:
    assert_type(await client.call(route, SentMessage), SentMessage)
    assert_type(await client.call(route, list[User]), list[User])
    assert_type(await client.call(route, str), str)
    assert_type(await client.call(route, str, empty=True), str | None)


async def bots(km: KommunicateSession, request: BotRequest, ctx: BotContext) -> None:
    app = BotApp(km, bot_header=("X-Bot-Token", "s"))

    @app.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        return request.text

    @app.on_message(bot_id="b")
    async def other(request: BotRequest, ctx: BotContext) -> Reply:
        return Reply.handoff()

    assert_type(await answer(request, ctx), str)  # decorators keep types
    assert_type(await other(request, ctx), Reply)
    assert_type(await app.handle("bot", {}, b"{}"), BotResponse)
    assert_type(rich.card("t", rich.Card("T")), rich.RichMessage)
