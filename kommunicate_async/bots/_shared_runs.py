"""`Runs` over a leased store shared by replicas (`bots/redis.py` `RedisReplyStore`).

The same runs as `bots/_runs.py`, with four differences:

- a key is claimed with a lease and a fencing token; the answer is recorded (fenced)
  *before* the waiting requests get it, so a replica whose run was taken over
  answers nobody (its requests get a 503 and the retry reads the new owner's answer);
- with `serialize=True` the conversation's turn comes from the store's ticket lock,
  so the order holds across replicas;
- a redelivery whose run is on another replica polls the store, and takes the run
  over once that replica's lease has lapsed;
- once any request for a key got the interim (on any replica), its answer is
  posted and the requests still waiting get `[]`: the platform listens to the
  latest request, and an answer given inline *and* posted would reach the
  conversation twice.

A `CoordinationError` (Redis unreachable) ends the request with a 503 before any
handler runs; the app logs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from typing import TYPE_CHECKING, Any, Final, Protocol

import msgspec

from .._compat import override
from .._errors import CoordinationError
from .._telemetry import late_post
from ._payloads import BotRequest
from ._runs import PHASES, Run, Runs
from ._store import ReplyRecord

if TYPE_CHECKING:
    from .redis import Begun

__all__ = ["LeasedStore", "SharedRuns"]

_log: Final = logging.getLogger("kommunicate_async.bots")
_EMPTY: Final = b"[]"
_SWEPT: Final = 200
"""Most orphaned runs one sweep takes over."""
_ADOPTING: Final = 16
"""Most takeovers of orphaned runs in flight at once (each one Redis round trip)."""
_RUNNING, _ANSWERED, _POSTING, _DONE = PHASES


class LeasedStore(Protocol):
    """The leased steps `SharedRuns` needs (`RedisReplyStore` has them)."""

    lease: float
    poll: float

    async def begin(self, key: str, group_id: int, *, serialize: bool) -> Begun: ...

    async def renew(
        self, key: str, group_id: int, token: str, *, serialize: bool
    ) -> bool | None: ...

    async def finish(
        self,
        key: str,
        group_id: int,
        token: str,
        record: ReplyRecord,
        *,
        serialize: bool,
    ) -> int: ...

    async def abandon(self, key: str, group_id: int, token: str) -> None: ...

    async def interim(self, key: str, request: bytes) -> ReplyRecord | None: ...

    async def orphans(self, most: int = 50) -> list[tuple[str, bytes]]: ...


class TakenOver(CoordinationError):
    """Another replica took this run over (its lease lapsed): it answers."""


class SharedRun(Run):
    """A run with its claim's token and whether its conversation's turn came."""

    __slots__ = ("inline", "token", "turn")

    def __init__(
        self, request: BotRequest, deadline: float, token: str, turn: bool
    ) -> None:
        super().__init__(request, deadline)
        self.token = token
        self.turn = turn
        self.inline = False
        """The answer was recorded to be given inline (`body`)."""


class SharedRuns(Runs):
    """`Runs` whose claims, answers and conversation order live in a leased store."""

    leased: LeasedStore
    serialize: bool
    _sweeper: asyncio.Task[None] | None = None

    def share(self, store: LeasedStore, *, serialize: bool) -> SharedRuns:
        self.leased = store
        self.serialize = serialize
        return self

    def stop(self) -> None:
        """Stop looking for other replicas' orphaned late runs (on shutdown)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    @override
    async def answer(self, request: BotRequest, deadline: float) -> bytes:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        run = self._runs.get(request.key)
        if run is None:
            found = await self.leased.begin(
                request.key, request.group_id, serialize=self.serialize
            )
            run = self._runs.get(request.key)  # started here meanwhile
            if run is None:
                if found.record is not None:
                    return _EMPTY if found.record.posted else found.record.body
                if found.token is None:
                    return await self._elsewhere_leased(request, deadline)
                run = self._start_shared(request, deadline, found.token, found.turn)
            elif found.token is not None:  # pragma: no cover - a same-loop race
                await self.leased.abandon(request.key, request.group_id, found.token)
        return await self._join(run, deadline)

    @override
    async def _wait(self, run: Run, deadline: float) -> bytes:
        body = await super()._wait(run, deadline)
        if body is not self._interim:
            return body
        if isinstance(run, SharedRun) and run.inline:
            return run.body  # timed out while the answer was being recorded
        if run.phase == _RUNNING and run.waiters:
            return body  # a request still waiting hands the run over, or answers
        # The last request waiting got the interim: the answer, if recorded; else
        # the run is kept for takeover *before* the interim goes out. Also when the
        # handler ended just after the deadline and the post has begun: a replica
        # dying mid-post would otherwise leave an answer nobody finishes.
        return await self._interim_or_answer(run.request, body)

    async def _interim_or_answer(self, request: BotRequest, interim: bytes) -> bytes:
        try:
            found = await self.leased.interim(request.key, _encode_request(request))
        except CoordinationError as exc:
            _log.warning(
                "could not hand %s over to a late answer: %s", request.key, exc
            )
            return interim
        if found is None:
            return interim
        return _EMPTY if found.posted else found.body

    async def _join(self, run: Run, deadline: float) -> bytes:
        if run.phase == _ANSWERED:
            return run.body
        if run.phase != _RUNNING:
            # Being posted: `[]`, once the run is kept for takeover (or recorded).
            return await self._interim_or_answer(run.request, _EMPTY)
        return await self._wait(run, deadline)

    def _start_shared(
        self, request: BotRequest, deadline: float, token: str, turn: bool
    ) -> Run:
        run = self._runs[request.key] = SharedRun(request, deadline, token, turn)
        run.task = asyncio.get_running_loop().create_task(self._drive(run))
        self.tasks.add(run.task)
        run.task.add_done_callback(self.tasks.discard)
        return run

    async def _elsewhere_leased(self, request: BotRequest, deadline: float) -> bytes:
        """Another replica runs the key: wait for its answer, or take it over once
        its lease lapsed."""
        while time.monotonic() < deadline:
            await asyncio.sleep(self.leased.poll)
            run = self._runs.get(request.key)
            if run is not None:
                return await self._join(run, deadline)
            found = await self.leased.begin(
                request.key, request.group_id, serialize=self.serialize
            )
            if found.record is not None:
                return _EMPTY if found.record.posted else found.record.body
            if found.token is not None:
                _log.warning(
                    "took over message %s (conversation %s): "
                    "its replica's lease lapsed",
                    request.key,
                    request.group_id,
                )
                run = self._start_shared(request, deadline, found.token, found.turn)
                return await self._join(run, deadline)
        # The interim, unless the answer was recorded meanwhile (then, if the
        # replica running it dies, nobody would redeliver it: it is kept for a live
        # replica to take over).
        return await self._interim_or_answer(request, self._interim)

    # -- the run --------------------------------------------------------------------

    @override
    async def _drive(self, run: Run) -> None:
        assert isinstance(run, SharedRun)
        beat = asyncio.get_running_loop().create_task(self._heartbeat(run))
        try:
            if not run.turn:
                await self._wait_turn(run)
            await self._run_and_record(run)
        except CoordinationError as exc:  # never ran, or taken over
            waited = bool(run.waiters)  # they get a 503: the platform retries
            self._refuse_waiters(run, exc)
            if not (waited or isinstance(exc, TakenOver)):
                # Its requests got the interim: nobody else will report it.
                self._deliverer.fail(run.request, f"not run: {exc}")
        except asyncio.CancelledError:
            self.give_up(run, "shut down before the handler finished")
            raise
        finally:
            beat.cancel()
            run.phase = _DONE
            self._runs.pop(run.request.key, None)

    async def _wait_turn(self, run: SharedRun) -> None:
        request = run.request
        while True:
            turn = await self.leased.renew(
                request.key, request.group_id, run.token, serialize=self.serialize
            )
            if turn is None:
                raise TakenOver(f"message {request.key} was taken over")
            if turn:
                return
            await asyncio.sleep(self.leased.poll)

    async def _run_and_record(self, run: SharedRun) -> None:
        request = run.request
        replies, body = await self._produce(run)
        if run.phase != _RUNNING:
            return  # given up by a shutdown, and reported: never also posted
        if run.waiters and await self._record(run, ReplyRecord(body)) == 1:
            run.body = body
            run.inline = True
            self._settle(run, _ANSWERED, body)
            return
        # Nobody waits, or a request for the key got the interim meanwhile (here or
        # on another replica: `finish` then recorded nothing). The platform listens
        # to the latest request, and which of the waiting ones that is cannot be
        # told, so the answer is posted and the requests still waiting get `[]`:
        # the conversation gets it once, never inline and posted both.
        self._settle(run, _POSTING, _EMPTY)
        await self._still_ours(run)
        await late_post(self._deliverer, request, replies)  # reports losses
        await self._record(run, ReplyRecord(body, True))

    @staticmethod
    def _settle(run: SharedRun, phase: int, body: bytes) -> None:
        """Move the run to `phase` and answer the requests waiting with `body`."""
        run.phase = phase
        for waiter in run.waiters:
            if not waiter.done():
                waiter.set_result(body)
        run.waiters.clear()

    async def _still_ours(self, run: SharedRun) -> None:
        """Before a late post: TakenOver if another replica took the run; when
        Redis cannot tell, the answer is posted anyway rather than lost."""
        request = run.request
        try:
            turn = await self.leased.renew(
                request.key, request.group_id, run.token, serialize=self.serialize
            )
        except CoordinationError as exc:
            _log.error("posting %s without its lease checked: %s", request.key, exc)
            return
        if turn is None:
            raise TakenOver(f"message {request.key} was taken over")

    async def _record(self, run: SharedRun, record: ReplyRecord) -> int:
        request = run.request
        try:
            done = await self.leased.finish(
                request.key,
                request.group_id,
                run.token,
                record,
                serialize=self.serialize,
            )
        except CoordinationError as exc:
            # The handler ran: its answer goes out unrecorded rather than lost (a
            # redelivery after the lease could run it again: the limits in
            # docs/guides/many-replicas.md).
            _log.error("bot answer for %s not recorded: %s", request.key, exc)
            return 1
        if not done:
            raise TakenOver(f"message {request.key} was taken over")
        return done

    def _refuse_waiters(self, run: Run, exc: CoordinationError) -> None:
        _log.error(
            "bot message %s (conversation %s) not answered here: %s: %s",
            run.request.key,
            run.request.group_id,
            type(exc).__name__,
            exc,
        )
        for waiter in run.waiters:
            if not waiter.done():
                waiter.set_exception(exc)
        run.waiters.clear()

    async def _sweep(self) -> None:
        """Every half lease: take over late runs whose replica died.

        A dead replica leaves dozens of runs at once, and each one holds its
        conversation's line for only `lease + grace`: adopted one Redis round trip
        after another on a loaded replica, the last ones came after their place
        had lapsed (and ran after the next message). So they are claimed at once
        (at most `_ADOPTING` round trips in flight), in an order of this replica's
        own, so replicas sweeping together do not queue for the same keys.
        """
        limit = asyncio.Semaphore(_ADOPTING)

        async def adopt(key: str, raw: bytes) -> None:
            async with limit:
                await self._adopt(key, raw)

        while True:
            await asyncio.sleep(self.leased.lease / 2)
            try:
                found = await self.leased.orphans(_SWEPT)
            except CoordinationError as exc:
                _log.warning("could not look for orphaned bot runs: %s", exc)
                continue
            random.shuffle(found)
            await asyncio.gather(*(adopt(key, raw) for key, raw in found))

    async def _adopt(self, key: str, raw: bytes) -> None:
        try:
            request = _decode_request(raw)
        except (msgspec.DecodeError, TypeError):  # not what `interim` kept
            _log.error("dropped an unreadable late bot run %s", key)
            return
        if key in self._runs:
            return
        try:
            found = await self.leased.begin(
                key, request.group_id, serialize=self.serialize
            )
        except CoordinationError:
            return
        if found.token is None or key in self._runs:
            return
        _log.warning(
            "took over late message %s (conversation %s): its replica's lease lapsed",
            key,
            request.group_id,
        )
        self._start_shared(request, time.monotonic(), found.token, found.turn)

    async def _heartbeat(self, run: SharedRun) -> None:
        """Renew the lease every third of it while the run lasts."""
        request = run.request
        while True:
            await asyncio.sleep(self.leased.lease / 3)
            try:
                turn = await self.leased.renew(
                    request.key, request.group_id, run.token, serialize=self.serialize
                )
            except CoordinationError as exc:
                _log.warning("could not renew the lease of %s: %s", request.key, exc)
                continue
            if turn is None:
                _log.warning(
                    "message %s was taken over by another replica", request.key
                )
                return


def leased(store: object) -> LeasedStore | None:
    """`store` when it has the leased steps (a shared, replica-aware store)."""
    steps = ("begin", "renew", "finish", "abandon", "interim", "orphans")
    if all(callable(getattr(store, name, None)) for name in steps):
        return store  # type: ignore[return-value]
    return None


def _encode_request(request: BotRequest) -> bytes:
    fields = dataclasses.asdict(dataclasses.replace(request, users=None))
    del fields["users"]
    return msgspec.json.encode(fields)


def _decode_request(raw: bytes) -> BotRequest:
    fields: dict[str, Any] = msgspec.json.decode(raw, type=dict[str, Any])
    return BotRequest(**fields)
