"""Kommunicate's real mechanisms for late handoffs, bot events and system messages.

Facts: a third reading of Kommunicate's SDK code (docs/wire.md#bots). The server's
side of the late rules handoff and of the event trigger is UNCERTAIN: no public
source shows the server acting on them with an Api-Key, so both are configurable
(`rules_handoff=`, `event_sender=`) and these tests pin the exact requests sent.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from kommunicate_async import ConfigurationError
from kommunicate_async.bots import (
    BotApp,
    BotContext,
    BotRequest,
    Reply,
    WebhookMessage,
    is_system,
    parse_webhook_message,
)
from kommunicate_async.testing import serve_bot
from tests.fixtures import fixture

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate

HEADER = ("X-Bot-Token", "dashboard-header-s3cret")
CHANGE = "PATCH /rest/ws/group/assignee/change"
SEND = "POST /rest/ws/message/v2/send"


async def late(
    fake: FakeKommunicate, km: KommunicateSession, reply: Reply, **options: Any
) -> tuple[BotApp, int, str]:
    """Deliver one message whose handler answers `reply` after the deadline:
    the app, the conversation and the message key."""
    bot = BotApp(km, bot_header=HEADER, reply_deadline=0.02, **options)

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> Reply:
        await asyncio.sleep(0.05)
        return reply

    chat = await km.conversations.create(["user-1"])
    async with serve_bot(bot) as server:
        first = await fake.deliver_bot_message(
            server.bot_url, "help", group_id=chat.id, bot_id="bot", header=HEADER
        )
        assert first.body == b"[]"  # answered late
        await bot.aclose(grace=5)
    return bot, chat.id, first.key


async def test_a_late_handoff_to_the_rules_is_the_widgets_assignee_change(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    """UNCERTAIN (docs/wire.md#bots): `switchAssignee=true&takeOverFromBot=true` with
    no assignee, as the web widget's "talk to a human" button sent it."""
    bot, group_id, key = await late(
        fake, session, Reply.handoff(message="A person will help.")
    )
    (message,) = [r for r in fake.requests_to(SEND) if b"A person" in r.body]
    assert msgspec.json.decode(message.body) == {
        "groupId": group_id,
        "message": "A person will help.",
        "fromUserName": "bot",
        "metadata": {"KM_ASSIGN_TO": "", "kmDedupeKey": f"bot:{key}:0"},
    }
    (change,) = fake.requests_to(CHANGE)
    assert change.query == {
        "groupId": str(group_id),
        "switchAssignee": "true",
        "takeOverFromBot": "true",
    }
    assert change.body == b""
    assert change.headers["Of-User-Id"] == session.on_behalf_of
    assert fake.conversation(group_id).metadata["CONVERSATION_ASSIGNEE"] == (
        "agent@acme.io"  # the fake's routing rules
    )
    assert bot.undelivered == []


async def test_a_late_handoff_to_the_rules_may_be_reported_instead(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    bot, group_id, _ = await late(
        fake,
        session,
        Reply.handoff(message="A person will help."),
        rules_handoff="report",
    )
    assert fake.requests_to(CHANGE) == []
    assert [m.text for m in fake.messages(group_id)] == ["help"]  # nothing half-done
    (failure,) = bot.undelivered
    assert "routing rules" in failure.reason and failure.text == "A person will help."
    with pytest.raises(ConfigurationError, match="rules_handoff"):
        BotApp(session, rules_handoff="maybe")  # type: ignore[arg-type]


async def test_a_late_handoff_to_a_named_agent_is_the_assignee_change(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    fake.state.ensure_user("ann@acme.io")
    bot, group_id, _ = await late(
        fake, session, Reply.handoff("ann@acme.io", message="Ann.")
    )
    (change,) = fake.requests_to(CHANGE)
    assert change.query == {
        "groupId": str(group_id),
        "assignee": "ann@acme.io",
        "switchAssignee": "true",
        "sendNotifyMessage": "true",
        "takeOverFromBot": "true",
    }
    assert bot.undelivered == []


@pytest.mark.parametrize("event_sender", ["user", "bot"])
async def test_a_late_bot_event_is_the_widgets_hidden_message(
    fake: FakeKommunicate, session: KommunicateSession, event_sender: str
) -> None:
    """Assign the bot, then send `Event:<name>` with `KM_TRIGGER_EVENT`, as the web
    widget does (fixture: bot-extra/client_trigger_bot_event_hidden_message.json).
    UNCERTAIN: whether the trigger must come from the end user (the default)."""
    fake.state.ensure_user("sales-bot")
    bot, group_id, _ = await late(
        fake,
        session,
        Reply.to_bot("sales-bot", event="PRICING", message="Over to sales."),
        event_sender=event_sender,
    )
    sends = fake.requests_to(SEND)
    visible = msgspec.json.decode(sends[-2].body)
    assert visible["message"] == "Over to sales." and "event" not in visible["metadata"]
    (change,) = fake.requests_to(CHANGE)
    assert change.query["assignee"] == "sales-bot"
    assert sends[-1].at >= change.at  # the trigger comes after the assignment
    trigger = msgspec.json.decode(sends[-1].body)
    assert trigger == {
        "groupId": group_id,
        "message": "Event:PRICING",
        "fromUserName": "user" if event_sender == "user" else "bot",
        "metadata": {"category": "HIDDEN", "KM_TRIGGER_EVENT": "PRICING"},
        "contentType": 10,
    }
    widget = fixture("bot-extra/client_trigger_bot_event_hidden_message.json")[
        "message"
    ]
    assert trigger["contentType"] == widget["contentType"]
    assert set(trigger["metadata"]) == set(widget["metadata"])
    assert trigger["metadata"]["category"] == widget["metadata"]["category"]
    stored = fake.messages(group_id)[-1]
    assert (stored.text, stored.content_type) == ("Event:PRICING", 10)
    assert bot.undelivered == []


# -- system messages ------------------------------------------------------------------


def webhook(
    metadata: dict[str, str] | None = None, text: str = "hi", **extra: Any
) -> WebhookMessage:
    return parse_webhook_message(
        msgspec.json.encode(
            {"key": "k", "groupId": 1, "message": text, "metadata": metadata or {}}
            | extra
        )
    )


@pytest.mark.parametrize("content_type", [10, 11, 102, 103])
def test_system_content_types(content_type: int) -> None:
    assert is_system(webhook(contentType=content_type))
    assert is_system(webhook(contentType=str(content_type)))


@pytest.mark.parametrize("content_type", [0, 1, 3, 300])
def test_ordinary_content_types(content_type: int) -> None:
    assert not is_system(webhook(contentType=content_type))


@pytest.mark.parametrize("category", ["HIDDEN", "PUSHNOTIFICATION"])
def test_system_categories(category: str) -> None:
    assert is_system(webhook({"category": category}))


def test_hide_true() -> None:
    assert is_system(webhook({"hide": "true"}))
    assert not is_system(webhook({"hide": "false"}))


@pytest.mark.parametrize("key", ["KM_STATUS", "KM_ASSIGN", "KM_TRIGGER_EVENT"])
def test_action_keys(key: str) -> None:
    assert is_system(webhook({key: "x"}))
    assert is_system(webhook({key: "x"}, text=""))


def test_delete_for_all() -> None:
    assert is_system(webhook({"AL_DELETE_GROUP_MESSAGE_FOR_ALL": "true"}))


@pytest.mark.parametrize("key", ["KM_ASSIGN_TO", "KM_ASSIGN_TEAM"])
def test_handoff_keys_only_without_text(key: str) -> None:
    assert is_system(webhook({key: "agent@acme.io"}, text=""))
    assert is_system(webhook({key: ""}, text="  "))
    assert not is_system(webhook({key: ""}, text="our agents will get back to you"))


def test_the_welcome_message_is_not_a_system_message() -> None:
    """Kommunicate's own server put `category: ARCHIVE` on the visible welcome
    message (system-messages/welcome-message-metadata.km-server-2019.json)."""
    metadata = fixture("system-messages/welcome-message-metadata.km-server-2019.json")
    assert metadata["category"] == "ARCHIVE"
    assert not is_system(webhook(metadata, text="Hi, how can we help?"))
    notice = {"category": "ARCHIVE", "KM_ASSIGN": "agent@acme.io"}
    assert is_system(webhook(notice, contentType=10))  # the "Assigned to" notice


def test_the_trigger_fixture_is_a_system_message() -> None:
    widget = fixture("bot-extra/client_trigger_bot_event_hidden_message.json")[
        "message"
    ]
    assert is_system(webhook(widget["metadata"], contentType=widget["contentType"]))
    assert is_system(webhook(widget["metadata"]))  # no contentType: metadata decides
