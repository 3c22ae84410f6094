"""`BotReplicas`, the test kit's load balancer: policies, failover, errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

from kommunicate_async.bots import BotApp, BotContext, BotRequest
from kommunicate_async.testing import BotReplicas, serve_bot
from tests.scaleout.conftest import free_port

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate

HEADER = ("X-Bot-Token", "kit-s3cret")


def replica(name: str) -> BotApp:
    bot = BotApp(None, bot_header=HEADER)

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        return f"{name}: {request.text}"

    return bot


async def test_policies_failover_and_errors(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["user-1"])
    dead = f"http://127.0.0.1:{free_port()}/bot"
    async with serve_bot(replica("a")) as a, serve_bot(replica("b")) as b:
        urls = [a.bot_url, dead, b.bot_url]
        lb = BotReplicas(fake, urls, header=HEADER, policy="first")
        with pytest.raises(RuntimeError, match="async with"):
            await lb.deliver("x", group_id=chat.id)
        async with lb:
            assert (await lb.deliver("one", group_id=chat.id)).replies == (
                {"message": "a: one"},
            )
            sent = await lb.deliver("two", group_id=chat.id, replica=1)
            assert sent.replicas == (1, 0) and lb.live == {0, 2}  # failed over
            with pytest.raises(aiohttp.ClientConnectionError):
                await lb.redeliver(sent.key, replica=1, failover=False)
            again = await lb.redeliver(sent.key, exclude=0, apply=False)
            assert again.replica == 2 and again.replies == ({"message": "b: two"},)
            lb.down(0)
            lb.down(2)
            with pytest.raises(RuntimeError, match="no live replica"):
                lb.pick()
    texts = [m.text for m in fake.messages(chat.id)]
    assert texts == ["x", "one", "a: one", "two", "a: two"]
    with pytest.raises(ValueError, match="at least one"):
        BotReplicas(fake, [])
