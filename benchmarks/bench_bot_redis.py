"""Per-request cost of the replica stores: `RedisReplyStore` (and its ticket lock with
`serialize=True`) against `MemoryReplyStore`, in one run, in process.

Each mode answers the same realistic custom-bot requests through `BotApp.handle`,
one at a time (a new message key each, 10 conversations in turn), on a redis-server
of its own on loopback. Reported: wall time per request, the ratio to the memory
store, and Redis commands per request as the client sends them (each one a round
trip: nothing is pipelined on this path).

    python -m benchmarks.bench_bot --redis [--requests 2000]     (needs redis-server)
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from typing import Any

from benchmarks._common import emit, free_port, table

MODES = ("memory", "memory+serialize", "redis", "redis+serialize")
HEADERS = {"X-Bot-Token": "bench-s3cret"}


def _bot(mode: str, redis: Any) -> Any:
    from kommunicate_async.bots import BotApp
    from kommunicate_async.bots.redis import RedisReplyStore

    store = (
        RedisReplyStore(redis, f"bench-{mode}") if mode.startswith("redis") else None
    )
    bot = BotApp(
        None,
        bot_header=("X-Bot-Token", HEADERS["X-Bot-Token"]),
        store=store,
        serialize=mode.endswith("serialize"),
    )

    @bot.on_message
    async def answer(request: Any, ctx: Any) -> str:  # noqa: ARG001
        return "You said: " + request.text

    return bot


class Counted:
    """Counts the commands a client sends: each is one round trip (scripts run
    their own commands inside Redis, which the server's stats would count too)."""

    def __init__(self, redis: Any) -> None:
        self.sent = 0
        send = redis.execute_command

        async def counted(*args: Any, **options: Any) -> Any:
            self.sent += 1
            return await send(*args, **options)

        redis.execute_command = counted


async def _measure(
    mode: str, redis: Any, counter: Counted, n: int
) -> tuple[float, float]:
    from benchmarks.bench_bot import request

    bot = _bot(mode, redis)
    bodies = [request(i) for i in range(n + 50)]
    for body in bodies[:50]:  # warm: scripts loaded, connections open
        await bot.handle("bot", HEADERS, body)
    before = counter.sent
    started = time.perf_counter()
    for body in bodies[50:]:
        reply = await bot.handle("bot", HEADERS, body)
        assert reply.status == 200 and reply.body.startswith(b'[{"message":"You'), reply
    took = time.perf_counter() - started
    commands = counter.sent - before
    await bot.aclose()
    return took / n * 1e6, commands / n


async def _run(url: str, n: int) -> dict[str, tuple[float, float]]:
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        counter = Counted(redis)
        return {mode: await _measure(mode, redis, counter, n) for mode in MODES}
    finally:
        await redis.aclose()


def main(requests: int) -> None:
    server = shutil.which("redis-server")
    if server is None:
        print("redis-server not found: skipped")
        emit("bot_redis", {"skipped": True})
        return
    port = free_port()
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        found = asyncio.run(_run(f"redis://127.0.0.1:{port}/0", requests))
    finally:
        proc.kill()
        proc.wait()
    base = found["memory"][0]
    rows = [
        [mode, round(us), us / base, round(rt, 2)] for mode, (us, rt) in found.items()
    ]
    print(table(["store", "us/request", "x memory", "redis round trips/request"], rows))
    emit(
        "bot_redis",
        {
            mode.replace("+", "_"): {"us": round(us, 1), "round_trips": round(rt, 2)}
            for mode, (us, rt) in found.items()
        },
    )
