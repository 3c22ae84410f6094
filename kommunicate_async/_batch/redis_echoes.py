"""`RedisEchoStore`: webhook echoes shared through Redis (`pip install
"kommunicate-async[redis]"`).

The webhook receiver (a `BotApp` in its own process, `include_echoes=True`,
`app.on_webhook(store.on_webhook)`) writes each echo that carries a dedupe key as
one Redis key per conversation reference, with a TTL; the campaign's workers,
anywhere, pass the same store (`echoes=`) and poll for the echoes of an ambiguous
request's targets with one `MGET` every `poll` seconds, until `settle` runs out.

Echoes are evidence, never a dependency: if Redis fails while a worker waits, it
logs a WARNING and goes on as without echoes (reconcile reads the history).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final

import anyio

from .._logging import log
from .._metadata import MetadataKey

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from redis.asyncio import Redis

__all__ = ["RedisEchoStore"]

_DEDUPE: Final = MetadataKey.DEDUPE_KEY.value
_CACHED: Final = 100_000


class RedisEchoStore:
    """Echoes in Redis under `kmecho:<namespace>:`, shared by every process of an
    app (name the namespace after the app, or the campaign).

    Args:
        redis: a `redis.asyncio.Redis` client.
        namespace: what separates this app's (or campaign's) echoes from others'.
        ttl: seconds an echo is kept (a day).
        poll: seconds between two looks while waiting for echoes.
    """

    def __init__(
        self,
        redis: Redis,
        namespace: str,
        *,
        ttl: float = 86_400.0,
        poll: float = 0.05,
    ) -> None:
        self._redis = redis
        self._prefix = f"kmecho:{namespace}:"
        self._ttl = max(1, int(ttl))
        self._poll = poll
        self._cache: OrderedDict[tuple[int | str, str], str] = OrderedDict()
        self.recorded = 0
        """Echoes with a dedupe key this process recorded."""

    def _key(self, ref: int | str, dedupe: str) -> str:
        kind = (
            "g" if isinstance(ref, int) else "c"
        )  # groupId 5 is not clientGroupId "5"
        return f"{self._prefix}{kind}:{ref}\x1f{dedupe}"

    async def record(
        self,
        message_key: str,
        metadata: Mapping[str, Any] | None,
        *,
        group_id: int | None = None,
        client_group_id: str | None = None,
    ) -> bool:
        """Record one webhook message; True when it carried a dedupe key.

        Raises:
            redis.exceptions.RedisError: Redis failed (the webhook answers 500
                and Kommunicate may deliver it again).
        """
        dedupe = (metadata or {}).get(_DEDUPE)
        if not isinstance(dedupe, str) or not dedupe:
            return False
        pipe = self._redis.pipeline(transaction=False)
        for ref in (group_id, client_group_id):
            if ref is not None:
                pipe.set(self._key(ref, dedupe), message_key, ex=self._ttl)
        await pipe.execute()
        self.recorded += 1
        return True

    async def on_webhook(self, message: Any, _ctx: object = None) -> None:
        """A `BotApp.on_webhook` handler: record a `WebhookMessage`."""
        await self.record(
            message.key,
            message.metadata,
            group_id=message.group_id,
            client_group_id=message.client_group_id,
        )

    def find(self, conversation: int | str, dedupe_key: str) -> str | None:
        """An echo this process has already seen (no Redis round trip)."""
        return self._cache.get((conversation, dedupe_key))

    async def wait_for(
        self, wanted: Iterable[tuple[int | str, str]], seconds: float
    ) -> dict[tuple[int | str, str], str]:
        """The echoes of `wanted` found within `seconds` (one MGET a look)."""
        pending: list[tuple[int | str, str]] = list(dict.fromkeys(wanted))
        found: dict[tuple[int | str, str], str] = {}
        deadline = time.monotonic() + seconds
        while pending:
            try:
                keys = [self._key(ref, dedupe) for ref, dedupe in pending]
                values: list[Any] = await self._redis.mget(keys)
            except Exception as exc:  # evidence, not a dependency: go on without
                log.warning(
                    "echoes: Redis failed (%s); going on without them",
                    type(exc).__name__,
                )
                return found
            for ref, value in zip(pending, values, strict=True):
                if value is not None:
                    found[ref] = self._remember(ref, value)
            pending = [w for w in pending if w not in found]
            left = deadline - time.monotonic()
            if not pending or left <= 0:
                break
            await anyio.sleep(min(self._poll, left))
        return found

    def _remember(self, ref: tuple[int | str, str], value: bytes | str) -> str:
        key = value.decode() if isinstance(value, bytes) else value
        self._cache[ref] = key
        while len(self._cache) > _CACHED:
            self._cache.popitem(last=False)
        return key
