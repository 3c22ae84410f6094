"""The shared send budget, 429 pause and checkpoint of campaigns and bots, on Redis.

Needs the `redis` extra (`pip install "kommunicate-async[redis]"`, redis-py's asyncio
client). Every worker names the same Redis; the rate limit is the app's (one budget
per API key, as Kong counts it), the checkpoint the campaign's:

    from redis.asyncio import Redis
    from kommunicate_async.scaleout.redis import RedisBatchStore, RedisRateLimit

    redis = Redis.from_url("redis://localhost:6379/0")
    await km.messages.send_many(
        items,
        shard=(k, n),
        rate_limit=RedisRateLimit(redis, api_key=API_KEY, rate=95),
        checkpoint=RedisBatchStore(redis, "spring-sale"),
        reconcile=True,
    )

A bot of the same app takes its late posts from the same budget, first:
`app.deliverer.rate_limit = RedisRateLimit(redis, api_key=API_KEY, rate=95).for_bots()`
(docs/guides/rate-limits.md).

Both use Redis's own clock (`TIME`), so the workers' clocks never matter, and each
operation is one atomic script, one round trip for many sends: campaign slots are
taken in blocks and a worker's `begin`s travel together (with the final states of
earlier items). When Redis cannot be reached the batch stops with a
`CoordinationError` (items already sent get their results first); it never goes on
without the shared limit or checkpoint.
"""

from __future__ import annotations

try:
    import redis.exceptions  # noqa: F401  # pyright: ignore[reportUnusedImport]
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "kommunicate_async.scaleout.redis needs redis-py: "
        'pip install "kommunicate-async[redis]"'
    ) from exc

from ..._public import claim
from ._limit import Priority, RedisRateLimit, budget_name
from ._store import RedisBatchStore

__all__ = ["Priority", "RedisBatchStore", "RedisRateLimit", "budget_name"]

claim(__name__, globals())  # reprs and tracebacks read the public path
