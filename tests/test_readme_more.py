"""The calls guide's sections for agents, hours, handoff, CSAT, lifecycle and inbox run
as written against FakeKommunicate, with their results checked."""

from __future__ import annotations

import asyncio
from typing import Any

from kommunicate_async.testing import FakeKommunicate
from tests.docs.blocks import block as guide_block


def block(heading: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    code = guide_block("docs/guides/calls.md", heading)
    exec(compile(code, "calls.md", "exec"), namespace)
    return namespace


def test_sections_run_as_written() -> None:
    agents = block("Agents and availability")["who_is_online"]
    opening = block("Business hours")["opening"]
    hand_off = block("Handoff policy")["hand_off"]
    rate = block("CSAT and answer feedback")["rate"]
    tidy = block("Message lifecycle")["tidy"]
    inbox = block("Inbox")["inbox"]

    async def scenario() -> None:
        async with FakeKommunicate() as fake, fake.session() as km:
            fake.add_agent("ann@acme.io")
            fake.add_agent("bob@acme.io")
            fake.add_team("Default Team", timezone="UTC", hours={"1": "0900-1700"})
            chat = await km.conversations.create(["user-1"])
            assert await agents(km) == ["ann@acme.io", "bob@acme.io"]
            assert fake.directory.away == ["ann@acme.io"]  # set away after the read
            assert await opening(km, chat) is True
            said = await hand_off(km, chat)
            assert said == "team_agent: bob@acme.io (bob@acme.io is online in team 42)"
            assert fake.conversation(chat.id).metadata["CONVERSATION_ASSIGNEE"] == (
                "bob@acme.io"
            )
            assert await rate(km, chat) == 4
            other = await km.conversations.create(["user-1"])
            keys = await tidy(km, other)
            assert keys[0] == "user-1" and len(keys) == 2
            fake.directory.waiting["42"] = [chat.id]
            await km.assignees.change(chat, "ann@acme.io")
            assert await inbox(km) == [chat.id, chat.id]

    asyncio.run(scenario())
