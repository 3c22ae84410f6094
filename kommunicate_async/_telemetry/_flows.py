"""Batch items and bot requests: their spans, links, events and counts."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import context, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from .._errors import KommunicateError
from .._metadata import MetadataKey
from . import _names as n

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from opentelemetry.trace import Span, SpanContext, Tracer

    from .._batch.job import Job
    from ..bots._app import BotResponse, Kind
    from ..bots._deliver import Deliverer
    from ..bots._payloads import BotRequest, WebhookMessage
    from ..bots._reply import Reply
    from ..models.batch import ItemResult
    from ..models.message import Message
    from ..rich._message import RichMessage
    from ._live import Instruments

__all__ = ["Flows"]

_SYSTEM: Final = "kommunicate"
_DEDUPE: Final = MetadataKey.DEDUPE_KEY.value
_BOT_PREFIX: Final = "bot:"
_POSTS_KEPT: Final = 4096
"""Late posts remembered for the webhook echo's link (per process, the newest)."""


def _recording() -> Span | None:
    """The current span, if it still records (events on an ended one are lost)."""
    span = trace.get_current_span()
    return span if span.is_recording() else None


def _reconcile_outcome(found: Message | KommunicateError | None) -> str:
    if found is None:
        return "absent"
    if not isinstance(found, KommunicateError):
        return "found"
    return "duplicate" if type(found).__name__ == "DuplicateSendError" else "unknown"


