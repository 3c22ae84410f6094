"""Every resource call end to end against FakeKommunicate over real sockets."""

from __future__ import annotations

import anyio
import pytest

from kommunicate_async import (
    AssignOutcome,
    AuthenticationError,
    ConflictError,
    ConversationDefaults,
    ConversationStatus,
    InvalidRequestError,
    KommunicateSession,
    NotFoundError,
)
from kommunicate_async.testing import FakeKommunicate


async def test_conversation_lifecycle(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    with anyio.fail_after(20):
        chat = await session.conversations.create(
            ["user-1"],
            agent_ids=["agent@acme.io"],
            bot_ids=["bot"],
            assignee="agent@acme.io",
            team_id=42,
            client_conversation_id="order-1",
            title="Order 1",
            info={"plan": "gold"},
            metadata={"channel": "web"},
        )
        assert chat.members == ["user-1", "agent@acme.io", "bot"]
        assert (chat.assignee, chat.team_id, chat.status) == (
            "agent@acme.io",
            "42",
            ConversationStatus.OPEN,
        )
        assert chat.info == {"plan": "gold"}
        assert fake.conversation("order-1").metadata["channel"] == "web"

        again = await session.conversations.get("order-1")
        assert again.id == chat.id and again.title == "Order 1"

        updated = await session.conversations.update_info(chat, {"orders": 2})
        assert updated.info == {"plan": "gold", "orders": 2}
        assert (await session.conversations.get(chat.id)).info == {
            "plan": "gold",
            "orders": 2,
        }

        moved = await session.conversations.update_team(chat, "7")
        assert (
            moved.team_id == "7"
            and (await session.conversations.get(chat)).team_id == "7"
        )
        assert (await session.conversations.get(chat)).info == {
            "plan": "gold",
            "orders": 2,
        }

        await session.conversations.add_members(chat, ["user-2"])
        await session.conversations.remove_members("order-1", "user-1")
        assert fake.conversation(chat.id).members == ["agent@acme.io", "bot", "user-2"]

        await session.conversations.set_status("order-1", ConversationStatus.RESOLVED)
        assert (
            await session.conversations.get(chat)
        ).status is ConversationStatus.RESOLVED

        with pytest.raises(ConflictError):
            await session.conversations.create(["u"], client_conversation_id="order-1")
        with pytest.raises(NotFoundError):
            await session.conversations.get("no-such-conversation")


async def test_get_or_create_is_stable_and_defaults_apply(
    session: KommunicateSession,
) -> None:
    session.defaults = ConversationDefaults(
        agent_ids=["agent@acme.io"], team_id="support"
    )
    first = await session.conversations.get_or_create("user-9")
    second = await session.conversations.get_or_create(["user-9"])
    assert first.id == second.id
    assert first.client_conversation_id == "user-9"  # Android: agents left out
    assert first.team_id == "support"
    other = await session.conversations.get_or_create(
        "user-9", agent_ids=[], id_recipe="ios"
    )
    assert other.id == first.id  # the same id: iOS lower-cases, and has no agents
    legacy = await session.conversations.get_or_create(
        "user-9", id_recipe="android-legacy"
    )
    assert legacy.id != first.id
    assert legacy.client_conversation_id == "agent@acme.io_user-9"


async def test_concurrent_get_or_create_makes_one_conversation(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    ids: list[int] = []

    async def one() -> None:
        ids.append(
            (
                await session.conversations.get_or_create("racer", agent_ids=["a@x.io"])
            ).id
        )

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
    assert len(set(ids)) == 1
    assert len(fake.state.groups) == 1


async def test_messages_history_and_unread(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["user-1"], agent_ids=["agent@acme.io"])
    keys = []
    for i in range(23):  # fast sends share milliseconds: paging must cope with ties
        sent = await session.messages.send(
            chat,
            f"m{i}",
            sender="user-1" if i % 2 else "agent@acme.io",
            metadata={"n": i},
        )
        keys.append(sent.key)
    history = [m async for m in session.messages.list(chat, page_size=4)]
    assert [m.key for m in history] == list(reversed(keys))
    assert history[0].text == "m22" and history[0].metadata == {"n": "22"}
    assert {m.sender for m in history} == {"user-1", "agent@acme.io"}

    counts = await session.unread.counts(["user-1", "agent@acme.io", "ghost"])
    assert counts == {"user-1": 12, "agent@acme.io": 11}
    await session.unread.mark_read(chat, "user-1")
    assert await session.unread.count("user-1") == 0
    assert await session.unread.count("agent@acme.io") == 11
    assert fake.unread("agent@acme.io") == 11


async def test_assignment_outcomes(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(
        ["user-1"], agent_ids=["a@acme.io", "b@acme.io"], bot_ids=["bot"]
    )
    assert await session.assignees.get(chat) is None
    assert await session.assignees.change(chat, "a@acme.io") is AssignOutcome.UPDATED
    assert "bot" not in fake.conversation(chat.id).members  # takeOverFromBot
    assert await session.assignees.change(
        chat.client_conversation_id or "", "a@acme.io"
    ) is (AssignOutcome.ALREADY_ASSIGNED)
    fake.state.busy_agents.add("b@acme.io")
    assert await session.assignees.change(chat, "b@acme.io") is AssignOutcome.AGENT_BUSY
    assignee = await session.assignees.get(chat)
    assert assignee is not None and assignee.user_id == "a@acme.io"
    with pytest.raises(NotFoundError):
        await session.assignees.change(chat, "nobody@acme.io")


async def test_users(fake: FakeKommunicate, session: KommunicateSession) -> None:
    await session.conversations.create(["user-1", "user-2"])
    await session.users.update(
        "user-1", display_name="One", email="one@x.io", metadata={"tier": 1}
    )
    user = await session.users.get("user-1")
    assert (user.display_name, user.email, user.metadata) == (
        "One",
        "one@x.io",
        {"tier": "1"},
    )
    assert [
        u.user_id for u in await session.users.get_many(["user-2", "user-1", "ghost"])
    ] == [
        "user-2",
        "user-1",
    ]
    with pytest.raises(NotFoundError):
        await session.users.get("ghost")
    result = await session.users.login("user-3", password="s3cret")
    assert result.registration == "REGISTERED.WITHOUTREGISTRATIONID"
    with pytest.raises(AuthenticationError, match="PASSWORD_INVALID"):
        await session.users.login("user-3", password="wrong")
    assert fake.state.users["user-3"].password == "s3cret"


async def test_conversation_list(session: KommunicateSession) -> None:
    made = [(await session.conversations.create([f"u{i}"])).id for i in range(7)]
    listed = [c.id async for c in session.conversations.list(page_size=3)]
    assert sorted(listed) == sorted(made) and len(listed) == len(set(listed))


@pytest.mark.parametrize("bare", [True, False], ids=["bare", "enveloped"])
async def test_either_reply_shape_decodes(bare: bool) -> None:
    # UNCERTAIN (docs/wire.md#replies): send, user detail and message list may be bare.
    async with FakeKommunicate(bare=bare) as fake, fake.session() as km:
        chat = await km.conversations.create(["u"])
        sent = await km.messages.send(chat, "hello")
        assert [m.key async for m in km.messages.list(chat)] == [sent.key]
        assert await km.unread.count("u") == 1


async def test_wrong_key_is_refused(fake: FakeKommunicate) -> None:
    async with fake.session(api_key="not-the-key") as km:
        with pytest.raises(AuthenticationError) as info:
            await km.conversations.create(["u"])
    assert "not-the-key" not in str(info.value)


async def test_bad_input_never_reaches_the_server(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    before = len(fake.requests)
    with pytest.raises(InvalidRequestError):
        await session.messages.send(1, "hi", metadata={"x": float("nan")})
    with pytest.raises(InvalidRequestError):
        await session.conversations.create([])
    assert len(fake.requests) == before
