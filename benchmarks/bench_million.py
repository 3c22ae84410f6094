"""A 1,000,000-message iter_send from a generator: peak RSS and throughput.

The fake runs in its own process (keeping only the last messages per conversation),
so the RSS measured is the client's alone. RSS is sampled every 5% to show that it
stays flat after warm-up: nothing grows with the number of items.

    python -m benchmarks.bench_million [--count 1000000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import TYPE_CHECKING

from benchmarks._common import API_KEY, emit, fake_server, peak_rss_mb, rss_mb, table
from kommunicate_async import KommunicateSession
from kommunicate_async.models.batch import ItemStatus, OutgoingMessage

if TYPE_CHECKING:
    from collections.abc import Iterator


async def main(count: int, concurrency: int) -> None:
    with fake_server(keep_messages=5) as url:
        async with KommunicateSession(API_KEY, base_url=url, chat_url=url) as km:
            conversations = [
                (await km.conversations.create([f"u{i}"])).id for i in range(100)
            ]

            def items() -> Iterator[OutgoingMessage]:
                for i in range(count):
                    yield OutgoingMessage(
                        conversations[i % 100],
                        f"message {i}",
                        metadata={"campaign": "bench"},
                    )

            start_rss = rss_mb()
            samples: list[list[object]] = []
            step = max(1, count // 20)
            counts = dict.fromkeys(ItemStatus, 0)
            started = time.perf_counter()
            async for result in km.messages.iter_send(items(), concurrency=concurrency):
                counts[result.status] += 1
                done = sum(counts.values())
                if done % step == 0:
                    elapsed = time.perf_counter() - started
                    samples.append(
                        [f"{done:,}", round(rss_mb(), 1), round(done / elapsed)]
                    )
            duration = time.perf_counter() - started
    print(table(["done", "rss MB", "msg/s so far"], samples))
    warm = [float(str(s[1])) for s in samples[2:]]  # after the first 10%
    growth = (max(warm) - min(warm)) if warm else 0.0
    print(
        f"\n{count:,} messages in {duration:.0f}s ({count / duration:,.0f}/s); "
        f"RSS start {start_rss:.1f} MB, peak {peak_rss_mb():.1f} MB, "
        f"spread after warm-up {growth:.1f} MB; results {dict(counts)}"
    )
    emit(
        "million",
        {
            "count": count,
            "per_s": round(count / duration),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "rss_spread_after_warmup_mb": round(growth, 1),
            "delivered": counts[ItemStatus.DELIVERED],
            "without_result": count - sum(counts.values()),
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.concurrency))
