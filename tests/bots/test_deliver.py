"""Late answers posted through the REST API: messages, handoffs, resolves, failures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kommunicate_async import ConfigurationError, rich
from kommunicate_async.bots import BotContext, BotRequest, Reply
from kommunicate_async.bots._deliver import Deliverer

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate


async def test_late_replies_become_messages_and_actions(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["user-1"])
    fake.state.ensure_user("agent@acme.io")
    request = BotRequest(key="5-req", group_id=chat.id, bot_id="helper-bot")
    deliverer = Deliverer(session)
    await deliverer.post(
        request,
        [
            Reply("Found it."),
            rich.suggested_replies("Anything else?", ["No"]),
            Reply.handoff("agent@acme.io", message="Passing you to Ann."),
            Reply.resolve(),
        ],
    )
    stored = fake.messages(chat.id)
    assert [(m.sender, m.text, m.metadata["kmDedupeKey"]) for m in stored] == [
        ("helper-bot", "Found it.", "bot:5-req:0"),
        ("helper-bot", "Anything else?", "bot:5-req:1"),
        ("helper-bot", "Passing you to Ann.", "bot:5-req:2"),
    ]
    assert stored[1].metadata["payload"] == '[{"title":"No","message":"No"}]'
    assert stored[2].metadata["KM_ASSIGN_TO"] == "agent@acme.io"
    group = fake.conversation(chat.id)
    assert group.metadata["CONVERSATION_ASSIGNEE"] == "agent@acme.io"
    assert group.metadata["CONVERSATION_STATUS"] == "2"
    assert deliverer.undelivered == type(deliverer.undelivered)()


async def test_failures_are_recorded_never_dropped(
    session: KommunicateSession, caplog: pytest.LogCaptureFixture
) -> None:
    request = BotRequest(key="5-gone", group_id=999_999, bot_id="bot")
    deliverer = Deliverer(session)
    await deliverer.post(request, [Reply("hello")])
    (failure,) = deliverer.undelivered
    assert (failure.key, failure.group_id) == ("5-gone", 999_999)
    assert "NotFoundError" in failure.reason and "5-gone" in caplog.text
    nobody = Deliverer(None)
    await nobody.post(request, [Reply("hello")])
    assert "no KommunicateSession" in nobody.undelivered[0].reason
    await nobody.post(request, [])  # nothing to post: nothing recorded
    assert len(nobody.undelivered) == 1


async def test_context_send_posts_now(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["user-1"])
    ctx = BotContext(
        session, BotRequest(key="5-r", group_id=chat.id, bot_id="bot"), deadline=0.0
    )
    assert ctx.time_left() == 0.0
    await ctx.send("Looking that up…")
    await ctx.send(rich.suggested_replies("Which?", ["A"]))
    assert [m.metadata["kmDedupeKey"] for m in fake.messages(chat.id)] == [
        "bot:5-r:1000",
        "bot:5-r:1001",
    ]
    with pytest.raises(ConfigurationError):
        await BotContext(None, ctx.request, 0.0).send("x")
