"""Bot spans beyond the late turn (webhook echo link, fallback, token check, a
failed webhook), 429 pauses, and the canary: no secret in any span or metric."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from opentelemetry.trace import StatusCode

from kommunicate_async import (
    KommunicateError,
    KommunicateSession,
    Retries,
    Timeouts,
)
from kommunicate_async.bots import BotApp, BotContext, BotRequest, WebhookMessage
from kommunicate_async.bots._deliver import dedupe_key
from kommunicate_async.testing import FakeKommunicate
from tests.mockapi import BASE_URL, CHAT_URL
from tests.payloads import load

if TYPE_CHECKING:
    from tests.mockapi import MockApi
    from tests.otel.conftest import Otel

SEND = "/rest/ws/message/v2/send"
CANARY = "canary-s3cret-7f1e"


def bot_body(key: str, group_id: int, text: str = "hi") -> bytes:
    return msgspec.json.encode(
        {"key": key, "groupId": group_id, "botId": "bot", "message": text}
    )


def webhook_body(key: str, group_id: int, metadata: dict[str, str]) -> bytes:
    return msgspec.json.encode(
        {
            "key": key,
            "groupId": group_id,
            "from": "bot",
            "message": "x",
            "metadata": metadata,
        }
    )


async def test_the_webhook_echo_of_a_late_post_links_to_the_post(otel: Otel) -> None:
    async with FakeKommunicate() as fake, fake.session(max_retries=0) as km:
        chat = await km.conversations.create(["user-1"])
        bot = BotApp(km, insecure_no_auth=True, reply_deadline=0.01)
        done = asyncio.Event()

        @bot.on_message
        async def answer(request: BotRequest, ctx: BotContext) -> str:
            await asyncio.sleep(0.05)
            done.set()
            return "late"

        @bot.on_webhook
        async def seen(message: WebhookMessage, ctx: object) -> None:
            pass

        await bot.answer("bot", bot_body("k-1", chat.id))
        await done.wait()
        await bot.aclose(grace=5)
        echo = {"kmDedupeKey": dedupe_key("k-1", 0)}
        assert (
            await bot.answer("webhook", webhook_body("m-9", chat.id, echo))
        ).status == 200
        other = {"kmDedupeKey": dedupe_key("k-unknown", 0)}
        await bot.answer("webhook", webhook_body("m-10", chat.id, other))
    (post,) = otel.named("send kommunicate.bot")
    echoed, unrelated = otel.named("kommunicate.webhook")
    (link,) = echoed.links
    assert link.context.span_id == post.context.span_id
    assert dict(link.attributes or {}) == {"messaging.message.id": "bot:k-1:0"}
    assert dict(echoed.attributes or {})["messaging.message.id"] == "m-9"
    assert unrelated.links == ()


async def test_a_failing_handler_is_a_fallback_event_and_count(otel: Otel) -> None:
    bot = BotApp(None, insecure_no_auth=True)

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        raise RuntimeError("handler bug")

    assert (await bot.answer("bot", bot_body("k-2", 7))).status == 200
    (span,) = otel.named("kommunicate.bot")
    assert "kommunicate.bot.fallback" in [e.name for e in span.events]
    metrics = otel.metrics()
    assert metrics["kommunicate.bot.fallbacks"] == [({}, 1)]
    assert metrics["kommunicate.bot.handoffs"] == [
        ({"kommunicate.handoff.target": "rules"}, 1)  # the default fallback
    ]
    assert metrics["kommunicate.bot.requests"] == [
        ({"kommunicate.bot.kind": "bot", "http.response.status_code": 200}, 1)
    ]


async def test_token_checks_and_failed_webhooks_have_server_spans(otel: Otel) -> None:
    bot = BotApp(None, insecure_no_auth=True)

    @bot.on_webhook
    async def broken(message: WebhookMessage, ctx: object) -> None:
        raise RuntimeError("webhook bug")

    @bot.on_token_check
    async def check(user_id: str, token: str) -> bool:
        return token == "ok"

    assert (await bot.answer("webhook", webhook_body("m-1", 7, {}))).status == 500
    token = msgspec.json.encode({"userId": "u", "token": CANARY})
    assert (await bot.answer("token", token)).status == 200
    failed = otel.named("kommunicate.webhook")[0]
    assert dict(failed.attributes or {})["error.type"] == "500"
    assert failed.status.status_code is StatusCode.ERROR
    (checked,) = otel.named("kommunicate.token")
    assert dict(checked.attributes or {})["http.response.status_code"] == 200


async def test_a_429_pause_is_counted(
    otel: Otel, api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, status=429, headers={"Retry-After": "0.01"})
    api.add("POST", SEND, body=load("send_message_bare"))
    await km.messages.send(1, "x")
    assert otel.metrics()["kommunicate.client.rate_limit.pauses"] == [({}, 1)]


def _everything(otel: Otel) -> str:
    parts: list[Any] = []
    for span in otel.finished():
        parts += [span.name, span.attributes, span.status.description]
        parts += [(e.name, e.attributes) for e in span.events]
        parts += [link.attributes for link in span.links]
    parts.append(otel.metrics())
    return repr(parts)


async def test_no_secret_in_any_span_or_metric(otel: Otel, api: MockApi) -> None:
    """The API key as a credential, echoed in an error body, as a query value and
    in a redirect's query; the bot header and a token check's token."""
    session = KommunicateSession(
        CANARY,
        app_id="app-1",
        base_url=BASE_URL,
        chat_url=CHAT_URL,
        timeout=Timeouts(connect=1, attempt=2, total=5),
        retries=Retries(backoff_base=0.0),
        max_retries=0,
    )
    api.add("POST", SEND, body=load("send_message_bare"))
    api.add(
        "POST",
        SEND,
        status=400,
        body=f'{{"status":"error","errorResponse":[{{"description":"bad key {CANARY}"}}]}}',
    )
    api.add("GET", "/rest/ws/x", params={"apiKey": CANARY}, body=b"{}")
    api.add(
        "GET",
        "/rest/ws/y",
        status=302,
        headers={"Location": f"{BASE_URL}/rest/ws/z?token={CANARY}"},
    )
    api.add("GET", "/rest/ws/z", params={"token": CANARY}, body=b"{}")
    async with session as km:
        await km.messages.send(1, "x")
        with pytest.raises(KommunicateError):
            await km.messages.send(1, "y")
        await km.request("GET", "/rest/ws/x", params={"apiKey": CANARY})
        await km.request("GET", "/rest/ws/y")
    bot = BotApp(None, bot_header=("X-Bot-Token", CANARY))

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        return "hi"

    await bot.handle("bot", {"X-Bot-Token": CANARY}, bot_body("k-3", 7))
    seen = _everything(otel)
    assert "/rest/ws/z" in seen and "services.test" in seen  # it did record them
    assert len(otel.finished()) == 5
    assert CANARY not in seen
