"""The campaign of `examples/arq_campaign.py`, for real: 4 arq worker processes,
20,000 messages in 20 shard jobs, one worker SIGKILLed mid-way and its job retried by
arq, against a FakeKommunicate outside the workers (this process). Run by .ci/run
(`pytest -m scaleout`), which installs and starts redis-server."""

from __future__ import annotations

import asyncio
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
from kommunicate_async.testing import FakeKommunicate, RouteFaults

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.scaleout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "arq_campaign.py")
MESSAGES = 20_000
SHARDS = 20
WORKERS = 4
RATE = 800.0  # sends a second, for the whole campaign
SEND = "POST /rest/ws/message/v2/send"


def _max_in_window(times: list[float], width: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - width:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _spawn(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        EXAMPLE,
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_four_workers_one_limit_nothing_lost(
    redis_url: str, tmp_path: Path
) -> None:
    from redis.asyncio import Redis

    from kommunicate_async.scaleout.redis import RedisBatchStore

    campaign = f"ci-campaign-{os.getpid()}-{time.time_ns()}"
    async with FakeKommunicate(log_limit=None) as fake:
        async with fake.session() as km:
            ids = [(await km.conversations.create([f"u{i}"])).id for i in range(20)]
        source = tmp_path / "campaign.jsonl"
        encode = msgspec.json.encode
        source.write_bytes(
            b"".join(
                encode(OutgoingMessage(ids[i % 20], f"message {i}")) + b"\n"
                for i in range(MESSAGES)
            )
        )
        fake.faults.seed = 5  # a few 429s: each must pause all four workers
        fake.faults.routes[SEND] = RouteFaults(rate_limit=0.0003, retry_after=0.5)
        env = {
            **os.environ,
            "PYTHONPATH": ROOT,
            "REDIS_URL": redis_url,
            "KOMMUNICATE_API_KEY": fake.api_key,
            "KOMMUNICATE_BASE_URL": fake.url,
            "KOMMUNICATE_CHAT_URL": fake.url,
        }
        workers = [await _spawn(env, "worker") for _ in range(WORKERS)]
        redis = Redis.from_url(redis_url)
        store = RedisBatchStore(redis, campaign)
        started = time.monotonic()
        try:
            enqueue = await _spawn(
                env, "enqueue", str(source), campaign, str(SHARDS), str(RATE)
            )
            assert await enqueue.wait() == 0
            with anyio.fail_after(30):
                while len(fake.messages(ids[0])) * 20 < MESSAGES // 5:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            os.kill(workers[0].pid, signal.SIGKILL)  # mid-job, sends in flight
            with anyio.fail_after(100):
                while True:
                    outcomes = Counter((await store.outcomes()).values())
                    if outcomes["delivered"] == MESSAGES:
                        break
                    await asyncio.sleep(0.5)
        finally:
            for worker in workers:
                if worker.returncode is None:
                    worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    await asyncio.wait_for(worker.wait(), 15)
                except TimeoutError:
                    worker.kill()
                    await worker.wait()
            await redis.aclose()
        took = time.monotonic() - started
        stored = Counter(
            m.metadata["kmDedupeKey"] for c in ids for m in fake.messages(c)
        )
        sends = fake.requests_to(SEND)
    assert outcomes == {"delivered": MESSAGES}  # exactly one outcome per item
    assert len(stored) == MESSAGES  # 0 lost
    assert set(stored.values()) == {1}  # 0 duplicates
    busiest = _max_in_window([r.at for r in sends], 1.0)
    assert busiest <= RATE * 1.1, f"{busiest} sends in one second, limit {RATE:g}"
    limited = [r.at for r in sends if r.fault == "429"]
    assert limited, "the fault plan dealt no 429"
    for at in limited:  # nothing left any worker during a 429's pause
        assert not [r for r in sends if at + 0.15 < r.at < at + 0.45]
    assert took < 110
