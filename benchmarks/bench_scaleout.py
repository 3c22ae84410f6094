"""Many workers on one campaign: aggregate throughput, and what Redis costs a send.

Worker processes (1, 2, 4) each send their shard of one campaign through the shared
Redis rate limit (set far above what they reach) and the shared Redis checkpoint, to
one FakeKommunicate in its own process; the baseline is the raw aiohttp + msgspec loop
in the same number of processes, measured in the same run. Then, in one process, the
client CPU an item costs with the Redis rate limit and checkpoint against the same
`send_many` with no coordination, and with the same pacing and checkpoint held in
memory (fresh processes, alternating rounds, medians).

    python -m benchmarks.bench_scaleout [--messages 4000] [--workers 1,2,4] [--rounds 3]

Needs redis-server on PATH (Debian's package) and the `redis` extra.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from benchmarks._common import API_KEY, emit, fake_server, free_port, median, table

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


_CPU = """
import asyncio, sys, time
from redis.asyncio import Redis
from kommunicate_async import KommunicateSession, OutgoingMessage
from kommunicate_async.scaleout.redis import RedisBatchStore, RedisRateLimit
url, redis_url, mode, n, tag = sys.argv[1:6]
class MemoryStore:
    def __init__(self):
        self.items = {}
    async def open(self): pass
    async def begin(self, key, index):
        self.items[key] = "s"
        return "new"
    async def finish(self, line):
        self.items[line.key] = line.status
    async def clock(self, offset): pass
    async def close(self): pass
async def main():
    redis = Redis.from_url(redis_url)
    items = [OutgoingMessage(10000001, f"m{i}") for i in range(int(n))]
    extra = {}
    if mode == "memory":  # the same batch path, the state in this process
        extra = {"rate_limit": 1e6, "checkpoint": MemoryStore()}
    if mode == "redis":
        extra = {
            "rate_limit": RedisRateLimit(redis, tag, rate=1e6),
            "checkpoint": RedisBatchStore(redis, tag),
        }
    async with KommunicateSession("API_KEY", base_url=url, chat_url=url) as km:
        await km.messages.send_many(items[:200], concurrency=16)  # warm up
        started = time.process_time()
        await km.messages.send_many(items, concurrency=16, **extra)
        cpu = time.process_time() - started
    await redis.aclose()
    print(cpu / int(n) * 1e6)
asyncio.run(main())
""".replace("API_KEY", API_KEY)


def _cpu_per_item(url: str, redis_url: str, mode: str, count: int) -> float:
    """Client CPU (us) per item of a 16-wide `send_many` in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _CPU, url, redis_url, mode, str(count), _tag()],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip())


def _tag() -> str:
    return f"cpu-{time.time_ns()}"


def _cost(url: str, redis_url: str, count: int, rounds: int) -> dict[str, float]:
    """Client CPU per item, alternating rounds: no coordination vs the Redis rate
    limit and checkpoint (medians)."""
    runs: dict[str, list[float]] = {"none": [], "memory": [], "redis": []}
    for _ in range(rounds):
        for mode, values in runs.items():
            values.append(_cpu_per_item(url, redis_url, mode, count))
    base, local, coord = (median(v) for v in runs.values())
    return {
        "cpu_us_plain": base,
        "cpu_us_memory": local,
        "cpu_us_redis": coord,
        "redis_share": coord / base - 1,
    }


def main(messages: int, workers: list[int], rounds: int = 3) -> None:
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
            cost = _cost(url, redis_url, messages, rounds)
    finally:
        redis.terminate()
        redis.wait(10)
    print(table(["workers", "raw msg/s", "library+redis msg/s", "x raw"], rows))
    print(
        f"client CPU per item, send_many at concurrency 16 (one process, loopback, "
        f"medians of {rounds}): no coordination {cost['cpu_us_plain']:.0f} us, "
        f"RedisRateLimit + RedisBatchStore {cost['cpu_us_redis']:.0f} us "
        f"(+{cost['redis_share']:.0%}; target <= +25%); the same pacing and "
        f"checkpoint held in memory {cost['cpu_us_memory']:.0f} us"
    )
    emit("scaleout", {"messages": messages, "by_workers": results, **cost})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.messages, [int(w) for w in args.workers.split(",")], args.rounds)
