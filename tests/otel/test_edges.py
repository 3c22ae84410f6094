"""The edges of each record: failures inside a span, every reconcile outcome, an
undelivered late answer, the bounded caches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from opentelemetry.trace import StatusCode

from kommunicate_async import ItemResult, ItemStatus, KommunicateError, OutgoingMessage
from kommunicate_async._batch.job import Job
from kommunicate_async._batch.reconcile import DuplicateSendError
from kommunicate_async._telemetry import _flows, _live, active, late_post
from kommunicate_async.bots import BotApp, BotContext, BotRequest, Reply
from kommunicate_async.bots._deliver import Deliverer
from kommunicate_async.bots._payloads import parse_bot_request

if TYPE_CHECKING:
    from kommunicate_async.bots._app import BotResponse, Kind
    from tests.otel.conftest import Otel


def live() -> _live.Telemetry:
    telemetry = active()
    assert telemetry is not None
    return telemetry


async def test_every_reconcile_outcome_is_counted(otel: Otel) -> None:
    telemetry = live()
    telemetry.reconciled(None)
    telemetry.reconciled(DuplicateSendError("k", ["a", "b"]))
    telemetry.reconciled(KommunicateError("budget spent"))
    assert sorted(
        (a["kommunicate.reconcile.outcome"], v)
        for a, v in otel.metrics()["kommunicate.batch.reconciles"]
    ) == [("absent", 1), ("duplicate", 1), ("unknown", 1)]


async def test_batch_item_spans_for_a_failure_a_skip_and_a_cancel(otel: Otel) -> None:
    telemetry = live()
    item = OutgoingMessage(7, "hi", dedupe_key="k-1")
    error = KommunicateError("refused")

    async def failed(job: Job) -> ItemResult:
        return job.result(ItemStatus.FAILED, None, error, 2)

    async def skipped(job: Job) -> None:
        return None

    async def broken(job: Job) -> None:
        raise RuntimeError("a bug")

    def job(index: int) -> Job:
        return Job(index, item, "k-1", b"{}")

    await telemetry.batch_item(failed, job(0))
    await telemetry.batch_item(skipped, job(1))
    with pytest.raises(RuntimeError):
        await telemetry.batch_item(broken, job(2))
    first, second, third = otel.finished()
    assert dict(first.attributes or {})["error.type"] == "KommunicateError"
    assert dict(first.attributes or {})["kommunicate.outcome"] == "failed"
    assert first.status.status_code is StatusCode.ERROR
    assert dict(second.attributes or {})["kommunicate.outcome"] == "skipped"
    assert "messaging.message.id" not in dict(second.attributes or {})
    assert dict(third.attributes or {})["error.type"] == "RuntimeError"
    assert sorted(
        (a["kommunicate.outcome"], v)
        for a, v in otel.metrics()["kommunicate.batch.items"]
    ) == [("failed", 1), ("skipped", 1)]


async def test_a_bot_request_that_raises_still_ends_its_span(otel: Otel) -> None:
    async def broken(kind: Kind, body: bytes) -> BotResponse:
        raise RuntimeError("adapter bug")

    with pytest.raises(RuntimeError):
        await live().bot_request(broken, "bot", b"{}")
    (span,) = otel.finished()
    assert span.name == "kommunicate.bot"
    assert dict(span.attributes or {})["error.type"] == "RuntimeError"


async def test_a_late_answer_with_no_session_is_an_undelivered_span(otel: Otel) -> None:
    deliverer = Deliverer(None)
    request = parse_bot_request(b'{"key":"k-5","groupId":7,"message":"hi"}')
    await late_post(deliverer, request, [Reply("late")])
    (span,) = otel.finished()
    assert dict(span.attributes or {})["kommunicate.outcome"] == "undelivered"
    assert span.links == ()  # no request span around it here: nothing to link
    assert otel.metrics()["kommunicate.bot.late_replies"] == [
        ({"kommunicate.outcome": "undelivered"}, 1)
    ]


async def test_a_named_handoff_is_counted(otel: Otel) -> None:
    bot = BotApp(None, insecure_no_auth=True)

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> Reply:
        return Reply.handoff("agent@acme.io", message="Passing you on")

    await bot.answer("bot", b'{"key":"k-6","groupId":7,"message":"hi"}')
    assert otel.metrics()["kommunicate.bot.handoffs"] == [
        ({"kommunicate.handoff.target": "named"}, 1)
    ]


def test_the_caches_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    cache: dict[object, tuple[str, int | None, str]] = {}
    monkeypatch.setattr(_live, "_URL_CACHE_LIMIT", 2)
    for i in range(5):
        assert _live.url_parts(f"https://u:p@h{i}.test/x?q=1#f", cache) == (
            f"h{i}.test",
            443,
            f"https://h{i}.test/x",
        )
    assert len(cache) <= 2
    monkeypatch.setattr(_flows, "_POSTS_KEPT", 2)
    flows = _flows.Flows()
    for i in range(5):
        flows._remember(f"k{i}", object())  # type: ignore[arg-type]  # pyright: ignore[reportPrivateUsage, reportArgumentType]
    assert list(flows._posts) == ["k3", "k4"]  # pyright: ignore[reportPrivateUsage]
