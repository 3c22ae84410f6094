"""Span trees with the SDK's in-memory exporter: a call with a retry, a batch item
reconciled, a bot turn answered late (its post linked to the request)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import msgspec
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from kommunicate_async import (
    KommunicateSession,
    OutgoingMessage,
    ResponseValidationError,
    ServerError,
)
from kommunicate_async.bots import BotApp, BotContext, BotRequest, Reply
from kommunicate_async.testing import FakeKommunicate, FaultPlan, serve_bot
from tests.mockapi import API_KEY, BASE_URL
from tests.otel.conftest import parent_id
from tests.payloads import load

if TYPE_CHECKING:
    from tests.mockapi import MockApi
    from tests.otel.conftest import Otel

SEND = "/rest/ws/message/v2/send"
SEND_SPAN = f"POST {SEND}"
HEADER = ("X-Bot-Token", "bot-header-s3cret")


async def test_a_call_with_a_retry_is_one_client_span(
    otel: Otel, api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, status=429, headers={"Retry-After": "0"})
    api.add("POST", SEND, body=load("send_message_bare"))
    await km.messages.send(1, "x")
    (span,) = otel.finished()
    assert span.name == SEND_SPAN and span.kind is SpanKind.CLIENT
    assert span.parent is None
    assert dict(span.attributes or {}) == {
        "http.request.method": "POST",
        "url.template": SEND,
        "server.address": "services.test",
        "server.port": 443,
        "url.full": f"https://services.test{SEND}",
        "http.response.status_code": 200,
        "kommunicate.attempts": 2,
        "http.request.resend_count": 1,
        "kommunicate.retry.reasons": ("RateLimitError",),
    }
    (event,) = span.events
    assert event.name == "kommunicate.retry"
    assert dict(event.attributes or {}) == {
        "error.type": "RateLimitError",
        "kommunicate.retry.delay": 0.0,
        "kommunicate.attempts": 1,
    }
    assert span.status.status_code is StatusCode.UNSET
    metrics = otel.metrics()
    labels = {
        "http.request.method": "POST",
        "url.template": SEND,
        "server.address": "services.test",
        "http.response.status_code": 200,
    }
    assert metrics["kommunicate.client.request.duration"] == [(labels, 1)]
    assert metrics["kommunicate.client.retries"] == [
        ({"url.template": SEND, "error.type": "RateLimitError"}, 1)
    ]


async def test_a_failed_send_span_says_ambiguous_and_names_only_the_type(
    otel: Otel, api: MockApi, km: KommunicateSession
) -> None:
    api.add(
        "POST",
        SEND,
        status=500,
        body=b'{"status":"error","errorResponse":[{"description":"boom"}]}',
    )
    with pytest.raises(ServerError):
        await km.messages.send(1, "x")
    (span,) = otel.finished()
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "ServerError"
    assert attributes["kommunicate.ambiguous"] is True
    assert attributes["http.response.status_code"] == 500
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ServerError"  # never the body's "boom"
    (point,) = otel.metrics()["kommunicate.client.ambiguous"]
    assert point[0]["error.type"] == "ServerError" and point[1] == 1


async def test_a_batch_item_reconciled_is_a_send_span_over_its_calls(
    otel: Otel,
) -> None:
    plan = FaultPlan()
    # processed, then the connection drops: possibly sent, found by reconcile
    plan.script(f"POST {SEND}", "reset-after")
    async with FakeKommunicate(faults=plan) as fake, fake.session() as km:
        chat = await km.conversations.create(["user-1"])
        otel.spans.clear()
        results = [
            r
            async for r in km.messages.iter_send(
                [OutgoingMessage(chat.id, "hello", dedupe_key="campaign-1:user-1")],
                reconcile=True,
                settle=0.0,
            )
        ]
    (result,) = results
    assert str(result.status) == "delivered" and result.attempts == 1
    (item,) = otel.named("send kommunicate.batch")
    assert item.kind is SpanKind.PRODUCER and item.parent is None
    assert dict(item.attributes or {}) == {
        "messaging.system": "kommunicate",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "kommunicate.batch.index": 0,
        "kommunicate.outcome": "delivered",
        "messaging.destination.name": str(chat.id),
        "messaging.message.id": "campaign-1:user-1",
    }
    children = [s for s in otel.finished() if s.parent is not None]
    assert all(parent_id(s) == item.context.span_id for s in children)
    send, *reads = children  # the send that dropped, then the history's pages
    assert send.name == SEND_SPAN
    assert reads and {s.name for s in reads} == {"GET /rest/ws/message/list"}
    read = reads[0]
    assert dict(send.attributes or {})["error.type"] == "APIConnectionError"
    assert dict(send.attributes or {})["kommunicate.ambiguous"] is True
    assert dict(read.attributes or {})["http.response.status_code"] == 200
    (event,) = item.events
    assert event.name == "kommunicate.reconcile"
    assert dict(event.attributes or {}) == {"kommunicate.reconcile.outcome": "found"}
    metrics = otel.metrics()
    assert metrics["kommunicate.batch.items"] == [
        ({"kommunicate.outcome": "delivered"}, 1)
    ]
    assert metrics["kommunicate.batch.reconciles"] == [
        ({"kommunicate.reconcile.outcome": "found"}, 1)
    ]


async def test_a_bot_turn_answered_late_links_the_post_to_the_request(
    otel: Otel,
) -> None:
    async with FakeKommunicate() as fake, fake.session(max_retries=0) as km:
        chat = await km.conversations.create(["user-1"])
        bot = BotApp(km, bot_header=HEADER, reply_deadline=0.05, interim="One moment")
        done = asyncio.Event()

        @bot.on_message
        async def answer(request: BotRequest, ctx: BotContext) -> Reply:
            await asyncio.sleep(0.15)
            done.set()
            return Reply.handoff(message="late answer")

        async with serve_bot(bot) as server:
            otel.spans.clear()
            first = await fake.deliver_bot_message(
                server.bot_url, "hi", group_id=chat.id, bot_id="bot", header=HEADER
            )
            await done.wait()
            await bot.aclose(grace=5)
    assert msgspec.json.decode(first.body) == [{"message": "One moment"}]
    assert bot.undelivered == []
    (request,) = otel.named("kommunicate.bot")
    assert request.kind is SpanKind.SERVER and request.parent is None
    attributes = dict(request.attributes or {})
    assert attributes["messaging.message.id"] == first.key
    assert attributes["messaging.destination.name"] == str(chat.id)
    assert attributes["kommunicate.bot.deadline_missed"] is True
    assert attributes["http.response.status_code"] == 200
    assert [e.name for e in request.events] == ["kommunicate.bot.deadline_miss"]
    (post,) = otel.named("send kommunicate.bot")
    assert post.parent is None  # a trace of its own: the request's had ended
    assert post.context.trace_id != request.context.trace_id
    assert request.end_time is not None and post.start_time is not None
    assert post.start_time >= request.end_time
    (link,) = post.links
    assert link.context.span_id == request.context.span_id
    assert link.context.trace_id == request.context.trace_id
    post_attributes = dict(post.attributes or {})
    assert post_attributes["kommunicate.outcome"] == "posted"
    assert post_attributes["messaging.message.id"] == first.key
    calls = [s for s in otel.finished() if s.parent is not None]
    assert calls and all(
        parent_id(s) == post.context.span_id
        for s in calls
        if s.context.trace_id == post.context.trace_id
    )
    assert SEND_SPAN in [s.name for s in calls]
    metrics = otel.metrics()
    assert metrics["kommunicate.bot.deadline_misses"] == [({}, 1)]
    assert metrics["kommunicate.bot.handoffs"] == [
        ({"kommunicate.handoff.target": "rules"}, 1)
    ]
    assert metrics["kommunicate.bot.late_replies"] == [
        ({"kommunicate.outcome": "posted"}, 1)
    ]


async def test_a_path_with_ids_is_named_by_its_template(otel: Otel) -> None:
    async with FakeKommunicate() as fake, fake.session() as km:
        chat = await km.conversations.create(["user-1"])
        otel.spans.clear()
        await km.csat.get(chat.id)
    (span,) = otel.finished()
    assert span.name == "GET /feedback/{groupId}"
    attributes = dict(span.attributes or {})
    assert attributes["url.template"] == "/feedback/{groupId}"
    assert str(attributes["url.full"]).endswith(f"/feedback/{chat.id}")


async def test_a_reply_over_the_size_cap_is_an_attempt_with_its_url(
    otel: Otel,
    api: MockApi,
) -> None:
    api.add(
        "POST", SEND, body=b'{"status":"success","response":"' + b"x" * 4096 + b'"}'
    )
    async with KommunicateSession(
        API_KEY, base_url=BASE_URL, max_response_bytes=1024
    ) as capped:
        with pytest.raises(ResponseValidationError, match="max_response_bytes"):
            await capped.messages.send(1, "x")
    (span,) = otel.finished()
    attributes = dict(span.attributes or {})
    assert attributes["url.full"] == f"https://services.test{SEND}"
    assert attributes["http.response.status_code"] == 200
    assert attributes["error.type"] == "ResponseValidationError"
    assert attributes["kommunicate.ambiguous"] is True
    assert "kommunicate.attempts" not in attributes  # exactly one
