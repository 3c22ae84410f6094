"""A bot end to end over real HTTP on loopback, through both adapters.

FakeKommunicate plays Kommunicate: it stores the user's message, POSTs the bot
request with the dashboard header, and applies the reply array (messages from the
bot, handoffs, resolves). The same tests run against the aiohttp and ASGI adapters.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from kommunicate_async import rich
from kommunicate_async.bots import (
    BotApp,
    BotContext,
    BotRequest,
    Reply,
    WebhookContext,
    WebhookMessage,
)
from kommunicate_async.testing import FakeKommunicate, RunningBot, serve_bot
from tests.fixtures import fixture, raw

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession

SECRET = "dashboard-header-s3cret"
TOKEN = "webhook-t0ken"
HEADER = ("X-Bot-Token", SECRET)


@pytest.fixture(params=["aiohttp", "asgi"])
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_bot(km: KommunicateSession, **kwargs: Any) -> tuple[BotApp, list[str]]:
    bot = BotApp(km, bot_header=HEADER, webhook_token=TOKEN, **kwargs)
    calls: list[str] = []

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> Any:
        calls.append(request.text)
        if request.text == "human":
            return Reply.handoff()
        if request.text == "menu":
            return [
                "Here is what I can do:",
                rich.suggested_replies("Pick one", ["Order status", "Talk to a human"]),
            ]
        if request.text == "slow":
            await asyncio.sleep(0.6)
            return "Sorry for the wait: your order ships today."
        if request.text == "done":
            return Reply.resolve("Glad I could help!")
        return f"You said: {request.text}"

    @bot.on_event("WELCOME")
    async def welcome(request: BotRequest, ctx: BotContext) -> Any:
        return rich.suggested_replies("Hey there", ["Just browsing"])

    return bot, calls


async def running(bot: BotApp, adapter: str) -> Any:
    return serve_bot(bot, adapter="asgi" if adapter == "asgi" else "aiohttp")


async def test_message_in_reply_out_with_a_real_payload_array(
    fake: FakeKommunicate, session: KommunicateSession, adapter: str
) -> None:
    bot, _ = make_bot(session)
    chat = await session.conversations.create(["user-1"])
    async with await running(bot, adapter) as server:
        plain = await fake.deliver_bot_message(
            server.bot_url, "hello", group_id=chat.id, bot_id="bot", header=HEADER
        )
        menu = await fake.deliver_bot_message(
            server.bot_url, "menu", group_id=chat.id, bot_id="bot", header=HEADER
        )
        welcome = await fake.deliver_bot_message(
            server.bot_url,
            "",
            group_id=chat.id,
            bot_id="bot",
            header=HEADER,
            event="WELCOME",
        )
    assert plain.status == 200 and plain.replies == [{"message": "You said: hello"}]
    assert menu.replies[1]["metadata"]["payload"] == [  # a real array in a bot reply
        {"title": "Order status", "message": "Order status"},
        {"title": "Talk to a human", "message": "Talk to a human"},
    ]
    assert welcome.replies[0]["metadata"]["templateId"] == "6"
    texts = [(m.sender, m.text) for m in fake.messages(chat.id)]
    assert texts == [
        ("user", "hello"),
        ("bot", "You said: hello"),
        ("user", "menu"),
        ("bot", "Here is what I can do:"),
        ("bot", "Pick one"),
        ("user", ""),
        ("bot", "Hey there"),
    ]
    # stored as the REST API stores it: the payload a JSON string
    assert (
        msgspec.json.decode(fake.messages(chat.id)[4].metadata["payload"])[0]["title"]
        == "Order status"
    )


async def test_handoff_and_resolve(
    fake: FakeKommunicate, session: KommunicateSession, adapter: str
) -> None:
    bot, _ = make_bot(session)
    chat = await session.conversations.create(["user-1"])
    async with await running(bot, adapter) as server:
        handoff = await fake.deliver_bot_message(
            server.bot_url, "human", group_id=chat.id, bot_id="bot", header=HEADER
        )
        await fake.deliver_bot_message(
            server.bot_url, "done", group_id=chat.id, bot_id="bot", header=HEADER
        )
    assert msgspec.json.decode(handoff.body) == fixture(
        "bot/bot-reply.handoff-to-rules.json"
    )
    group = fake.conversation(chat.id)
    assert (
        group.metadata["CONVERSATION_ASSIGNEE"] == "agent@acme.io"
    )  # the rules picked
    assert group.metadata["CONVERSATION_STATUS"] == "2"


@pytest.mark.slow
async def test_slow_handler_is_answered_exactly_once_despite_redeliveries(
    fake: FakeKommunicate, session: KommunicateSession, adapter: str
) -> None:
    bot, calls = make_bot(session, reply_deadline=0.2)
    chat = await session.conversations.create(["user-1"])
    async with await running(bot, adapter) as server:
        first = await fake.deliver_bot_message(
            server.bot_url, "slow", group_id=chat.id, bot_id="bot", header=HEADER
        )
        again = await fake.redeliver(first.key)  # Kommunicate retries: still running
        assert (first.body, again.body) == (b"[]", b"[]")
        for _ in range(100):
            if len(fake.messages(chat.id)) == 2:
                break
            await asyncio.sleep(0.02)
        late = await fake.redeliver(first.key)  # after the late post: nothing new
    assert late.body == b"[]"
    assert calls == ["slow"]
    answer = fake.messages(chat.id)[1]
    assert (answer.sender, answer.text) == (
        "bot",
        "Sorry for the wait: your order ships today.",
    )
    assert answer.metadata["kmDedupeKey"] == f"bot:{first.key}:0"
    assert len(fake.messages(chat.id)) == 2


async def test_a_lost_answer_is_repeated_byte_for_byte(
    fake: FakeKommunicate, session: KommunicateSession, adapter: str
) -> None:
    bot, calls = make_bot(session)
    chat = await session.conversations.create(["user-1"])
    async with await running(bot, adapter) as server:
        lost = await fake.deliver_bot_message(
            server.bot_url,
            "menu",
            group_id=chat.id,
            bot_id="bot",
            header=HEADER,
            apply=False,
        )
        retry = await fake.redeliver(lost.key)
    assert retry.body == lost.body and calls == ["menu"]
    assert [m.text for m in fake.messages(chat.id)] == [
        "menu",
        "Here is what I can do:",
        "Pick one",
    ]


async def test_bad_auth_is_401_and_bad_body_400_with_no_handler_called(
    fake: FakeKommunicate,
    session: KommunicateSession,
    adapter: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bot, calls = make_bot(session)
    chat = await session.conversations.create(["user-1"])
    async with await running(bot, adapter) as server:
        wrong = await fake.deliver_bot_message(
            server.bot_url,
            "hi",
            group_id=chat.id,
            bot_id="bot",
            header=("X-Bot-Token", "guess"),
        )
        missing = await fake.deliver_bot_message(
            server.bot_url, "hi", group_id=chat.id, bot_id="bot"
        )
        async with aiohttp.ClientSession() as http:
            async with http.post(
                server.bot_url, data=b"{not json", headers={HEADER[0]: HEADER[1]}
            ) as reply:
                bad_status, bad_body = reply.status, await reply.read()
            async with http.post(
                server.webhook_url,
                data=raw("webhook/message-webhook.text.current.json"),
            ) as reply:
                webhook_status = reply.status
    assert (wrong.status, missing.status, bad_status, webhook_status) == (
        401,
        401,
        400,
        401,
    )
    assert b"not JSON" in bad_body
    assert calls == []
    for secret in (SECRET, TOKEN, "guess"):
        assert secret not in caplog.text
        assert secret.encode() not in wrong.body + missing.body + bad_body


async def test_webhook_events_once_without_echoes(
    fake: FakeKommunicate, session: KommunicateSession, adapter: str
) -> None:
    bot, _ = make_bot(session)
    seen: list[tuple[str, str]] = []

    @bot.on_webhook
    async def record(message: WebhookMessage, ctx: WebhookContext) -> None:
        assert ctx.km is session
        seen.append((message.sender, message.text))

    chat = await session.conversations.create(["user-1"])
    async with await running(bot, adapter) as server:
        url = server.webhook_url
        first = await fake.deliver_webhook(
            url, "I need help", group_id=chat.id, token=TOKEN
        )
        again = await fake.deliver_webhook(
            url, "I need help", group_id=chat.id, token=TOKEN, key=first.key
        )
        await fake.deliver_webhook(
            url, "echo of the bot", group_id=chat.id, sender="bot", token=TOKEN
        )
        await fake.deliver_webhook(
            url,
            "assigned to agent",
            group_id=chat.id,
            sender="agent@acme.io",
            token=TOKEN,
            metadata={"category": "HIDDEN"},
        )
        await fake.deliver_webhook(
            url, "from the agent", group_id=chat.id, sender="agent@acme.io", token=TOKEN
        )
    assert (first.status, again.status) == (200, 200)
    assert seen == [("user", "I need help"), ("agent@acme.io", "from the agent")]


async def test_access_token_url(
    fake: FakeKommunicate, session: KommunicateSession, adapter: str
) -> None:
    bot, _ = make_bot(session)

    @bot.on_token_check
    async def check(user_id: str, token: str) -> bool:
        return token == "valid-for-" + user_id

    async with await running(bot, adapter) as server, aiohttp.ClientSession() as http:
        answers = []
        for token in ("valid-for-user-1", "nope"):
            payload = msgspec.json.encode({"userId": "user-1", "token": token})
            async with http.post(server.token_url, data=payload) as reply:
                answers.append((reply.status, await reply.text()))
    assert answers == [(200, "true"), (200, "false")]


async def test_asgi_refuses_other_methods_paths_and_huge_bodies(
    session: KommunicateSession,
) -> None:
    bot, calls = make_bot(session)
    async with (
        serve_bot(bot, adapter="asgi") as server,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(server.bot_url) as reply:
            assert reply.status == 405
        async with http.post(server.url + "/elsewhere", data=b"{}") as reply:
            assert reply.status == 404
        huge = b'{"key":"k","groupId":1,"message":"' + b"x" * (2 * 1024 * 1024) + b'"}'
        async with http.post(
            server.bot_url, data=io.BytesIO(huge), headers={HEADER[0]: HEADER[1]}
        ) as reply:
            assert reply.status == 413
    assert calls == []


async def test_aiohttp_refuses_huge_bodies(session: KommunicateSession) -> None:
    bot, calls = make_bot(session)
    async with serve_bot(bot) as server, aiohttp.ClientSession() as http:
        huge = b'{"key":"k","groupId":1,"message":"' + b"x" * (2 * 1024 * 1024) + b'"}'
        async with http.post(
            server.bot_url, data=io.BytesIO(huge), headers={HEADER[0]: HEADER[1]}
        ) as reply:
            assert reply.status == 413
    assert calls == []


def test_running_bot_urls() -> None:
    server = RunningBot("http://127.0.0.1:1")
    assert (server.bot_url, server.webhook_url, server.token_url) == (
        "http://127.0.0.1:1/bot",
        "http://127.0.0.1:1/webhook",
        "http://127.0.0.1:1/token",
    )
