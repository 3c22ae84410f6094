"""A campaign's checkpoint in one Redis hash: `begin`s grouped into one script call."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Final

from redis.exceptions import RedisError

from ..._batch.checkpoint import CheckpointLine, Uncertain
from ..._errors import CoordinationError
from ._limit import PREFIX, failure
from ._scripts import BEGIN

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .. import Begin

__all__ = ["RedisBatchStore"]

_MAX_PENDING: Final = 64
"""Final states written at the latest when this many wait."""
_MAX_GROUP: Final = 256
"""Most `begin`s in one script call."""

_Waiter = tuple[str, "asyncio.Future[str]"]


class RedisBatchStore:
    """A campaign's checkpoint in one Redis hash, shared by all its workers.

    Delivered items are skipped by every worker, in-flight and ambiguous ones are
    reconciled by the next run that takes them, and the server's clock offset is
    kept for that reconcile, as the JSONL file does. `ttl` (seconds, None: keep)
    expires the campaign's keys after its last write.

    The `begin`s of a worker's concurrent sends travel together: while one call
    is on its way the next ones queue, and go as one script call (with the final
    states waiting to be written) when it returns: one round trip for many items.
    """

    def __init__(
        self, redis: Redis, campaign: str, *, ttl: float | None = 7 * 24 * 3600
    ) -> None:
        self._redis: Any = redis  # redis-py types its results sync-or-async
        self._items = f"{PREFIX}{campaign}:items"
        self._meta = f"{PREFIX}{campaign}:meta"
        self._ttl = "" if ttl is None else str(int(ttl * 1000))
        self._begin: Any = redis.register_script(BEGIN)
        self._offset: int | None = None
        self._pending: dict[str, str] = {}
        self._queue: list[_Waiter] = []
        self._runner: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Check Redis answers and read the campaign's clock offset."""
        try:
            raw = await self._redis.hget(self._meta, "offset")
        except RedisError as exc:
            raise failure("the shared checkpoint", exc) from None
        self._offset = None if raw is None else int(raw)

    async def begin(self, key: str, index: int) -> Begin:  # noqa: ARG002 - protocol
        """Skip a delivered item; mark any other in flight (returning an earlier
        run's mark, to reconcile). Final states waiting to be written go in the
        same round trip."""
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append((key, waiter))
        if self._runner is None:
            self._runner = asyncio.ensure_future(self._run())
        text = await waiter
        if text == "new" or text == "delivered":
            return "new" if text == "new" else "delivered"
        return _mark(text)

    async def _run(self) -> None:
        """Send the queued `begin`s, a group a call, until none is left."""
        try:
            while self._queue:
                group = self._queue[:_MAX_GROUP]
                del self._queue[:_MAX_GROUP]
                await self._send_group(group)
        finally:
            self._runner = None

    async def _send_group(self, group: list[_Waiter]) -> None:
        offset = "" if self._offset is None else str(self._offset)
        args = self._script_args(f"s:{_now_ms()}:{offset}")
        args += (key for key, _ in group)
        try:
            found: list[bytes | str] = await self._begin(keys=[self._items], args=args)
        except RedisError as exc:
            error = failure("the shared checkpoint", exc)
            for _, waiter in group:
                if not waiter.done():
                    waiter.set_exception(_copy(error))
            return
        for (_, waiter), raw in zip(group, found, strict=True):
            if not waiter.done():  # a cancelled begin: marked, to reconcile later
                waiter.set_result(raw.decode() if isinstance(raw, bytes) else raw)

    def _script_args(self, mark: str) -> list[str | int]:
        """`BEGIN`'s arguments up to the in-flight `mark`: the final states
        waiting (taken now) go first."""
        pending, self._pending = self._pending, {}
        args: list[str | int] = [self._ttl, len(pending)]
        for field, value in pending.items():
            args += (field, value)
        args.append(mark)
        return args

    async def finish(self, line: CheckpointLine) -> None:
        """Record the item's final status: with the next `begin`, or at `close`
        (as the JSONL file defers its final lines: a crash before then leaves the
        item in flight, to be reconciled, never assumed either way)."""
        if line.status == "delivered":
            value = f"d:{line.message_key or ''}"
        elif line.status == "failed":
            value = "f"
        else:
            offset = "" if self._offset is None else str(self._offset)
            value = f"a:{line.at}:{offset}"
        self._pending[line.key] = value
        if len(self._pending) >= _MAX_PENDING and self._runner is None:
            await self.flush()

    async def flush(self) -> None:
        """Write the final states still waiting (after the `begin`s on their way)."""
        runner = self._runner
        if runner is not None:
            await asyncio.shield(runner)
        if not self._pending:
            return
        args = self._script_args("")  # no keys to begin: the final states alone
        try:  # the script, not HSET: an ambiguous outcome keeps its item's mark time
            await self._begin(keys=[self._items], args=args)
        except RedisError as exc:
            raise failure("the shared checkpoint", exc) from None

    async def clock(self, offset: int) -> None:
        """Keep the smallest clock offset any worker learned."""
        if self._offset is not None and offset >= self._offset:
            return
        self._offset = offset
        try:
            await self._redis.hset(self._meta, "offset", str(offset))
        except RedisError as exc:
            raise failure("the shared checkpoint", exc) from None

    async def close(self) -> None:
        """Write what waits (the Redis client itself is the caller's)."""
        await self.flush()

    async def outcomes(self) -> dict[str, str]:
        """Every item's state ("delivered", "failed", "ambiguous", "sending"),
        for reports and tests."""
        try:
            raw: dict[bytes | str, bytes | str] = await self._redis.hgetall(self._items)
        except RedisError as exc:
            raise failure("the shared checkpoint", exc) from None
        names = {"d": "delivered", "f": "failed", "a": "ambiguous", "s": "sending"}
        return {
            (k.decode() if isinstance(k, bytes) else str(k)): names[
                (v.decode() if isinstance(v, bytes) else str(v))[0]
            ]
            for k, v in raw.items()
        }


def _copy(error: CoordinationError) -> CoordinationError:
    """One exception object per waiter: a raised exception collects its traceback."""
    return CoordinationError(str(error))


def _mark(text: str) -> Uncertain:
    """An earlier "s:<at>:<offset>" or "a:<at>:<offset>" as an `Uncertain`."""
    _, at, offset = (text.split(":", 2) + ["", ""])[:3]
    return Uncertain(int(at or 0), int(offset) if offset else None)


def _now_ms() -> int:
    return int(time.time() * 1000)
