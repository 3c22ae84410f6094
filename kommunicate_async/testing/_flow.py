"""`BotTestFlow`: a scripted conversation with a `BotApp`, on a virtual clock.

    async with BotTestFlow(bot, fake, header=("X-Bot-Token", secret)) as flow:
        await flow.send("hi")
        flow.expect_reply("You said: hi")
        await flow.send("slow question")   # the handler sleeps 40 s: no real wait
        await flow.settle()                # late answers posted
        flow.expect_reply("a slow answer")
        await flow.send("human")
        flow.expect_handoff()

The requests go through `bot.handle` (no sockets), the answers are applied to the
FakeKommunicate as Kommunicate would, and the bot's messages (inline or posted late)
are read in order. While the flow is open, the running event loop's clock is
virtual (`VirtualClock`): when nothing is ready to run and nothing has arrived,
time jumps to the next timer, so reply deadlines, `asyncio.sleep` and timeouts pass
at once. It is for bots and a FakeKommunicate in this process and loop; work done in
threads or other processes does not advance it (and may see time jump).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from ..bots import BotApp
    from ._server import FakeKommunicate
    from ._state import FakeMessage

__all__ = ["BotTestFlow", "VirtualClock"]


class VirtualClock:
    """`async with VirtualClock() as clock:` the running loop's time is virtual."""

    def __init__(self) -> None:
        self.skipped = 0.0
        """Seconds the clock jumped ahead of real time."""
        self._restore: list[Any] = []

    async def __aenter__(self) -> VirtualClock:
        loop = asyncio.get_running_loop()
        # The selector the loop blocks in (asyncio's own selector loops keep it
        # there); a loop without one cannot be made virtual.
        selector: Any = vars(loop).get("_selector")
        if selector is None:
            raise RuntimeError("VirtualClock needs asyncio's selector event loop")
        real_time = loop.time
        real_select: Any = selector.select

        def time() -> float:
            return real_time() + self.skipped

        def select(timeout: float | None = None) -> Any:
            events = real_select(0)
            if events or timeout == 0:
                return events
            if timeout is None:  # no timer at all: wait for I/O for real
                return real_select(None)
            self.skipped += timeout  # only timers are left: jump to the next one
            return events

        loop.time = time  # type: ignore[method-assign]
        selector.select = select
        self._restore = [loop, selector, real_select]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop, selector, real_select = self._restore
        del loop.time  # the class's own method again
        selector.select = real_select


class BotTestFlow:
    """One conversation with `bot`, scripted (see the module docstring).

    Args:
        bot: the app under test (its handlers are registered).
        fake: the FakeKommunicate its session talks to (late answers land there).
        header: the dashboard header the bot checks.
        sender: the user who writes.
        bot_id: the bot the messages are routed to.
        virtual: run on a virtual clock (default True).
    """

    def __init__(
        self,
        bot: BotApp,
        fake: FakeKommunicate,
        *,
        header: tuple[str, str] | None = None,
        sender: str = "user-1",
        bot_id: str = "bot",
        virtual: bool = True,
    ) -> None:
        self.bot = bot
        self.fake = fake
        self.header = header
        self.sender = sender
        self.bot_id = bot_id
        self.clock = VirtualClock() if virtual else None
        self.group_id = 0
        self.statuses: list[int] = []
        self._read = 0
        self._keys = itertools.count(1)

    async def __aenter__(self) -> BotTestFlow:
        group = self.fake.state.create_group(
            name="flow",
            members=[self.sender, self.bot_id],
            client_group_id=None,
            metadata={},
            admin_id=self.bot_id,
        )
        self.group_id = group.id
        if self.clock is not None:
            await self.clock.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.bot.aclose()
        finally:
            if self.clock is not None:
                await self.clock.__aexit__(exc_type, exc, tb)

    async def send(
        self,
        text: str,
        *,
        event: str | None = None,
        chat_context: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The user writes `text`: the bot's inline reply array (also applied)."""
        key, group = self.fake.bots.prepare_bot_request(
            "",
            text,
            group_id=self.group_id,
            bot_id=self.bot_id,
            sender=self.sender,
            event=event,
            chat_context=chat_context,
            header=self.header,
        )
        _, body, headers = self.fake.bots.sent[key]
        reply = await self.bot.handle("bot", headers, body)
        self.statuses.append(reply.status)
        replies: list[dict[str, Any]] = []
        if reply.status == 200:
            decoded = msgspec.json.decode(reply.body)
            replies = [r for r in decoded if isinstance(r, dict)]
        self.fake.bots.apply(group, self.bot_id, replies)
        return replies

    async def settle(self) -> None:
        """Let the late answers in flight finish (on the virtual clock: at once)."""
        runs = self.bot._runs  # pyright: ignore[reportPrivateUsage]
        while runs.tasks:
            await asyncio.wait(set(runs.tasks))

    def said(self) -> list[FakeMessage]:
        """The bot's messages not yet expected, oldest first."""
        mine = [m for m in self.fake.messages(self.group_id) if m.sender != self.sender]
        return mine[self._read :]

    def expect_reply(self, text: str) -> FakeMessage:
        """The bot's next message is `text` (inline or posted late)."""
        waiting = self.said()
        if not waiting:
            raise AssertionError(f"expected the bot to say {text!r}; it said nothing")
        if waiting[0].text != text:
            raise AssertionError(
                f"expected the bot to say {text!r}, not {waiting[0].text!r}"
            )
        self._read += 1
        return waiting[0]

    def expect_silence(self) -> None:
        """The bot said nothing more."""
        left = [m.text for m in self.said()]
        if left:
            raise AssertionError(f"expected no more from the bot; it said {left!r}")

    def expect_handoff(self, agent: str | None = None) -> None:
        """The conversation was handed to `agent` (any assignee when None)."""
        group = self.fake.conversation(self.group_id)
        found = group.metadata.get("CONVERSATION_ASSIGNEE")
        if not found or (agent is not None and found != agent):
            raise AssertionError(
                f"expected a handoff to {agent or 'someone'}, got {found!r}"
            )
        self._read = len(
            [m for m in self.fake.messages(self.group_id) if m.sender != self.sender]
        )
