"""A batch item that goes alone (no dedupe key of its own, its message not seen
lately: broadcast sends it by itself) is an item like any other: its own
`send kommunicate.batch` span over its call (docs/guides/observability.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.trace import SpanKind

from kommunicate_async import OutgoingMessage
from kommunicate_async.testing import FakeKommunicate
from tests.otel.conftest import parent_id

if TYPE_CHECKING:
    from tests.otel.conftest import Otel


async def test_an_item_sent_alone_has_its_item_span(otel: Otel) -> None:
    async with FakeKommunicate() as fake, fake.session() as km:
        chat = await km.conversations.create(["user-1"])
        otel.spans.clear()
        report = await km.messages.send_many(
            [OutgoingMessage(chat.id, "hello"), OutgoingMessage(chat.id, "bye")]
        )
    assert report.delivered == 2
    items = otel.named("send kommunicate.batch")
    assert [dict(s.attributes or {})["kommunicate.batch.index"] for s in items] == [
        0,
        1,
    ]
    assert all(s.kind is SpanKind.PRODUCER and s.parent is None for s in items)
    calls = [s for s in otel.finished() if s.parent is not None]
    assert len(calls) == 2  # each item's one send, under its own item span
    contexts = [s.context for s in items]
    assert {parent_id(s) for s in calls} == {c.span_id for c in contexts if c}
