"""One handler run per message key; the run owns its outcome, start to end.

A run starts with the first request for a key and is driven by one task, which
alone decides how it ends, in exactly one of three ways:

- **answered**: the answer was ready while a request still waited for it; those
  requests answer with its bytes, and the bytes are recorded, so a redelivery gets
  the same bytes;
- **posted**: every waiting request had already been answered with the interim (its
  deadline passed); the answer is recorded as posted (a redelivery now gets `[]` at
  once) and posted into the conversation;
- **undelivered**: posting failed, was cut off by a shutdown, or the app shut down
  before the handler finished; what was not posted is in `undelivered`, logged.

Whatever the handler returns or raises (an empty or unencodable reply, a wrong
type, an exception, a `CancelledError` that is not the app's own shutdown), the run
turns it into the `fallback` at once and logs it once: a failure never waits for the
deadline. Waiting requests are plain futures with a timer, so a quick answer costs no
`wait_for` and no extra task wake-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Final

from .._telemetry import late_post, note_deadline_miss, note_fallback, note_replies
from ._handlers import BotContext
from ._reply import apply_policies, encode_reply, reply_items
from ._store import ReplyRecord

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager

    from .._session import KommunicateSession
    from ..rich._message import RichMessage
    from ._deliver import Deliverer
    from ._handlers import Handlers
    from ._payloads import BotRequest
    from ._reply import Reply
    from ._store import ReplyStore

__all__ = ["PHASES", "Answer", "Run", "Runs"]

_log: Final = logging.getLogger("kommunicate_async.bots")
_EMPTY: Final = b"[]"
_POLL: Final = 0.05
"""Seconds between looks at a shared store while another worker runs a key."""

Answer = list["Reply | RichMessage"]

_RUNNING: Final = 0
_ANSWERED: Final = 1
_POSTING: Final = 2
_DONE: Final = 3
PHASES: Final = (_RUNNING, _ANSWERED, _POSTING, _DONE)
"""A run's phases, in order (for `bots/_shared_runs.py`)."""


class Run:
    """One key's handler run and the requests waiting for it."""

    __slots__ = ("body", "deadline", "phase", "request", "task", "waiters")

    def __init__(self, request: BotRequest, deadline: float) -> None:
        self.request = request
        self.deadline = deadline
        self.task: asyncio.Task[None] | None = None
        self.waiters: list[asyncio.Future[bytes]] = []
        self.body = b""
        self.phase = _RUNNING


