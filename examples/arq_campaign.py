"""One campaign over many arq workers: one send budget, one 429 pause, one checkpoint.

Each job sends one shard of the same JSONL file (one `OutgoingMessage` per line).
Every worker takes its jobs from the same Redis, and shares there the app's send
budget (with any other campaign and the app's bots, which go first), its 429 pause
and the campaign's checkpoint: a job retried on another machine (its
worker was killed) resumes where it stopped, reconciling what was in flight.

    REDIS_URL=redis://localhost:6379/0 python examples/arq_campaign.py worker
    REDIS_URL=... python examples/arq_campaign.py enqueue FILE CAMPAIGN SHARDS RATE
    (e.g. enqueue campaign.jsonl spring-sale 20 400: 20 jobs, 400 sends/s in all)

The worker reads `KOMMUNICATE_API_KEY` (and `KOMMUNICATE_BASE_URL`) as usual.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any

import msgspec
from arq import create_pool, run_worker
from arq.connections import RedisSettings
from arq.worker import func

from kommunicate_async import KommunicateSession, OutgoingMessage
from kommunicate_async.scaleout.redis import RedisBatchStore, RedisRateLimit

if TYPE_CHECKING:
    from collections.abc import Iterator

REDIS = RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
API_KEY = os.environ.get("KOMMUNICATE_API_KEY", "")  # names the budget (a digest)
JOB_TIMEOUT = 30  # seconds; a killed worker's job is retried this + 10 s after it began


def read_items(path: str) -> Iterator[OutgoingMessage]:
    decoder = msgspec.json.Decoder(OutgoingMessage)
    with open(path, "rb") as lines:
        yield from (decoder.decode(line) for line in lines if line.strip())


async def send_shard(
    ctx: dict[str, Any], path: str, campaign: str, k: int, n: int, rate: float
) -> dict[str, int]:
    """Send shard k of n of the file at `rate` sends a second for the campaign."""
    redis = ctx["redis"]  # arq's own client: a redis.asyncio.Redis
    report = await ctx["km"].messages.send_many(
        read_items(path),
        shard=(k, n),
        # One budget per API key (as Kong counts): every campaign and bot of the app.
        rate_limit=RedisRateLimit(redis, api_key=API_KEY, rate=rate),
        checkpoint=RedisBatchStore(redis, campaign),
        reconcile=True,
        concurrency=16,
    )
    return {
        "delivered": report.delivered,
        "failed": report.failed,
        "ambiguous": report.ambiguous,
        "skipped": report.skipped,
    }


async def startup(ctx: dict[str, Any]) -> None:
    ctx["km"] = KommunicateSession()  # one pool for every job of this worker


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["km"].aclose()


class WorkerSettings:
    functions = [func(send_shard, timeout=JOB_TIMEOUT, max_tries=5)]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = REDIS
    max_jobs = 1  # one shard at a time: the shared limit sets the pace anyway
    poll_delay = 0.2


async def enqueue(path: str, campaign: str, shards: int, rate: float) -> None:
    pool = await create_pool(REDIS)
    for k in range(shards):  # a fixed job id: enqueueing twice is harmless
        await pool.enqueue_job(
            "send_shard", path, campaign, k, shards, rate, _job_id=f"{campaign}:{k}"
        )
    await pool.aclose()


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        run_worker(WorkerSettings)  # type: ignore[arg-type]
    elif sys.argv[1:2] == ["enqueue"]:
        path, campaign, shards, rate = sys.argv[2:6]
        asyncio.run(enqueue(path, campaign, int(shards), float(rate)))
    else:
        sys.exit(__doc__)
