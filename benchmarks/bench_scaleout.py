"""Many workers on one campaign: aggregate throughput, and what Redis costs a send.

Worker processes (1, 2, 4) each send their shard of one campaign through the shared
Redis rate limit (set far above what they reach) and the shared Redis checkpoint, to
one FakeKommunicate in its own process; the baseline is the raw aiohttp + msgspec loop
in the same number of processes, measured in the same run. Then, in one process, the
cost of the Redis pieces per send: `RedisRateLimit.wait()` and `begin` + `finish`.

    python -m benchmarks.bench_scaleout [--messages 4000] [--workers 1,2,4]

Needs redis-server on PATH (Debian's package) and the `redis` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

from benchmarks._common import API_KEY, emit, fake_server, free_port, table

_RAW = """
import asyncio, sys, time, aiohttp, msgspec
url, n = sys.argv[1] + "/rest/ws/message/v2/send", int(sys.argv[2])
async def main():
    async with aiohttp.ClientSession(headers={"Api-Key": "API_KEY"}) as http:
        left = n
        json = {"Content-Type": "application/json"}
        async def worker():
            nonlocal left
            while left > 0:
                left -= 1
                body = msgspec.json.encode(
                    {"groupId": 10000001, "message": "m", "fromUserName": "bot"}
                )
                async with http.post(url, data=body, headers=json) as r:
                    msgspec.json.decode(await r.read())
        await asyncio.gather(*(worker() for _ in range(16)))
asyncio.run(main())
""".replace("API_KEY", API_KEY)

_LIBRARY = """
import asyncio, sys
from redis.asyncio import Redis
from kommunicate_async import KommunicateSession, OutgoingMessage
from kommunicate_async.scaleout.redis import RedisBatchStore, RedisRateLimit
url, redis_url, campaign, n, k, shards = sys.argv[1:7]
async def main():
    redis = Redis.from_url(redis_url)
    items = (OutgoingMessage(10000001, f"m{i}") for i in range(int(n)))
    async with KommunicateSession("API_KEY", base_url=url, chat_url=url) as km:
        await km.messages.send_many(
            items, shard=(int(k), int(shards)), concurrency=16,
            rate_limit=RedisRateLimit(redis, campaign, rate=1e6),
            checkpoint=RedisBatchStore(redis, campaign),
        )
    await redis.aclose()
asyncio.run(main())
""".replace("API_KEY", API_KEY)


def _run_all(scripts: list[list[str]]) -> float:
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", *s]) for s in scripts]
    for proc in procs:
        if proc.wait(600) != 0:
            raise SystemExit("a worker failed")
    return time.perf_counter() - started


async def _cost(redis_url: str, count: int) -> dict[str, float]:
    from redis.asyncio import Redis

    from kommunicate_async._batch.checkpoint import CheckpointLine
    from kommunicate_async.scaleout.redis import RedisBatchStore, RedisRateLimit

    redis = Redis.from_url(redis_url)
    limit = RedisRateLimit(redis, "cost", rate=1e7)
    store = RedisBatchStore(redis, "cost")
    await store.open()
    started = time.perf_counter()
    for _ in range(count):
        await limit.wait()
    per_wait = (time.perf_counter() - started) / count
    started = time.perf_counter()
    for i in range(count):
        await store.begin(f"k{i}", i)
        await store.finish(CheckpointLine(f"k{i}", "delivered", i, 0, "5-x"))
    per_item = (time.perf_counter() - started) / count
    await redis.aclose()
    return {"limit_us": per_wait * 1e6, "store_us": per_item * 1e6}


def main(messages: int, workers: list[int]) -> None:
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    redis_url = f"redis://127.0.0.1:{port}/0"
    rows, results = [], {}
    try:
        with fake_server(keep_messages=20) as url:
            # one conversation to send to (groupId 10000001, the fake's first)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "kommunicate_async",
                    "conversation",
                    "create",
                    "--member",
                    "u",
                ],
                env={
                    **os.environ,
                    "KOMMUNICATE_API_KEY": API_KEY,
                    "KOMMUNICATE_BASE_URL": url,
                    "KOMMUNICATE_CHAT_URL": url,
                },
                check=True,
                stdout=subprocess.DEVNULL,
            )
            for n in workers:
                raw = _run_all([[_RAW, url, str(messages // n)] for _ in range(n)])
                lib = _run_all(
                    [
                        [
                            _LIBRARY,
                            url,
                            redis_url,
                            f"c{n}-{time.time_ns()}",
                            str(messages),
                            str(k),
                            str(n),
                        ]
                        for k in range(n)
                    ]
                )
                raw_rate, lib_rate = messages / raw, messages / lib
                results[n] = {"raw": raw_rate, "library": lib_rate}
                rows.append(
                    [n, round(raw_rate), round(lib_rate), round(lib_rate / raw_rate, 2)]
                )
        cost = asyncio.run(_cost(redis_url, 2000))
    finally:
        redis.terminate()
        redis.wait(10)
    print(table(["workers", "raw msg/s", "library+redis msg/s", "x raw"], rows))
    print(
        f"per send: RedisRateLimit.wait() {cost['limit_us']:.0f} us, "
        f"RedisBatchStore begin+finish {cost['store_us']:.0f} us "
        "(one process, loopback)"
    )
    emit("scaleout", {"messages": messages, "by_workers": results, **cost})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    main(args.messages, [int(w) for w in args.workers.split(",")])