class Flows:
    """The batch and bot halves of `Telemetry`."""

    tracer: Tracer
    instruments: Instruments

    def __init__(self) -> None:
        self._posts: OrderedDict[str, SpanContext] = OrderedDict()

    # -- batch ----------------------------------------------------------------------

    async def batch_item(
        self, send: Callable[[Job], Awaitable[ItemResult | None]], job: Job
    ) -> ItemResult | None:
        """`send(job)` (one batch item sent alone) inside its `send` span. Items
        that travel in a broadcast have no span of their own: their `sendall`
        request is a client span like any call."""
        index = job.index
        attributes: dict[str, Any] = {
            n.MESSAGING_SYSTEM: _SYSTEM,
            n.MESSAGING_OPERATION_TYPE: "send",
            n.MESSAGING_OPERATION_NAME: "send",
            n.BATCH_INDEX: index,
        }
        span = self.tracer.start_span(
            "send kommunicate.batch", kind=SpanKind.PRODUCER, attributes=attributes
        )
        token = context.attach(trace.set_span_in_context(span))
        try:
            result = await send(job)
        except BaseException as exc:
            span.set_attribute(n.ERROR_TYPE, type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            span.end()
            raise
        finally:
            context.detach(token)
        self._item_ended(span, result)
        return result

    def _item_ended(self, span: Span, result: ItemResult | None) -> None:
        outcome = "skipped" if result is None else str(result.status)
        span.set_attribute(n.OUTCOME, outcome)
        if result is not None:
            item = result.item
            span.set_attribute(n.MESSAGING_DESTINATION, str(item.conversation))
            if item.dedupe_key:
                span.set_attribute(n.MESSAGING_MESSAGE_ID, item.dedupe_key)
            if result.attempts != 1:  # absent: exactly one
                span.set_attribute(n.ATTEMPTS, result.attempts)
            if result.error is not None:
                kind = type(result.error).__name__
                span.set_attribute(n.ERROR_TYPE, kind)
                span.set_status(Status(StatusCode.ERROR, kind))
        span.end()
        self.instruments.items.add(1, {n.OUTCOME: outcome})

    def reconciled(self, found: Message | KommunicateError | None) -> None:
        outcome = _reconcile_outcome(found)
        span = _recording()
        if span is not None:
            span.add_event(n.EVENT_RECONCILE, {n.RECONCILE_OUTCOME: outcome})
        self.instruments.reconciles.add(1, {n.RECONCILE_OUTCOME: outcome})

    # -- bots -----------------------------------------------------------------------

    async def bot_request(
        self,
        answer: Callable[[Kind, bytes], Awaitable[BotResponse]],
        kind: Kind,
        body: bytes,
    ) -> BotResponse:
        """`answer(kind, body)` inside the request's server span."""
        span = self.tracer.start_span(
            f"kommunicate.{kind}",
            kind=SpanKind.SERVER,
            attributes={n.BOT_KIND: kind, n.HTTP_METHOD: "POST"},
        )
        token = context.attach(trace.set_span_in_context(span))
        try:
            response = await answer(kind, body)
        except BaseException as exc:
            span.set_attribute(n.ERROR_TYPE, type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            span.end()
            raise
        finally:
            context.detach(token)
        span.set_attribute(n.HTTP_STATUS, response.status)
        if response.status >= 500:
            span.set_attribute(n.ERROR_TYPE, str(response.status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        self.instruments.bot_requests.add(
            1, {n.BOT_KIND: kind, n.HTTP_STATUS: response.status}
        )
        return response

    def bot_request_seen(self, request: BotRequest) -> None:
        span = _recording()
        if span is not None:
            span.set_attribute(n.MESSAGING_MESSAGE_ID, request.key)
            span.set_attribute(n.MESSAGING_DESTINATION, str(request.group_id))
            if request.bot_id:
                span.set_attribute(n.BOT_ID, request.bot_id)

    def webhook_seen(self, message: WebhookMessage) -> None:
        """Link the webhook's span to our late post when the message carries one of
        its dedupe keys (`bot:<request key>:<index>`): best effort, this process's
        newest posts only."""
        span = _recording()
        if span is None:
            return
        span.set_attribute(n.MESSAGING_MESSAGE_ID, message.key)
        span.set_attribute(n.MESSAGING_DESTINATION, str(message.group_id))
        mark = message.metadata.get(_DEDUPE, "") if message.metadata else ""
        if mark.startswith(_BOT_PREFIX):
            posted = self._posts.get(mark[len(_BOT_PREFIX) :].rpartition(":")[0])
            if posted is not None:
                span.add_link(posted, {n.MESSAGING_MESSAGE_ID: mark})

    def deadline_missed(self) -> None:
        span = _recording()
        if span is not None:
            span.set_attribute(n.BOT_DEADLINE_MISSED, True)
            span.add_event(n.EVENT_DEADLINE_MISS)
        self.instruments.deadline_misses.add(1)

    def fell_back(self) -> None:
        span = _recording()
        if span is not None:
            span.add_event(n.EVENT_FALLBACK)
        self.instruments.fallbacks.add(1)

    def replied(self, replies: Sequence[Reply | RichMessage]) -> None:
        for reply in replies:
            target = getattr(reply, "assign_to", None)
            if target is not None:
                kind = "rules" if target == "" else "named"
                self.instruments.handoffs.add(1, {n.HANDOFF_TARGET: kind})

    async def late_post(
        self,
        deliverer: Deliverer,
        request: BotRequest,
        replies: Sequence[Reply | RichMessage],
    ) -> None:
        """Post a late answer in a span of its own, linked to the bot request's
        span (current here: the run's task was started inside it, and it has
        ended since)."""
        origin = trace.get_current_span().get_span_context()
        span = self.tracer.start_span(
            "send kommunicate.bot",
            context=context.Context(),  # a new trace: the request's has ended
            kind=SpanKind.PRODUCER,
            links=[Link(origin)] if origin.is_valid else None,
            attributes={
                n.MESSAGING_SYSTEM: _SYSTEM,
                n.MESSAGING_OPERATION_TYPE: "send",
                n.MESSAGING_OPERATION_NAME: "send",
                n.MESSAGING_DESTINATION: str(request.group_id),
                n.MESSAGING_MESSAGE_ID: request.key,
                n.MESSAGING_BATCH_COUNT: len(replies),
            },
        )
        self._remember(request.key, span.get_span_context())
        lost = deliverer.undelivered
        before = lost[-1] if lost else None
        token = context.attach(trace.set_span_in_context(span))
        try:
            await deliverer.post(request, replies)
        finally:
            context.detach(token)
            posted = (lost[-1] if lost else None) is before
            outcome = "posted" if posted else "undelivered"
            span.set_attribute(n.OUTCOME, outcome)
            if not posted:
                span.set_status(Status(StatusCode.ERROR, "undelivered"))
            span.end()
            self.instruments.late_replies.add(1, {n.OUTCOME: outcome})

    def _remember(self, key: str, posted: SpanContext) -> None:
        posts = self._posts
        posts[key] = posted
        if len(posts) > _POSTS_KEPT:
            posts.popitem(last=False)
