"""One handler run per message key, answered exactly once.

A run starts with the first request for a key. Every request for that key (the
first, and any redelivery while it runs) waits for the run until its own deadline:

- the run finishes while someone waits: that request answers with the reply bytes,
  and they are remembered, so a later redelivery gets the same bytes;
- nobody is waiting when it finishes (every deadline passed): the answer is posted
  into the conversation instead (`post`), and a later redelivery gets `[]`.

The two cases cannot both happen: whichever side comes second sees the first's mark,
and asyncio runs each side between awaits without interruption.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Final

from ._reply import encode_reply
from ._store import ReplyRecord

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..rich._message import RichMessage
    from ._payloads import BotRequest
    from ._reply import Reply
    from ._store import ReplyStore

__all__ = ["Run", "Runs"]

_log: Final = logging.getLogger("kommunicate_async.bots")
_EMPTY: Final = b"[]"
_POLL: Final = 0.05
"""Seconds between looks at a shared store while another worker runs a key."""

Answer = list["Reply | RichMessage"]


class Run:
    """One key's handler run and who is waiting for it."""

    __slots__ = ("body", "done", "posted", "request", "task", "waiters")

    def __init__(self, request: BotRequest) -> None:
        self.request = request
        self.task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        self.body: bytes | None = None
        self.waiters = 0
        self.posted = False


class Runs:
    """The runs in flight, the store of answered keys, and deferred posting."""

    def __init__(
        self,
        store: ReplyStore,
        *,
        post: Callable[[BotRequest, Answer], Awaitable[None]],
        interim: bytes,
    ) -> None:
        self._store = store
        self._post = post
        self._interim = interim
        self._runs: dict[str, Run] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        """Handler runs and deferred posts still going (drained on shutdown)."""

    def running(self) -> list[BotRequest]:
        """Requests whose handler has not finished."""
        return [run.request for run in self._runs.values() if run.body is None]

    async def answer(
        self,
        request: BotRequest,
        execute: Callable[[BotRequest], Awaitable[Answer]],
        deadline: float,
    ) -> bytes:
        """The reply bytes for `request`, running `execute` at most once per key."""
        key = request.key
        run = self._runs.get(key)
        if run is None:
            record = await self._store.get(key)
            if record is not None:
                return _EMPTY if record.posted else record.body
            run = self._runs.get(key)  # another request may have started it meanwhile
        if run is None:
            if not await self._store.claim(key):
                return await self._elsewhere(key, deadline)
            run = self._start(request, execute)
        return await self._wait(run, deadline)

    def _start(
        self, request: BotRequest, execute: Callable[[BotRequest], Awaitable[Answer]]
    ) -> Run:
        run = self._runs[request.key] = Run(request)
        run.task = asyncio.get_running_loop().create_task(self._execute(run, execute))
        self.tasks.add(run.task)
        run.task.add_done_callback(self.tasks.discard)
        return run

    async def _execute(
        self, run: Run, execute: Callable[[BotRequest], Awaitable[Answer]]
    ) -> None:
        replies = await execute(run.request)  # never raises: failures are a fallback
        run.body = encode_reply(replies)
        if run.waiters:
            run.done.set()
            await self._store.put(run.request.key, ReplyRecord(run.body))
        else:  # every request for this key was already answered with the interim
            run.posted = True
            try:
                await self._post(run.request, replies)
            finally:
                await self._store.put(run.request.key, ReplyRecord(run.body, True))
        self._runs.pop(run.request.key, None)

    async def _wait(self, run: Run, deadline: float) -> bytes:
        run.waiters += 1
        try:
            await asyncio.wait_for(
                run.done.wait(), max(0.0, deadline - time.monotonic())
            )
        except TimeoutError:
            pass
        finally:
            run.waiters -= 1
        if run.body is not None and not run.posted:
            return run.body
        _log.info(
            "bot reply for message %s deferred: the handler is still running",
            run.request.key,
        )
        return self._interim

    async def _elsewhere(self, key: str, deadline: float) -> bytes:
        """Another worker sharing the store runs `key`: wait for its answer."""
        while time.monotonic() < deadline:
            record = await self._store.get(key)
            if record is not None:
                return _EMPTY if record.posted else record.body
            await asyncio.sleep(_POLL)
        return self._interim
