"""One answer and one order per conversation across bot replicas, on one Redis.

Needs the `redis` extra (`pip install "kommunicate-async[redis]"`, redis-py's asyncio
client). Every replica of a bot names the same Redis and the same `namespace`:

    from redis.asyncio import Redis
    from kommunicate_async.bots import BotApp
    from kommunicate_async.bots.redis import RedisReplyStore

    store = RedisReplyStore(Redis.from_url("redis://redis:6379/0"), "support-bot")
    bot = BotApp(km, bot_header=header, store=store, serialize=True)

What is kept, per message key and per conversation (all TTL-bounded):

- `r:<key>`: the answer's bytes and how it went (answered inline, posted late).
- `c:<key>`: the claim of the replica running the key: a random token with a lease
  (`lease` seconds, renewed while the handler runs). A redelivery to another replica
  waits for the answer; once the lease has lapsed (the replica died) it takes the
  run over. The token is the fencing token: writing the answer checks it, so a
  paused replica whose run was taken over cannot answer any more.
- `q:<group>`, `l:<group>`, `n:<group>` (with `serialize=True`): a ticket lock per
  conversation, a sorted set of message keys by ticket, each with its own lease. The
  head runs; a key whose lease lapsed leaves the queue after `lease + grace`
  seconds, unless a redelivery took it over first (it keeps its place in line).

Each step is one atomic script: a new key costs one round trip to begin (claim, and
the ticket with `serialize`) and one to finish (the fenced answer, and the unlock).
Waiting for the turn or for another replica polls every `poll` seconds. When Redis
cannot be reached, the step raises `CoordinationError`: the app answers 503 (the
platform retries) and no handler runs without its claim.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .._compat import override
from .._errors import ConfigurationError, CoordinationError
from ._redis_scripts import (
    _ABANDON,
    _BEGIN,
    _FINISH,
    _INTERIM,
    _ORPHANS,
    _RENEW,
    _SAVE,
)
from ._store import DEFAULT_TTL, ReplyRecord

try:
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "kommunicate_async.bots.redis needs redis-py: "
        'pip install "kommunicate-async[redis]"'
    ) from exc

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Begun", "RedisReplyStore", "RedisStateStore"]

_log: Final = logging.getLogger("kommunicate_async.bots")
_PREFIX: Final = "kommunicate:bot:"


@dataclass(frozen=True, slots=True)
class Begun:
    """What `RedisReplyStore.begin` found.

    Attributes:
        record: the key's recorded answer (nothing else is set then).
        token: the claim's fencing token when this replica now runs the key
            (None: another replica holds it).
        turn: True when the key may run now (its conversation's turn, or no order).
    """

    record: ReplyRecord | None = None
    token: str | None = None
    turn: bool = False


def _fail(what: str, exc: BaseException) -> CoordinationError:
    return CoordinationError(f"{what}: Redis failed ({type(exc).__name__}: {exc})")


def _record(raw: bytes) -> ReplyRecord:
    return ReplyRecord(raw[1:], raw[:1] == b"1")


class RedisReplyStore:
    """A `ReplyStore` shared by every replica of one bot, with leases and fencing.

    Args:
        redis: a `redis.asyncio.Redis` client (one Redis for the whole app).
        namespace: what every replica of the bot shares (keys are prefixed with it).
        lease: seconds a replica's claim on a message lasts without renewal (it is
            renewed every `lease / 3` while the handler runs): how long a message
            of a dead replica waits before a redelivery takes it over.
        grace: seconds a conversation keeps a dead replica's message in line after
            its lease lapsed, so its redelivery runs before the next message.
        ttl: seconds answers and queues are remembered.
        poll: seconds between looks while waiting for a turn or another replica.
    """

    def __init__(
        self,
        redis: Redis,
        namespace: str = "bot",
        *,
        lease: float = 10.0,
        grace: float = 10.0,
        ttl: float = DEFAULT_TTL,
        poll: float = 0.02,
    ) -> None:
        if not 0.1 <= lease <= 600:
            raise ConfigurationError("lease must be between 0.1 and 600 seconds")
        if not 0 <= grace <= 3600 or not lease < ttl <= 30 * 86400:
            raise ConfigurationError("grace must be 0..3600 s and ttl above lease")
        if not 0 < poll <= 1:
            raise ConfigurationError("poll must be > 0 and at most 1 second")
        self._redis: Any = redis  # redis-py types its results sync-or-async
        self._prefix = f"{_PREFIX}{namespace}:"
        self.lease = float(lease)
        self.grace = float(grace)
        self.ttl = float(ttl)
        self.poll = float(poll)
        self._begin: Any = redis.register_script(_BEGIN)
        self._renew: Any = redis.register_script(_RENEW)
        self._finish: Any = redis.register_script(_FINISH)
        self._abandon: Any = redis.register_script(_ABANDON)
        self._orphans: Any = redis.register_script(_ORPHANS)
        self._interim: Any = redis.register_script(_INTERIM)
        self._plain: dict[str, str] = {}
        """Tokens of the plain protocol's claims in flight (one per running key)."""

    @override
    def __repr__(self) -> str:
        return f"RedisReplyStore(prefix={self._prefix!r}, lease={self.lease:g})"

    # -- keys -------------------------------------------------------------------------

    def _key(self, kind: str, name: str | int) -> str:
        return f"{self._prefix}{kind}:{name}"

    def _queue(self, group_id: int) -> list[str]:
        return [self._key("q", group_id), self._key("l", group_id)]

    @property
    def _ms(self) -> tuple[int, int, int]:
        return int(self.lease * 1000), int(self.ttl * 1000), int(self.grace * 1000)

    # -- the leased steps (what `BotApp` uses) ------------------------------------

    async def begin(self, key: str, group_id: int, *, serialize: bool) -> Begun:
        """Read `key`'s answer, or claim it (and take its conversation's ticket)."""
        return await self._claim(key, group_id, self._ms[0], serialize=serialize)

    async def _claim(
        self, key: str, group_id: int, lease_ms: int, *, serialize: bool
    ) -> Begun:
        _, ttl_ms, grace_ms = self._ms
        token = secrets.token_hex(12)
        keys = [
            self._key("r", key),
            self._key("c", key),
            *self._queue(group_id),
            self._key("n", group_id),
        ]
        args = [token, lease_ms, ttl_ms, key, int(serialize), grace_ms]
        try:
            found = await self._begin(keys=keys, args=args)
        except RedisError as exc:
            raise _fail("claiming a bot message", exc) from None
        what = found[0].decode() if isinstance(found[0], bytes) else str(found[0])
        if what == "r":
            return Begun(record=_record(found[1]))
        if what == "busy":
            return Begun()
        return Begun(token=token, turn=found[1] in (b"1", "1"))

    async def renew(
        self, key: str, group_id: int, token: str, *, serialize: bool
    ) -> bool | None:
        """Renew the claim (and the place in line): True when it is `key`'s turn,
        False while it waits, None when another replica took the key over."""
        lease_ms, _, grace_ms = self._ms
        keys = [self._key("c", key), *self._queue(group_id)]
        try:
            found = int(
                await self._renew(
                    keys=keys, args=[token, lease_ms, key, int(serialize), grace_ms]
                )
            )
        except RedisError as exc:
            raise _fail("renewing a bot message's lease", exc) from None
        return None if found < 0 else found == 1

    async def finish(
        self,
        key: str,
        group_id: int,
        token: str,
        record: ReplyRecord,
        *,
        serialize: bool,
    ) -> int:
        """Record the answer and free the conversation: 1; or 2, nothing recorded
        and the claim kept, when an inline answer must be posted instead (a request
        for the key got the interim meanwhile: post it, then `finish` it as
        posted); or 0 when the key was taken over (another replica answers it)."""
        _, ttl_ms, _ = self._ms
        keys = [
            self._key("r", key),
            self._key("c", key),
            *self._queue(group_id),
            self._prefix + "late",
            self._key("i", key),
        ]
        value = (b"1" if record.posted else b"0") + record.body
        try:
            done = await self._finish(
                keys=keys, args=[token, value, ttl_ms, key, int(serialize)]
            )
        except RedisError as exc:
            raise _fail("recording a bot answer", exc) from None
        return int(done)

    async def abandon(self, key: str, group_id: int, token: str) -> None:
        """Drop a claim whose handler did not run (a retry may then run it)."""
        keys = [self._key("c", key), *self._queue(group_id)]
        try:
            await self._abandon(keys=keys, args=[token, key])
        except RedisError as exc:
            raise _fail("releasing a bot message", exc) from None

    async def interim(self, key: str, request: bytes) -> ReplyRecord | None:
        """The key's answer if recorded; else note that its latest request got the
        interim (an answer recorded later is posted, not only given inline) and
        keep `request`, so another replica can finish the run if this one dies."""
        try:
            raw = await self._interim(
                keys=[self._key("r", key), self._key("i", key), self._prefix + "late"],
                args=[int(self.ttl * 1000), key, request],
            )
        except RedisError as exc:
            raise _fail("answering a bot message with the interim", exc) from None
        return None if raw is None else _record(raw)

    async def orphans(self, most: int = 50) -> list[tuple[str, bytes]]:
        """Late runs whose replica's lease lapsed: (key, request) to take over."""
        try:
            found = await self._orphans(
                keys=[self._prefix + "late"], args=[self._prefix, most]
            )
        except RedisError as exc:
            raise _fail("looking for late bot runs", exc) from None
        return [
            (found[i].decode(), bytes(found[i + 1])) for i in range(0, len(found), 2)
        ]

    # -- the plain `ReplyStore` protocol (webhooks, other callers) ------------------

    async def get(self, key: str) -> ReplyRecord | None:
        try:
            raw = await self._redis.get(self._key("r", key))
        except RedisError as exc:
            raise _fail("reading a bot answer", exc) from None
        return None if raw is None else _record(raw)

    async def put(self, key: str, record: ReplyRecord) -> None:
        token = self._plain.pop(key, "")
        if not await self.finish(key, 0, token, record, serialize=False):
            _log.warning("bot answer for %s was already recorded", key)

    async def claim(self, key: str) -> bool:
        """Claim `key` until `ttl` (no lease: a webhook run is not taken over)."""
        begun = await self._claim(key, 0, int(self.ttl * 1000), serialize=False)
        if begun.token is None:
            return False
        self._plain[key] = begun.token
        return True

    async def release(self, key: str) -> None:
        token = self._plain.pop(key, None)
        if token is not None:
            await self.abandon(key, 0, token)


