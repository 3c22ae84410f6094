"""10,000 messages through faults: one result per item, duplicates, attempts.

Faults on every send (FakeKommunicate's seeded plan): 10% 5xx (500/503), 5% 429 with
Retry-After, 2% connection resets (half before, half after the server processed the
message), 1% slow replies. Run twice, without and with reconcile, and checked against
what the fake actually stored:

  lost        items reported failed that are in the conversation (must be 0)
  phantom     items reported delivered that are not (must be 0)
  duplicates  dedupe keys stored more than once (must be 0 with reconcile)

Two more scenarios (issue #10), with reconcile: `skew` runs the same faults with the
server's clock 10 s behind ours; `late` has no faults but every send commits 1.5 s
after it arrives, past the client's 1 s attempt timeout (the settle period, 3 s by
default, lets each land before reconcile reads). `outage` (issue #18): every send
answers 503, with reconcile and the default settle: the retry budget runs out and
the items must end `ambiguous` at once (before #18 each waited out `settle` first:
1,000 items took 60 s).

    python -m benchmarks.bench_faults [--count 10000] [--seed 1]
        [--scenarios faults,skew,late,outage] [--late-count 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

from benchmarks._common import emit, table
from kommunicate_async import Timeouts
from kommunicate_async.models.batch import ItemResult, ItemStatus, OutgoingMessage
from kommunicate_async.testing import FakeKommunicate, FaultPlan, RouteFaults

SEND = "POST /rest/ws/message/v2/send"


def plan(seed: int, retry_after: float) -> FaultPlan:
    return FaultPlan(
        seed=seed,
        routes={
            SEND: RouteFaults(
                error_500=0.05,
                error_503=0.05,
                rate_limit=0.05,
                reset_before=0.01,
                reset_after=0.01,
                delay=0.01,
                retry_after=retry_after,
                delay_seconds=1.0,
            )
        },
    )


async def run(
    count: int, seed: int, reconcile: bool, retry_after: float, scenario: str = "faults"
) -> dict[str, object]:
    late = scenario == "late"
    timeout = Timeouts(connect=5, attempt=1.0 if late else 30.0, total=90.0)
    async with (
        FakeKommunicate(faults=FaultPlan(), log_limit=0) as fake,
        fake.session(timeout=timeout) as km,
    ):
        ids = [(await km.conversations.create([f"u{i}"])).id for i in range(50)]
        # setup above runs fault-free
        if late:
            fake.commit_delay = 1.5
        elif scenario == "outage":
            fake.faults = FaultPlan(routes={SEND: RouteFaults(error_503=1.0)})
        else:
            fake.faults = plan(seed, retry_after)
        if scenario == "skew":
            fake.state.clock_skew_ms = -10_000
        items = (OutgoingMessage(ids[i % 50], f"m{i}") for i in range(count))
        started = time.perf_counter()
        batch = km.messages.iter_send(items, concurrency=64, reconcile=reconcile)
        results: list[ItemResult] = [result async for result in batch]
        duration = time.perf_counter() - started
        stored = Counter(
            m.metadata.get("kmDedupeKey") for c in ids for m in fake.messages(c)
        )
        by_status = Counter(r.status for r in results)
        keys = {
            status: {r.item.dedupe_key for r in results if r.status is status}
            for status in ItemStatus
        }
        return {
            "scenario": scenario,
            "reconcile": reconcile,
            "results": len(results),
            "without_result": count - len({r.index for r in results}),
            "delivered": by_status[ItemStatus.DELIVERED],
            "failed": by_status[ItemStatus.FAILED],
            "ambiguous": by_status[ItemStatus.AMBIGUOUS],
            "ambiguous_stored": sum(1 for k in keys[ItemStatus.AMBIGUOUS] if stored[k]),
            "lost": sum(1 for k in keys[ItemStatus.FAILED] if stored[k]),
            "phantom": sum(1 for k in keys[ItemStatus.DELIVERED] if not stored[k]),
            "duplicates": sum(1 for n in stored.values() if n > 1),
            "mean_attempts": round(sum(r.attempts for r in results) / len(results), 3),
            "faults": {str(k): v for k, v in sorted(fake.faults.injected.items())},
            "seconds": round(duration, 1),
        }


async def main(
    count: int, seed: int, retry_after: float, scenarios: list[str], late_count: int
) -> None:
    runs: list[dict[str, object]] = []
    if "faults" in scenarios:
        runs += [await run(count, seed, r, retry_after) for r in (False, True)]
    if "skew" in scenarios:
        runs.append(await run(count, seed, True, retry_after, "skew"))
    if "late" in scenarios:
        runs.append(await run(late_count, seed, True, retry_after, "late"))
    if "outage" in scenarios:
        runs.append(await run(late_count, seed, True, retry_after, "outage"))
    fields = [
        "results",
        "without_result",
        "delivered",
        "failed",
        "ambiguous",
        "ambiguous_stored",
        "lost",
        "phantom",
        "duplicates",
        "mean_attempts",
        "seconds",
    ]
    print(
        table(
            ["scenario", "reconcile", *fields],
            [[r["scenario"], r["reconcile"], *(r[f] for f in fields)] for r in runs],
        )
    )
    for r in runs:
        print(
            f"injected faults ({r['scenario']}, reconcile={r['reconcile']}):",
            r["faults"],
        )
    emit("faults", {"count": count, "seed": seed, "runs": runs})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--retry-after",
        type=float,
        default=0.1,
        help="seconds in the 429s' Retry-After",
    )
    parser.add_argument("--scenarios", default="faults,skew,late,outage")
    parser.add_argument(
        "--late-count", type=int, default=1000, help="items of `late` and `outage`"
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.count,
            args.seed,
            args.retry_after,
            args.scenarios.split(","),
            args.late_count,
        )
    )
