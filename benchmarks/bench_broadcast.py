"""A same-text campaign: requests per item with broadcast, and the client's CPU per
item against the single-send path (`broadcast=False`), in the same run.

The fake runs on its own event loop in a thread of this process, so it can count
the requests it served; the client's CPU is `time.thread_time()` of the thread
that runs the batch (the fake's thread is not in it). Target (issue 20): at most
0.021 requests per item (50 conversations a request, plus the first item of the
message, which goes alone). Numbers are noisy on a shared machine; the ratio is
the figure to read.

    python -m benchmarks.bench_broadcast [--count 100000] [--single-count 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import TYPE_CHECKING, Any

from benchmarks._common import emit, table
from kommunicate_async import OutgoingMessage
from tests.threaded_fake import ThreadedFake

if TYPE_CHECKING:
    from collections.abc import Iterator

    from kommunicate_async.testing import FakeKommunicate

SENDALL = "POST /rest/ws/message/sendall"
SEND = "POST /rest/ws/message/v2/send"
LIST = "GET /rest/ws/message/list"


async def _campaign(
    fake: FakeKommunicate, count: int, *, broadcast: bool
) -> dict[str, Any]:
    def items() -> Iterator[OutgoingMessage]:
        for i in range(count):
            yield OutgoingMessage(f"c{i}", "Black Friday: 20% off everything today")

    fake.requests.clear()
    async with fake.session() as km:
        cpu = time.thread_time()
        wall = time.perf_counter()
        report = await km.messages.send_many(
            items(), concurrency=64, broadcast=broadcast, reconcile=True
        )
        cpu = time.thread_time() - cpu
        wall = time.perf_counter() - wall
    routes = [r.route for r in list(fake.requests)]
    requests = sum(1 for r in routes if r in (SENDALL, SEND, LIST))
    return {
        "path": "broadcast" if broadcast else "single",
        "items": count,
        "delivered": report.delivered,
        "requests": requests,
        "requests_per_item": round(requests / count, 5),
        "cpu_us_per_item": round(cpu / count * 1e6, 1),
        "items_per_s": round(count / wall),
    }


async def main(count: int, single_count: int) -> None:
    with ThreadedFake(keep_messages=3, log_limit=None) as fake:
        for i in range(max(count, single_count)):  # before any request: no race
            fake.state.create_group(
                name=f"g{i}",
                members=[f"u{i}"],
                client_group_id=f"c{i}",
                metadata={},
                admin_id="bot",
            )
        single = await _campaign(fake, single_count, broadcast=False)
        broadcast = await _campaign(fake, count, broadcast=True)
    rows = [
        [
            r["path"],
            f"{r['items']:,}",
            r["requests"],
            r["requests_per_item"],
            r["cpu_us_per_item"],
            r["items_per_s"],
        ]
        for r in (single, broadcast)
    ]
    print(
        table(
            ["path", "items", "requests", "requests/item", "CPU us/item", "items/s"],
            rows,
        )
    )
    ratio = broadcast["cpu_us_per_item"] / single["cpu_us_per_item"]
    print(
        f"\nbroadcast: {broadcast['requests_per_item']} requests an item "
        f"(target <= 0.021); client CPU an item {ratio:.2f}x the single-send path"
    )
    emit(
        "broadcast",
        {
            "single": single,
            "broadcast": broadcast,
            "cpu_ratio_broadcast_vs_single": round(ratio, 3),
            "requests_per_item_target": 0.021,
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--single-count", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.single_count))