class RedisStateStore:
    """Conversation state (`ctx.state`) shared by every replica, one Redis hash per
    value (its bytes and version); `save` is one atomic compare-and-set script."""

    def __init__(self, redis: Redis, namespace: str = "bot") -> None:
        self._redis: Any = redis  # redis-py types its results sync-or-async
        self._prefix = f"{_PREFIX}{namespace}:s:"
        self._save: Any = redis.register_script(_SAVE)

    @override
    def __repr__(self) -> str:
        return f"RedisStateStore(prefix={self._prefix!r})"

    def _key(self, scope: str, name: str) -> str:
        return f"{self._prefix}{scope}:{name}"

    async def load(self, scope: str, name: str) -> tuple[bytes | None, int]:
        try:
            data, version = await self._redis.hmget(self._key(scope, name), "d", "v")
        except RedisError as exc:
            raise _fail("reading conversation state", exc) from None
        return (None, 0) if data is None else (bytes(data), int(version or 0))

    async def save(
        self, scope: str, name: str, value: bytes, *, expect: int | None, ttl: float
    ) -> int | None:
        args = ["" if expect is None else expect, value, int(ttl * 1000)]
        try:
            found = int(await self._save(keys=[self._key(scope, name)], args=args))
        except RedisError as exc:
            raise _fail("writing conversation state", exc) from None
        return None if found < 0 else found

    async def delete(self, scope: str, name: str) -> None:
        try:
            await self._redis.delete(self._key(scope, name))
        except RedisError as exc:
            raise _fail("deleting conversation state", exc) from None
