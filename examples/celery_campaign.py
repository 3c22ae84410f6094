"""The same campaign on Celery (its Redis broker): one event loop per task.

    celery -A examples.celery_campaign worker --concurrency 4
    python -c "from examples.celery_campaign import start; start('c.jsonl', 'x', 9, 90)"

Celery workers are synchronous, so each task runs one `asyncio.run()`; the session
follows that loop (a new pool per task). The rate limit, the 429 pause and the
checkpoint live in Redis, shared by every task of the campaign, exactly as in
`examples/arq_campaign.py`. Not run in CI (Celery itself is not a dependency); a
test checks that it imports and wires the same pieces.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from kommunicate_async import KommunicateSession
from kommunicate_async.scaleout.redis import RedisBatchStore, RedisRateLimit

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")

try:
    from celery import Celery, group
except ImportError:  # pragma: no cover - Celery is the user's, not ours
    Celery = None

app: Any = None if Celery is None else Celery("campaign", broker=REDIS_URL)


async def deliver(
    path: str, campaign: str, k: int, n: int, rate: float
) -> dict[str, int]:
    from redis.asyncio import Redis

    from examples.arq_campaign import read_items

    redis = Redis.from_url(REDIS_URL)
    try:
        async with KommunicateSession() as km:
            report = await km.messages.send_many(
                read_items(path),
                shard=(k, n),
                rate_limit=RedisRateLimit(redis, campaign, rate=rate),
                checkpoint=RedisBatchStore(redis, campaign),
                reconcile=True,
            )
    finally:
        await redis.aclose()
    return {
        "delivered": report.delivered,
        "failed": report.failed,
        "ambiguous": report.ambiguous,
        "skipped": report.skipped,
    }


def send_shard(path: str, campaign: str, k: int, n: int, rate: float) -> dict[str, int]:
    return asyncio.run(deliver(path, campaign, k, n, rate))


if app is not None:  # acks_late: a task whose worker died is delivered again
    send_shard = app.task(acks_late=True, reject_on_worker_lost=True, max_retries=5)(
        send_shard
    )


def start(path: str, campaign: str, shards: int, rate: float) -> Any:
    task: Any = send_shard  # a Celery task once `app` exists
    return group(task.s(path, campaign, k, shards, rate) for k in range(shards))()
