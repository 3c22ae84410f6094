"""Send throughput against FakeKommunicate (in its own process), alternating rounds.

Clients, all sending the same bytes (`message/v2/send` with a dedupe key in metadata)
and decoding the reply with msgspec:
  library-batch  km.messages.iter_send(items, concurrency=c)
  library-send   c workers calling km.messages.send()
  raw-aiohttp    c workers on one aiohttp.ClientSession, msgspec encode/decode
  httpx          c workers on one httpx.AsyncClient
  requests       a plain synchronous requests.Session loop (concurrency 1 only)

Reports medians of throughput and of client CPU per request (the server runs on the
other core), and the library/raw ratios.

    python -m benchmarks.bench_send [--rounds 5] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec

from benchmarks._common import API_KEY, emit, fake_server, median, table
from kommunicate_async import KommunicateSession
from kommunicate_async.models.batch import OutgoingMessage

CONCURRENCY = (1, 16, 64, 256)
REQUESTS = {1: 600, 16: 3000, 64: 6000, 256: 6000}
PATH = "/rest/ws/message/v2/send"
HEADERS = {"Api-Key": API_KEY, "Content-Type": "application/json"}


class Body(msgspec.Struct):
    groupId: int
    message: str
    fromUserName: str
    metadata: dict[str, str]


class Reply(msgspec.Struct):
    messageKey: str
    createdAt: int | None = None


ENCODE = msgspec.json.Encoder().encode
DECODE = msgspec.json.Decoder(Reply).decode

Runner = Callable[[int, int], Awaitable[int]]


def body(i: int, conversations: list[int]) -> bytes:
    return ENCODE(
        Body(
            conversations[i % len(conversations)],
            f"bench {i}",
            "bot",
            {"kmDedupeKey": f"{i:024x}"},
        )
    )


async def workers(n: int, c: int, one: Callable[[int], Awaitable[None]]) -> int:
    counter = iter(range(n))

    async def loop() -> None:
        for i in counter:
            await one(i)

    await asyncio.gather(*(loop() for _ in range(c)))
    return n


def make_runners(
    url: str,
    conversations: list[int],
    km: KommunicateSession,
    http: aiohttp.ClientSession,
    hx: Any,
) -> dict[str, Runner]:
    target = url + PATH

    async def library_batch(n: int, c: int) -> int:
        items = (
            OutgoingMessage(conversations[i % len(conversations)], f"bench {i}")
            for i in range(n)
        )
        done = 0
        async for result in km.messages.iter_send(items, concurrency=c):
            done += result.message_key is not None
        return done

    async def library_send(n: int, c: int) -> int:
        async def one(i: int) -> None:
            await km.messages.send(
                conversations[i % len(conversations)],
                f"bench {i}",
                metadata={"kmDedupeKey": f"{i:024x}"},
            )

        return await workers(n, c, one)

    async def raw(n: int, c: int) -> int:
        async def one(i: int) -> None:
            async with http.post(
                target, data=body(i, conversations), headers=HEADERS
            ) as resp:
                DECODE(await resp.read())

        return await workers(n, c, one)

    async def httpx_client(n: int, c: int) -> int:
        async def one(i: int) -> None:
            resp = await hx.post(
                target, content=body(i, conversations), headers=HEADERS
            )
            DECODE(resp.content)

        return await workers(n, c, one)

    return {
        "library-batch": library_batch,
        "library-send": library_send,
        "raw-aiohttp": raw,
        "httpx": httpx_client,
    }


def requests_loop(url: str, conversations: list[int], n: int) -> tuple[float, float]:
    import requests

    with requests.Session() as session:
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            DECODE(
                session.post(
                    url + PATH, data=body(i, conversations), headers=HEADERS
                ).content
            )
        return n / (time.perf_counter() - started), (
            time.process_time() - cpu
        ) / n * 1e6


async def measure(runner: Runner, n: int, c: int) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    done = await runner(n, c)
    assert done == n, f"{done} of {n} delivered"
    return n / (time.perf_counter() - started), (time.process_time() - cpu) / n * 1e6


async def main(rounds: int, scale: float) -> None:
    import httpx

    with fake_server() as url:
        async with (
            KommunicateSession(API_KEY, base_url=url, chat_url=url) as km,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http,
            httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as hx,
        ):
            conversations = [
                (await km.conversations.create([f"u{i}"])).id for i in range(20)
            ]
            runners = make_runners(url, conversations, km, http, hx)
            rows, result = [], {}
            for c in CONCURRENCY:
                n = max(50, int(REQUESTS[c] * scale))
                rates: dict[str, list[float]] = {k: [] for k in runners}
                cpus: dict[str, list[float]] = {k: [] for k in runners}
                for name, runner in runners.items():  # warm-up: pools, caches
                    await measure(runner, min(n, 200) if name == "httpx" else n // 4, c)
                for _ in range(rounds):  # all clients in every round, back to back
                    for name, runner in runners.items():
                        size = (
                            max(50, n // 10) if name == "httpx" else n
                        )  # httpx is slow
                        rate, cpu = await measure(runner, size, c)
                        rates[name].append(rate)
                        cpus[name].append(cpu)

                # Ratios per round (neighbours in time share the machine's mood), then
                # the median and spread of those: steadier than a ratio of medians.
                def ratio(
                    name: str, rates: dict[str, list[float]] = rates
                ) -> list[float]:
                    pairs = zip(rates[name], rates["raw-aiohttp"], strict=True)
                    return sorted(a / b for a, b in pairs)

                raw, raw_cpu = median(rates["raw-aiohttp"]), median(cpus["raw-aiohttp"])
                for name in runners:
                    spread = ratio(name)
                    rows.append(
                        [
                            c,
                            name,
                            median(rates[name]),
                            median(cpus[name]),
                            median(spread),
                            f"{spread[0]:.2f}-{spread[-1]:.2f}",
                            median(cpus[name]) - raw_cpu,
                        ]
                    )
                if c == 1:
                    rate, cpu = requests_loop(url, conversations, max(50, n // 2))
                    rows.append(
                        [c, "requests", rate, cpu, rate / raw, "-", cpu - raw_cpu]
                    )
                result[f"c{c}"] = {
                    "raw_per_s": round(raw),
                    "raw_cpu_us": round(raw_cpu, 1),
                    "batch_ratio": round(median(ratio("library-batch")), 3),
                    "send_ratio": round(median(ratio("library-send")), 3),
                    "httpx_ratio": round(median(ratio("httpx")), 3),
                    "batch_extra_cpu_us": round(
                        median(cpus["library-batch"]) - raw_cpu, 1
                    ),
                    "send_extra_cpu_us": round(
                        median(cpus["library-send"]) - raw_cpu, 1
                    ),
                }
    print(
        table(
            ["conc", "client", "req/s", "cpu us/req", "x raw", "range", "+cpu us"], rows
        )
    )
    emit("send", {"rounds": rounds, **result})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply request counts"
    )
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.scale))
