"""`BotTestFlow`: a scripted conversation on a virtual clock (no real waiting)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest

from kommunicate_async.bots import BotApp, BotContext, BotRequest, Reply, filters
from kommunicate_async.testing import BotTestFlow, VirtualClock

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate

HEADER = ("X-Bot-Token", "flow-s3cret")


def support_bot(km: KommunicateSession) -> BotApp:
    bot = BotApp(km, bot_header=HEADER, reply_deadline=25)

    @bot.on_message(when=filters.text("human"))
    async def human(request: BotRequest, ctx: BotContext) -> Reply:
        return Reply.handoff(message="Finding you a person.")

    @bot.on_message(when=filters.text("slow"))
    async def slow(request: BotRequest, ctx: BotContext) -> str:
        await asyncio.sleep(40)  # past the 25 s reply deadline
        return "Sorry for the wait: here it is."

    @bot.on_message
    async def echo(request: BotRequest, ctx: BotContext) -> str:
        return f"You said: {request.text}"

    return bot


async def test_a_scripted_conversation_with_a_slow_handler_does_not_sleep(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    started = time.monotonic()
    async with BotTestFlow(support_bot(session), fake, header=HEADER) as flow:
        assert await flow.send("hi") == [{"message": "You said: hi"}]
        flow.expect_reply("You said: hi")
        assert await flow.send("slow") == []  # the interim: nothing, at 25 s
        flow.expect_silence()
        await flow.settle()  # 15 more virtual seconds: the answer is posted
        late = flow.expect_reply("Sorry for the wait: here it is.")
        assert late.metadata["kmDedupeKey"].startswith("bot:")
        await flow.send("Human")
        flow.expect_handoff("agent@acme.io")
        assert flow.clock is not None and flow.clock.skipped >= 39
        with pytest.raises(AssertionError, match="said nothing"):
            flow.expect_reply("more")
        await flow.send("again")
        with pytest.raises(AssertionError, match="not 'You said: again'"):
            flow.expect_reply("something else")
        with pytest.raises(AssertionError, match="no more from the bot"):
            flow.expect_silence()
        with pytest.raises(AssertionError, match="handoff to bob"):
            flow.expect_handoff("bob")
    assert flow.statuses == [200, 200, 200, 200]
    assert time.monotonic() - started < 20  # far less than the 40 s slept


async def test_the_clock_is_real_again_afterwards() -> None:
    loop = asyncio.get_running_loop()
    async with VirtualClock() as clock:
        before = loop.time()
        await asyncio.sleep(3600)
        assert loop.time() - before >= 3600 and clock.skipped >= 3599
    assert "time" not in vars(loop)
    real = loop.time()
    await asyncio.sleep(0.01)
    assert 0.005 < loop.time() - real < 5
