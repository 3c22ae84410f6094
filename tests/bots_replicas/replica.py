"""One replica of the end-to-end test: examples/multi_replica_bot.py's server with a
handler that logs, in Redis, each run it starts and each run it completes.

    python tests/bots_replicas/replica.py PORT NAMESPACE

A message's text is "m<seq> d<milliseconds>": the handler sleeps that long, and
logs "m<seq>@<pid>" once it has completed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from examples import multi_replica_bot

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from kommunicate_async import KommunicateSession
    from kommunicate_async.bots import BotApp, BotContext, BotRequest

_log = logging.getLogger("e2e")
LEASE = 5.0
DEADLINE = 1.0


def make(namespace: str) -> multi_replica_bot.Build:
    def build(km: KommunicateSession, redis: Redis) -> BotApp:
        bot = multi_replica_bot.build(
            km,
            redis,
            os.environ["BOT_TOKEN"],
            namespace=namespace,
            lease=LEASE,
            reply_deadline=DEADLINE,
        )
        log = f"e2e:{namespace}"
        shared: Any = redis  # redis-py types its results sync-or-async
        bot.handlers.message.clear()

        @bot.on_message
        async def answer(request: BotRequest, ctx: BotContext) -> str:  # noqa: ARG001
            seq, delay = request.text.split()
            _log.info("run %s %s %s", request.key, request.group_id, seq)
            await shared.rpush(f"{log}:start:{request.group_id}", seq)
            await asyncio.sleep(int(delay[1:]) / 1000)
            await shared.rpush(f"{log}:done:{request.group_id}", f"{seq}@{os.getpid()}")
            return f"answer {request.group_id} {seq}"

        return bot

    return build


if __name__ == "__main__":
    if os.environ.get("BOTREPLICAS_LOGS"):
        logging.basicConfig(level=logging.INFO, format=f"{sys.argv[1]} %(message)s")
    asyncio.run(multi_replica_bot.serve(int(sys.argv[1]), make(sys.argv[2])))
