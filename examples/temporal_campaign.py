"""One campaign over many machines, on Temporal: durable, pausable, cancellable.

Every worker machine runs the same worker (Temporal + Redis + a Kommunicate key);
the campaign's JSONL file must be at the same path on each (a shared volume):
each worker reads only the chunks it is given, never the whole file.

    TEMPORAL_ADDRESS=localhost:7233 REDIS_URL=redis://localhost:6379/0 \\
        python examples/temporal_campaign.py worker
    python examples/temporal_campaign.py start FILE CAMPAIGN RATE   (e.g. ... 400)
    python examples/temporal_campaign.py pause|resume|cancel|status CAMPAIGN

The worker reads `KOMMUNICATE_API_KEY` (and `KOMMUNICATE_BASE_URL`) as usual.
`kommunicate-async campaign ...` does the same from the shell.
"""

from __future__ import annotations

import asyncio
import os
import sys

from redis.asyncio import Redis
from temporalio.client import Client

from kommunicate_async import KommunicateSession
from kommunicate_async.scaleout.temporal import (
    campaign_handle,
    campaign_worker,
    start_campaign,
)

TEMPORAL = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
REDIS = os.environ.get("REDIS_URL", "redis://localhost:6379/0")


async def worker() -> None:
    """Run one worker until interrupted: it sends the chunks Temporal gives it."""
    client = await Client.connect(TEMPORAL)
    redis = Redis.from_url(REDIS)
    async with KommunicateSession() as km:
        await campaign_worker(client, km, redis, max_chunks=4).run()


async def start(path: str, campaign: str, rate: float) -> None:
    """Start the campaign (or attach to it) and follow it to its report."""
    client = await Client.connect(TEMPORAL)
    handle = await start_campaign(client, campaign, path, rate=rate, chunk_size=1000)
    result = asyncio.ensure_future(handle.result())
    while not result.done():
        progress = await handle.progress()
        eta = "-" if progress.eta is None else f"{progress.eta:.0f}s"
        print(f"{progress.done}/{progress.total} {progress.state} ETA {eta}")
        await asyncio.wait([result], timeout=2)
    report = result.result()
    print(report.delivered, report.failed, report.ambiguous, report.not_sent)


async def steer(action: str, campaign: str) -> None:
    handle = campaign_handle(await Client.connect(TEMPORAL), campaign)
    if action == "pause":
        await handle.pause()  # returns once no worker sends
    elif action == "resume":
        await handle.resume()
    elif action == "cancel":
        await handle.cancel()
    print(await handle.progress())


if __name__ == "__main__":
    command = sys.argv[1:2]
    if command == ["worker"]:
        asyncio.run(worker())
    elif command == ["start"]:
        path, campaign, rate = sys.argv[2:5]
        asyncio.run(start(path, campaign, float(rate)))
    elif command and command[0] in ("pause", "resume", "cancel", "status"):
        asyncio.run(steer(command[0], sys.argv[2]))
    else:
        sys.exit(__doc__)
