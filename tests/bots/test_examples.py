"""The bots in examples/ work end to end against FakeKommunicate over loopback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from examples import echo_bot, fastapi_bot
from kommunicate_async.testing import FakeKommunicate, serve_bot
from kommunicate_async.testing._bot_server import serve_asgi

if TYPE_CHECKING:
    import pytest

    from kommunicate_async import KommunicateSession

HEADER = ("X-Bot-Token", "example-secret")


async def test_echo_bot(fake: FakeKommunicate, session: KommunicateSession) -> None:
    chat = await session.conversations.create(["user-1"])
    async with serve_bot(echo_bot.build(session, HEADER[1])) as server:
        hello = await fake.deliver_bot_message(
            server.bot_url,
            "",
            group_id=chat.id,
            bot_id="bot",
            header=HEADER,
            event="WELCOME",
        )
        echo = await fake.deliver_bot_message(
            server.bot_url,
            "where is my order",
            group_id=chat.id,
            bot_id="bot",
            header=HEADER,
        )
        human = await fake.deliver_bot_message(
            server.bot_url,
            "a Human please",
            group_id=chat.id,
            bot_id="bot",
            header=HEADER,
        )
    assert hello.replies[0]["metadata"]["payload"][1] == {
        "title": "Human",
        "message": "Human",
    }
    assert echo.replies == [{"message": "You said: where is my order"}]
    assert human.replies[0]["metadata"] == {"KM_ASSIGN_TO": ""}
    assert (
        fake.conversation(chat.id).metadata["CONVERSATION_ASSIGNEE"] == "agent@acme.io"
    )


async def test_echo_bot_serve_builds_an_app(
    monkeypatch: pytest.MonkeyPatch, fake: FakeKommunicate
) -> None:
    monkeypatch.setenv("KOMMUNICATE_API_KEY", fake.api_key)
    monkeypatch.setenv("BOT_TOKEN", HEADER[1])
    app = await echo_bot.serve()
    assert sorted(r.resource.canonical for r in app.router.routes() if r.resource) == [
        "/bot",
        "/webhook",
    ]
    for hook in app.on_cleanup:  # closes the session it made
        await hook(app)


async def test_fastapi_mount(
    monkeypatch: pytest.MonkeyPatch, fake: FakeKommunicate
) -> None:
    monkeypatch.setenv("BOT_TOKEN", HEADER[1])
    monkeypatch.setenv("WEBHOOK_TOKEN", "wh-token")
    api = fastapi_bot.create_app(fake.session())
    async with serve_asgi(api) as root:
        base = root + "/kommunicate"
        group = fake.state.create_group(
            name="c",
            members=["user-1"],
            client_group_id=None,
            metadata={},
            admin_id="bot",
        )
        reply = await fake.deliver_bot_message(
            f"{base}/bot", "hi", group_id=group.id, bot_id="bot", header=HEADER
        )
        form = await fake.deliver_bot_message(
            f"{base}/bot",
            "Submit",
            group_id=group.id,
            bot_id="bot",
            header=HEADER,
            chat_context={"formData": {"Name": "Ann"}},
        )
        hook = await fake.deliver_webhook(
            f"{base}/webhook", "a note", group_id=group.id, token="wh-token"
        )
        refused = await fake.deliver_webhook(
            f"{base}/webhook", "a note", group_id=group.id, token="wrong"
        )
    assert msgspec.json.decode(reply.body) == [{"message": "Let me check that."}]
    assert form.replies == [{"message": "Thanks Ann, we got your form."}]
    assert (hook.status, refused.status) == (200, 401)
    assert api.state.inbox == ["a note"]


async def test_handoff_bot(fake: FakeKommunicate, session: KommunicateSession) -> None:
    """examples/handoff_bot.py: the policy picks an online agent, else says so."""
    from examples import handoff_bot
    from kommunicate_async.handoff import HandoffPolicy

    fake.routing_agent = None
    fake.add_agent("manager@acme.io", online=False)
    fake.add_agent("sam@acme.io")
    policy = HandoffPolicy(
        preferred_agent="manager@acme.io",
        team_agents=["sam@acme.io"],
        offline_message="Nobody is here; we will e-mail you.",
    )
    chat = await session.conversations.create(["user-1", "bot"])
    async with serve_bot(handoff_bot.build(session, HEADER[1], policy)) as server:
        answer = await fake.deliver_bot_message(
            server.bot_url, "hi", group_id=chat.id, bot_id="bot", header=HEADER
        )
        human = await fake.deliver_bot_message(
            server.bot_url, "human!", group_id=chat.id, bot_id="bot", header=HEADER
        )
        assert answer.replies[0]["message"].startswith("Ask me anything")
        assert human.replies == [{"message": "Connecting you to a person."}]
        assert (
            fake.conversation(chat.id).metadata["CONVERSATION_ASSIGNEE"]
            == "sam@acme.io"
        )
        fake.directory.set_online("sam@acme.io", False)
        later = await session.conversations.create(["user-2", "bot"])
        offline = await fake.deliver_bot_message(
            server.bot_url, "human", group_id=later.id, bot_id="bot", header=HEADER
        )
    assert offline.replies == [{"message": "Nobody is here; we will e-mail you."}]
    assert "CONVERSATION_ASSIGNEE" not in fake.conversation(later.id).metadata
