"""FakeKommunicate's agent, hours, CSAT, lifecycle, inbox and user routes, end to end
through the public API (what the SDK sources describe each call doing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kommunicate_async import (
    APIError,
    AuthenticationError,
    ChatAuth,
    InvalidRequestError,
)
from kommunicate_async.testing import FakeKommunicate


async def test_everything_through_the_fake() -> None:
    async with FakeKommunicate() as fake, fake.session(max_retries=0) as km:
        fake.add_agent("ann@acme.io", online=False, display_name="Ann", email="a@x.io")
        fake.add_agent("bob@acme.io")
        fake.add_team("Default Team", timezone="Europe/Paris", hours={"1": "0900-1800"})
        fake.directory.away_message = "We are away"
        page = await km.agents.list(page_size=1)
        assert [u.user_id for u in page.users] == ["ann@acme.io"]
        assert page.last_fetch_index == 1
        assert (await km.agents.status("bob@acme.io")).online
        await km.agents.set_away("bob@acme.io")
        await km.agents.set_online("ann@acme.io")
        assert (await km.agents.availability()).online == ["ann@acme.io"]
        with pytest.raises(APIError):
            await km.agents.set_away("ghost")
        hours = await km.business_hours.get()
        assert hours.is_open(datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
        chat = await km.conversations.create(["user-1"], client_conversation_id="c1")
        assert (await km.business_hours.away_message(chat)).text == "We are away"
        sent = await km.messages.send(chat, "hi", answer_source="intent")
        (receipt,) = await km.messages.info(sent.key)
        assert (receipt.user_id, receipt.delivered, receipt.read) == (
            "user-1",
            True,
            False,
        )
        await km.unread.mark_read(chat, "user-1")
        assert (await km.messages.info(sent.key))[0].read
        assert [m.key for m in await km.messages.get_many([sent.key, "nope"])] == [
            sent.key
        ]
        await km.messages.update_metadata(sent.key, {"obsolete": True})
        assert fake.messages("c1")[0].metadata["obsolete"] == "true"
        assert await km.csat.get(chat) is None
        assert await km.csat.rating_base() == 5
        stored = await km.csat.post(
            chat, 4, comments="great", user_id="user-1", agent_id="ann@acme.io"
        )
        assert stored is not None and stored.support_agent_name == "ann@acme.io"
        await km.csat.post(chat, 5, user_id="user-1", send_as_message=False)
        csat = await km.csat.get("c1")
        assert csat is not None and (csat.rating, csat.id) == (5, stored.id)
        page2 = await km.inbox.list()
        assert [c.id for c in page2.conversations] == [chat.id]
        assert (await km.inbox.list("closed")).conversations == []
        fake.directory.waiting["7"] = [5, chat.id]
        assert await km.inbox.queue_position(chat, 7) == 2
        assert [c.id for c in await km.conversations.get_many([chat.id, "c1", 99])] == [
            chat.id,
            chat.id,
        ]
        await km.users.create("bot2", role="BOT", password="pw")
        with pytest.raises(APIError):
            await km.users.create("bot2", role="BOT", password="pw")
        await km.users.block("bot2", on_behalf_of="user-1")
        assert fake.directory.blocked == {"user-1": {"bot2"}}
        await km.users.unblock("bot2", on_behalf_of="user-1")
        with pytest.raises(APIError):
            await km.users.block("ghost", on_behalf_of="user-1")
        await km.messages.delete(sent.key, on_behalf_of="user-1")
        assert fake.directory.hidden["user-1"] == {sent.key}
        await km.conversations.delete_messages(chat, on_behalf_of="user-2")
        with pytest.raises(APIError, match="admin"):
            await km.conversations.delete(chat, on_behalf_of="user-1")
        await km.conversations.delete(chat)
        with pytest.raises(KeyError):
            fake.conversation("c1")


async def test_app_server_credentials() -> None:
    async with FakeKommunicate() as fake:
        fake.app_token = "dash"
        async with fake.session(app_token="dash", max_retries=0) as km:
            assert (await km.agents.availability()).online == []
        async with fake.session(app_token="wrong", max_retries=0) as km:
            with pytest.raises(AuthenticationError):
                await km.agents.availability()
        async with fake.session(app_id="other-app", max_retries=0) as km:
            with pytest.raises(APIError, match="applicationId"):
                await km.agents.availability()
        async with fake.session(
            chat_auth=ChatAuth.bot("bot", "pw"), max_retries=0
        ) as km:
            with pytest.raises(InvalidRequestError):
                await km.csat.post(1, 11, base=10, user_id="u")