class Runs:
    """The runs in flight: handler, fallback, answer or post, and the record."""

    def __init__(
        self,
        store: ReplyStore,
        *,
        handlers: Handlers,
        deliverer: Deliverer,
        km: KommunicateSession | None,
        interim: bytes,
        fallback: tuple[Answer, bytes],
        lock: Callable[[int], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self._store = store
        self._handlers = handlers
        self._deliverer = deliverer
        self._km = km
        self._interim = interim
        self._fallback = fallback
        self._lock = lock
        self._runs: dict[str, Run] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        """Runs still going, their posts included (drained on shutdown)."""

    def unsettled(self) -> list[Run]:
        """Runs that have not ended yet."""
        return [run for run in self._runs.values() if run.phase != _DONE]

    async def answer(self, request: BotRequest, deadline: float) -> bytes:
        """The reply bytes for `request`; its handler runs at most once per key.

        `deadline` is a `time.monotonic()` instant.
        """
        key = request.key
        run = self._runs.get(key)
        if run is None:
            # Claim first: a new key (the usual case) costs one store call, not two.
            if await self._store.claim(key):
                run = self._start(request, deadline)
            else:
                run = self._runs.get(key)  # started here while the claim was in flight
                if run is None:
                    record = await self._store.get(key)
                    if record is not None:
                        return _EMPTY if record.posted else record.body
                    run = self._runs.get(key)
                    if run is None:  # claimed, unanswered: another worker runs it
                        return await self._elsewhere(key, deadline)
        if run.phase == _ANSWERED:
            return run.body
        if run.phase != _RUNNING:
            return _EMPTY  # the answer is being posted (or was): it is on its way
        return await self._wait(run, deadline)

    def _start(self, request: BotRequest, deadline: float) -> Run:
        run = self._runs[request.key] = Run(request, deadline)
        run.task = asyncio.get_running_loop().create_task(self._drive(run))
        self.tasks.add(run.task)
        run.task.add_done_callback(self.tasks.discard)
        return run

    async def _wait(self, run: Run, deadline: float) -> bytes:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bytes] = loop.create_future()
        run.waiters.append(waiter)
        timer = loop.call_later(
            max(0.0, deadline - time.monotonic()), _expire, run, waiter
        )
        try:
            body = await waiter
        finally:
            timer.cancel()
            if waiter in run.waiters:  # cancelled from outside (a client gone)
                run.waiters.remove(waiter)
        if body is _TIMED_OUT:
            note_deadline_miss()
            _log.info(
                "bot reply for message %s deferred: the handler is still running",
                run.request.key,
            )
            return self._interim
        return body

    # -- the one owner of a run's outcome -------------------------------------------

    async def _drive(self, run: Run) -> None:
        key = run.request.key
        try:
            replies, run.body = await self._produce(run)
            note_replies(replies)
            if run.phase != _RUNNING:
                return  # given up by a shutdown, and reported: never also posted
            if run.waiters:
                run.phase = _ANSWERED
                for waiter in run.waiters:
                    if not waiter.done():
                        waiter.set_result(run.body)
                run.waiters.clear()
                await self._store.put(key, ReplyRecord(run.body))
                return
            run.phase = _POSTING  # from here a redelivery gets [] at once
            # linked to the request's span when OTel is on
            await late_post(self._deliverer, run.request, replies)  # reports losses
            await self._store.put(key, ReplyRecord(run.body, True))
        except asyncio.CancelledError:
            self.give_up(run, "shut down before the handler finished")
            raise
        finally:
            run.phase = _DONE
            self._runs.pop(key, None)

    def give_up(self, run: Run, reason: str) -> None:
        """End a run whose handler will not finish: report it, once."""
        if run.phase != _RUNNING:
            return
        run.phase = _DONE
        for waiter in run.waiters:
            if not waiter.done():
                waiter.set_result(_TIMED_OUT)
        self._deliverer.fail(run.request, reason)

    async def _produce(self, run: Run) -> tuple[Answer, bytes]:
        """The handler's replies and their bytes, or the fallback's: never raises
        but for the app's own cancellation."""
        request = run.request
        handler = self._handlers.route(request)
        if handler is None:
            return [], _EMPTY
        ctx = BotContext(self._km, request, run.deadline, store=self._handlers.state)
        what = "raised"
        try:
            if self._lock is not None:
                async with self._lock(request.group_id):
                    result = await self._handlers.call(handler, request, ctx)
            else:
                result = await self._handlers.call(handler, request, ctx)
            what = "returned an unusable answer"
            replies = reply_items(result)
            what = "had its handoff policy fail"
            replies = await apply_policies(replies, self._km, request.group_id)
            what = "returned an unusable answer"
            return replies, encode_reply(replies)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # the app's shutdown: `_drive` reports it
            self._failed(handler, request, "was cancelled", exc)
        except Exception as exc:  # a handler bug or a bad answer: the fallback, now
            self._failed(handler, request, what, exc)
        return list(self._fallback[0]), self._fallback[1]

    @staticmethod
    def _failed(
        handler: object, request: BotRequest, what: str, exc: BaseException
    ) -> None:
        note_fallback()
        # Key and conversation only: never the body, the reply or a secret. A bad
        # answer's error names its type, not its content; a raised exception keeps
        # its traceback (the handler's own code).
        _log.error(
            "bot handler %s %s on message %s (conversation %s): %s; "
            "answered with the fallback",
            getattr(handler, "__qualname__", type(handler).__name__),
            what,
            request.key,
            request.group_id,
            type(exc).__name__,
            exc_info=exc if what == "raised" else None,
        )

    async def _elsewhere(self, key: str, deadline: float) -> bytes:
        """Another worker sharing the store runs `key`: wait for its answer."""
        while time.monotonic() < deadline:
            record = await self._store.get(key)
            if record is not None:
                return _EMPTY if record.posted else record.body
            await asyncio.sleep(_POLL)
        return self._interim


_TIMED_OUT: Final = b"\x00timed out"
"""A waiter's result when its deadline passed first (compared by identity)."""


def _expire(run: Run, waiter: asyncio.Future[bytes]) -> None:
    if waiter.done():
        return
    if waiter in run.waiters:
        run.waiters.remove(waiter)
    waiter.set_result(_TIMED_OUT)
