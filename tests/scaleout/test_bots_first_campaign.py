"""One budget per API key, bots first, for real: 4 arq worker processes send a
campaign through `examples/arq_campaign.py` (the Redis budget of the app's API key)
while a bot of the same app posts its answers through the same budget
(`Deliverer.rate_limit = ....for_bots()`), against a FakeKommunicate that enforces
a Kong-style 100 requests a second per API key, with its headers. Run by .ci/run
(`pytest -m scaleout`, REDIS_URL set).

The fake answers each send after 250 ms (`commit_delay`), about what a send to
Kommunicate takes: the bot's latency is then that of a real reply, and what the
campaign adds to it (a place in the campaign's queue would be hundreds of ms) is
what is measured, not the scheduling noise of a loaded 2-core machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

import anyio
import msgspec
import pytest

from kommunicate_async import OutgoingMessage
from kommunicate_async.testing import FakeKommunicate, KongLimit

if TYPE_CHECKING:
    from pathlib import Path


pytestmark = pytest.mark.scaleout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "arq_campaign.py")
LIMIT = 100  # the fake's Kong limit: requests a second per API key
RATE = 90.0  # the budget: under it, as sends cross its clock-second windows late
MESSAGES = 2_000
WORKERS = 4
BOT_REPLIES = 80
SEND = "POST /rest/ws/message/v2/send"


def _max_in_window(times: list[float], width: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - width:
            start += 1
        best = max(best, end - start + 1)
    return best


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


_BOT = """
import asyncio, json, sys, time
from redis.asyncio import Redis
from kommunicate_async import KommunicateSession
from kommunicate_async.bots import BotRequest, Reply
from kommunicate_async.bots._deliver import Deliverer
from kommunicate_async.scaleout.redis import RedisRateLimit
chat, replies, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
async def main():
    redis = Redis.from_url(sys.argv[4])
    latencies = []
    async with KommunicateSession() as km:
        deliverer = Deliverer(km)
        budget = RedisRateLimit(redis, api_key=km.config.api_key, rate=rate)
        deliverer.rate_limit = budget.for_bots()
        for i in range(replies):
            asked = time.monotonic()
            request = BotRequest(key=f"5-q{time.time_ns()}", group_id=chat, bot_id="bot")
            await deliverer.post(request, [Reply(f"answer {i}")])
            latencies.append(time.monotonic() - asked)
            await asyncio.sleep(0.02)
        assert not deliverer.undelivered
    await redis.aclose()
    print(json.dumps(latencies))
asyncio.run(main())
"""


async def _bot(env: dict[str, str], chat: int, replies: int) -> list[float]:
    """A bot of the same app, in its own process, answering a customer every
    ~0.1 s: seconds from each question to its answer posted (stored)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _BOT,
        str(chat),
        str(replies),
        str(RATE),
        env["REDIS_URL"],
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    latencies: list[float] = msgspec.json.decode(out)
    return latencies


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


async def _stop(workers: list[asyncio.subprocess.Process]) -> None:
    for worker in workers:
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            await asyncio.wait_for(worker.wait(), 15)
        except TimeoutError:
            worker.kill()
            await worker.wait()


async def test_a_campaign_yields_to_the_bot_within_one_budget(
    redis_url: str, tmp_path: Path
) -> None:
    from redis.asyncio import Redis

    from kommunicate_async.scaleout.redis import RedisBatchStore

    campaign = f"ci-bots-first-{os.getpid()}-{time.time_ns()}"
    redis = Redis.from_url(redis_url)
    async with FakeKommunicate(log_limit=None, commit_delay=0.25) as fake:
        async with fake.session() as km:
            ids = [(await km.conversations.create([f"u{i}"])).id for i in range(20)]
            bot_chat = (await km.conversations.create(["customer"])).id
            fake.kong = KongLimit(per_second=LIMIT)
            env = {
                **os.environ,
                "PYTHONPATH": ROOT,
                "REDIS_URL": redis_url,
                "KOMMUNICATE_API_KEY": fake.api_key,
                "KOMMUNICATE_BASE_URL": fake.url,
                "KOMMUNICATE_CHAT_URL": fake.url,
            }
            alone = await _bot(env, bot_chat, BOT_REPLIES // 2)
            source = tmp_path / "campaign-input.jsonl"
            source.write_bytes(
                b"".join(
                    msgspec.json.encode(OutgoingMessage(ids[i % 20], f"m {i}")) + b"\n"
                    for i in range(MESSAGES)
                )
            )
            workers = [await _spawn(env, "worker") for _ in range(WORKERS)]
            store = RedisBatchStore(redis, campaign)
            try:
                enqueue = await _spawn(
                    env, "enqueue", str(source), campaign, str(WORKERS), str(RATE)
                )
                assert await enqueue.wait() == 0
                with anyio.fail_after(30):  # the campaign is under way
                    while len(fake.requests_to(SEND)) < 3 * BOT_REPLIES:  # noqa: ASYNC110
                        await asyncio.sleep(0.02)
                campaign_started = time.time()
                busy = await _bot(env, bot_chat, BOT_REPLIES)
                with anyio.fail_after(40):
                    while True:
                        outcomes = Counter((await store.outcomes()).values())
                        if outcomes["delivered"] == MESSAGES:
                            break
                        await asyncio.sleep(0.3)
            finally:
                await _stop(workers)
                await redis.aclose()
        sends = fake.requests_to(SEND)
        bot_sent = [m for m in fake.messages(bot_chat) if m.sender == "bot"]
    assert len(bot_sent) == BOT_REPLIES // 2 + BOT_REPLIES
    campaign_sends = [r for r in sends if r.at >= campaign_started - 5]
    limited = [r for r in campaign_sends if r.fault == "429"]
    first_second = min(r.at for r in campaign_sends) + 1.0
    windows = Counter(int(r.at) for r in campaign_sends if r.fault != "429")
    late = [round(r.at - first_second + 1, 3) for r in limited if r.at > first_second]
    assert late == [], f"429s at {late} s; sends a clock second: {windows}"
    busiest = _max_in_window([r.at for r in campaign_sends if r.fault != "429"], 1.0)
    assert busiest <= 105, f"{busiest} sends in one second"
    assert _p99(busy) <= 1.2 * _p99(alone), (
        f"bot p99 {_p99(busy) * 1000:.0f} ms with the campaign, "
        f"{_p99(alone) * 1000:.0f} ms alone; busiest second {busiest}"
    )
