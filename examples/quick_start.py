"""The README's quick start (KOMMUNICATE_API_KEY, or the fake-server's exports)."""

from __future__ import annotations

import asyncio

from kommunicate_async import ConversationStatus, KommunicateSession


async def main() -> None:
    async with KommunicateSession() as km:  # reads KOMMUNICATE_API_KEY
        chat = await km.conversations.create(["user-42"], agent_ids=["a@example.com"])
        sent = await km.messages.send(chat, "Hi! How can we help?", metadata={"vip": 1})
        outcome = await km.assignees.change(chat, "a@example.com")
        print(chat.id, sent.key, outcome.name, await km.unread.count("user-42"))
        await km.conversations.set_status(chat, ConversationStatus.RESOLVED)


asyncio.run(main())
