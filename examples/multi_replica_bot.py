"""A bot served by N replica processes on one Redis: one answer, one order.

Each replica is an aiohttp server with the same `BotApp` on a shared
`RedisReplyStore` (`serialize=True`): a message redelivered to another replica is
answered once, a conversation's messages are handled in order across replicas, and a
replica that dies has its runs finished by another after the lease. Put a load
balancer in front of the ports, then:

    REDIS_URL=redis://localhost:6379/0 KOMMUNICATE_API_KEY=... BOT_TOKEN=<header> \\
        python examples/multi_replica_bot.py 4 --port 8081

starts 4 replicas on ports 8081-8084 (Ctrl-C stops them all); one replica alone is
`python examples/multi_replica_bot.py serve 8081`. HOST (default 0.0.0.0) is the
address they listen on.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from aiohttp import web
from redis.asyncio import Redis

from kommunicate_async import KommunicateSession
from kommunicate_async.bots import BotApp, BotContext, BotRequest
from kommunicate_async.bots.redis import RedisReplyStore

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    Build = Callable[[KommunicateSession, Redis], BotApp]


def build(
    km: KommunicateSession,
    redis: Redis,
    bot_token: str,
    *,
    namespace: str = "multi-replica-bot",
    lease: float = 10.0,
    reply_deadline: float = 25.0,
) -> BotApp:
    """The bot every replica runs: the same code, the same Redis namespace."""
    store = RedisReplyStore(redis, namespace, lease=lease)
    bot = BotApp(
        km,
        bot_header=("X-Bot-Token", bot_token),
        store=store,
        serialize=True,  # one conversation's messages in order, across replicas
        reply_deadline=reply_deadline,
    )

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        return f"You said: {request.text}"

    return bot


def default_build(km: KommunicateSession, redis: Redis) -> BotApp:
    return build(km, redis, os.environ["BOT_TOKEN"])


async def serve(port: int, make: Build = default_build) -> None:
    """Run one replica on `port` until SIGTERM or SIGINT, then drain it."""
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
    async with KommunicateSession() as km:
        runner = web.AppRunner(
            make(km, redis).aiohttp_app(), access_log=None, handle_signals=False
        )
        await runner.setup()
        await web.TCPSite(runner, os.environ.get("HOST", "0.0.0.0"), port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"replica {os.getpid()} serving on :{port}", flush=True)
        await stop.wait()
        await runner.cleanup()  # late answers finish (or are reported) first
    await redis.aclose()


def launch(
    count: int, port: int, script: str = __file__
) -> list[subprocess.Popen[bytes]]:
    """Start `count` replicas of `script` on ports `port`, `port + 1`, ..."""
    return [
        subprocess.Popen([sys.executable, script, "serve", str(port + i)])
        for i in range(count)
    ]


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["serve"]:
        asyncio.run(serve(int(argv[1])))
        return 0
    count = int(argv[0]) if argv else 2
    port = int(argv[argv.index("--port") + 1]) if "--port" in argv else 8081
    signal.signal(signal.SIGTERM, _interrupt)  # stopping the launcher stops them all
    replicas = launch(count, port)
    try:
        for replica in replicas:
            replica.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.terminate()
        for replica in replicas:
            replica.wait(30)
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
