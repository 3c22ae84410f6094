"""The campaign of issue #24, for real: a Temporal dev server, Redis, a
FakeKommunicate in this process, and 3 worker processes
(`kommunicate-async campaign worker`) sending 100,000 messages in 100 chunks
while a worker is SIGKILLed (and replaced) every 5 s for the first 30 s, with
one 2 s pause. Run by .ci/run (`pytest -m temporal`)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

import anyio
import msgspec
import pytest

from kommunicate_async import OutgoingMessage
from kommunicate_async.testing import FakeKommunicate

if TYPE_CHECKING:
    from pathlib import Path

    from redis.asyncio import Redis
    from temporalio.client import Client

    from kommunicate_async.scaleout.temporal import CampaignProgress

pytestmark = pytest.mark.temporal

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MESSAGES = int(os.environ.get("KM_E2E_MESSAGES", "100000"))
CHUNKS = 100
WORKERS = 3
RATE = float(os.environ.get("KM_E2E_RATE", "1000"))  # sends a second, whole campaign
CONVERSATIONS = 100
SEND = "POST /rest/ws/message/v2/send"


def max_in_window(times: list[float], width: float) -> tuple[int, float]:
    """The most events in any `width`-second window, and when that window ends."""
    times = sorted(times)
    best, start, at = 0, 0, 0.0
    for end, t in enumerate(times):
        while times[start] <= t - width:
            start += 1
        if end - start + 1 > best:
            best, at = end - start + 1, t
    return best, at


class Workers:
    """The worker processes, each replaceable after a SIGKILL."""

    def __init__(self, env: dict[str, str], args: list[str]) -> None:
        self.env = env
        self.args = args
        self.procs: list[asyncio.subprocess.Process] = []

    async def spawn(self) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kommunicate_async",
            "campaign",
            "worker",
            *self.args,
            env=self.env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    async def kill_and_replace(self, index: int) -> None:
        live = [p for p in self.procs if p.returncode is None]
        victim = live[index % len(live)]
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        await self.spawn()

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def test_100k_items_3_workers_kills_and_a_pause(
    temporal_client: Client,
    temporal_address: str,
    redis: Redis,
    redis_url: str,
    campaign: str,
    task_queue: str,
    tmp_path: Path,
) -> None:
    from kommunicate_async.scaleout.redis import RedisBatchStore
    from kommunicate_async.scaleout.temporal import start_campaign

    async with FakeKommunicate(log_limit=None) as fake:
        async with fake.session() as km:
            ids = [
                (await km.conversations.create([f"u{i}"])).id
                for i in range(CONVERSATIONS)
            ]
        source = tmp_path / "campaign.jsonl"
        encode = msgspec.json.encode
        source.write_bytes(
            b"".join(
                encode(OutgoingMessage(ids[i % CONVERSATIONS], f"message {i}")) + b"\n"
                for i in range(MESSAGES)
            )
        )
        env = {
            **os.environ,
            "PYTHONPATH": ROOT,
            "KOMMUNICATE_API_KEY": fake.api_key,
            "KOMMUNICATE_BASE_URL": fake.url,
            "KOMMUNICATE_CHAT_URL": fake.url,
        }
        workers = Workers(
            env,
            [
                "--address",
                temporal_address,
                "--task-queue",
                task_queue,
                "--redis-url",
                redis_url,
                "--max-chunks",
                "3",
            ],
        )
        for _ in range(WORKERS):
            await workers.spawn()
        # The fake stamps each send when its loop gets to it. It keeps all 100,000
        # messages and requests, and a full collection of that heap stalls its
        # loop for 100+ ms, after which the queued sends are stamped together:
        # more than `rate` in a second that the workers never sent. The limit is
        # the workers' to keep, so the fake's process does not collect meanwhile.
        gc.freeze()
        gc.disable()
        seen: list[CampaignProgress] = []
        started = time.monotonic()
        try:
            handle = await start_campaign(
                temporal_client,
                campaign,
                str(source),
                rate=RATE,
                chunk_size=MESSAGES // CHUNKS,
                parallel=9,
                concurrency=16,
                heartbeat_timeout=5,
                task_queue=task_queue,
            )
            again = await start_campaign(  # a second start attaches
                temporal_client,
                campaign,
                str(source),
                rate=RATE,
                chunk_size=MESSAGES // CHUNKS,
                task_queue=task_queue,
            )
            assert again.handle.result_run_id == handle.handle.result_run_id

            async def watch() -> None:
                while True:
                    seen.append(await handle.progress())
                    if seen[-1].state == "done":
                        return
                    await anyio.sleep(0.25)

            async def chaos() -> tuple[float, float]:
                for kill in range(6):  # every 5 s for the first 30 s
                    await anyio.sleep(5)
                    await workers.kill_and_replace(kill)
                await anyio.sleep(3)
                await handle.pause()
                paused_at = time.time()
                await anyio.sleep(2)
                resumed_at = time.time()
                await handle.resume()
                return paused_at, resumed_at

            window: list[tuple[float, float]] = []

            async def chaos_then_record() -> None:
                window.append(await chaos())

            with anyio.fail_after(600):  # a loaded 2-core machine: about 110 s alone
                async with anyio.create_task_group() as tg:
                    tg.start_soon(watch)
                    tg.start_soon(chaos_then_record)
                report = await handle.result()
        finally:
            gc.enable()
            gc.unfreeze()
            await workers.stop()
        took = time.monotonic() - started
        stores = [RedisBatchStore(redis, f"{campaign}:{k}") for k in range(CHUNKS)]
        outcomes = Counter[str]()
        for store in stores:
            got = await store.outcomes()
            outcomes.update(got.values())
            odd = sorted(k for k, v in got.items() if v != "delivered")
            if odd and os.environ.get("KM_E2E_DEBUG"):
                print("ODD", store._items, len(got), odd[:3])
        stored = Counter(
            m.metadata["kmDedupeKey"] for c in ids for m in fake.messages(c)
        )
        sends = fake.requests_to(SEND)
    print(  # the measure, for the CI log (pytest -s) and the README
        f"\n{MESSAGES} items in {took:.1f}s, {len(sends)} sends, "
        f"{report.skipped} found delivered by a retried chunk"
    )
    assert report.delivered == MESSAGES, report
    assert (report.failed, report.ambiguous, report.not_sent) == (0, 0, 0)
    assert report.total == MESSAGES and report.ok
    assert outcomes == {"delivered": MESSAGES}  # exactly one outcome per item
    assert len(stored) == MESSAGES  # 0 lost
    assert set(stored.values()) == {1}  # 0 duplicates
    for before, after in zip(seen, seen[1:], strict=False):  # never backwards
        assert after.done >= before.done and after.delivered >= before.delivered
        assert after.remaining <= before.remaining
    assert seen[-1].remaining == 0 and seen[-1].delivered == MESSAGES
    ((paused_at, resumed_at),) = window
    during = [r.at for r in sends if paused_at < r.at < resumed_at]
    assert not during, f"{len(during)} sends during the pause"
    first = min(r.at for r in sends)
    busiest, ending = max_in_window([r.at for r in sends], 1.0)
    print(f"busiest second: {busiest} sends (limit {RATE:g})")  # the CI log's margin
    assert busiest <= RATE * 1.1, (
        f"{busiest} sends in the second ending {ending - first:.1f}s after the "
        f"first send (paused {paused_at - first:.1f}s-{resumed_at - first:.1f}s), "
        f"limit {RATE:g}"
    )
