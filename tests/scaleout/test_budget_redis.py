"""One budget per API key on Redis, bots first, and what coordination costs in
round trips: `begin`s grouped in one script call, rate-limit slots in blocks."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import anyio
import pytest

from kommunicate_async import CoordinationError
from kommunicate_async._batch.checkpoint import CheckpointLine, Uncertain
from kommunicate_async.scaleout.redis import (
    RedisBatchStore,
    RedisRateLimit,
    budget_name,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from tests.scaleout.conftest import RedisProcess

API_KEY = "sk-live-0123456789abcdef"


async def _calls(redis: Redis, command: str) -> int:
    stats = await redis.info("commandstats")
    entry = stats.get(f"cmdstat_{command}")
    return 0 if entry is None else int(entry["calls"])


async def test_the_budget_is_named_by_a_digest_of_the_api_key(redis: Redis) -> None:
    one = RedisRateLimit(redis, api_key=API_KEY, rate=1000)
    other = RedisRateLimit(redis, api_key=API_KEY, rate=1000)  # another worker
    assert one.name == other.name == budget_name(API_KEY)
    assert one.name != budget_name(API_KEY + "x")
    assert one.name.startswith("key-") and API_KEY not in one.name
    await one.wait()
    await one.for_bots().wait()
    await one.pause(0.01)
    keys = {k.decode() for k in await redis.keys("*")}
    assert keys and all(API_KEY not in k and one.name in k for k in keys)
    assert API_KEY not in repr(one) and "campaign" in repr(one)
    named = RedisRateLimit(redis, "spring-sale", rate=5)  # an explicit budget
    assert named.name == "spring-sale"
    with pytest.raises(ValueError, match="api_key"):
        RedisRateLimit(redis, rate=5)
    with pytest.raises(ValueError, match="api_key"):
        RedisRateLimit(redis, "x", api_key=API_KEY, rate=5)
    for bad, match in (
        ({"block": 0}, "block"),
        ({"lead": -1}, "lead"),
        ({"priority": "vip"}, "priority"),
    ):
        with pytest.raises(ValueError, match=match):
            RedisRateLimit(redis, "x", rate=5, **bad)


async def test_campaign_slots_come_in_blocks(redis: Redis, campaign: str) -> None:
    limit = RedisRateLimit(redis, campaign, rate=100_000, block=16)
    await limit.wait()  # (loads the script; 15 slots of the block left)
    before = await _calls(redis, "evalsha")
    for _ in range(15 + 64):
        await limit.wait()
    assert await _calls(redis, "evalsha") - before == 4  # 64 sends, 4 round trips


async def test_begins_travel_together_in_one_script_call(
    redis: Redis, campaign: str
) -> None:
    store = RedisBatchStore(redis, campaign)
    await store.open()
    await store.begin("warm", 0)  # (loads the script)
    before = {c: await _calls(redis, c) for c in ("evalsha", "script|exists")}
    for i in range(20):
        await store.finish(CheckpointLine(f"old{i}", "delivered", i, 1, f"5-{i}"))
    begun = await asyncio.gather(*(store.begin(f"k{i}", i) for i in range(40)))
    assert begun == ["new"] * 40
    after = {c: await _calls(redis, c) for c in before}
    # One script call for the 40 begins that queued together, the 20 final
    # states riding along; never SCRIPT EXISTS (no pipeline-with-script).
    assert after["evalsha"] - before["evalsha"] == 1
    assert after["script|exists"] == before["script|exists"]
    outcomes = await store.outcomes()
    assert {k for k, v in outcomes.items() if v == "delivered"} == {
        f"old{i}" for i in range(20)
    }
    assert sum(v == "sending" for v in outcomes.values()) == 41


async def test_a_group_sees_its_own_earlier_marks(redis: Redis, campaign: str) -> None:
    store = RedisBatchStore(redis, campaign)
    await store.open()
    await store.finish(CheckpointLine("done", "delivered", 0, 1, "5-d"))
    first, again, done = await asyncio.gather(
        store.begin("same", 1), store.begin("same", 1), store.begin("done", 0)
    )
    assert first == "new" and isinstance(again, Uncertain)  # in flight already
    assert done == "delivered"


async def test_a_script_flushed_from_redis_is_loaded_again(
    redis: Redis, campaign: str
) -> None:
    store = RedisBatchStore(redis, campaign)
    limit = RedisRateLimit(redis, campaign, rate=1000, block=1)
    assert await store.begin("a", 0) == "new"
    await limit.wait()
    await redis.script_flush()  # a restarted or failed-over Redis: NOSCRIPT
    assert await store.begin("b", 1) == "new"
    await limit.wait()
    await limit.for_bots().wait()


async def test_redis_failing_reaches_every_waiting_begin_and_sender(
    redis: Redis, redis_server: RedisProcess, campaign: str
) -> None:
    store = RedisBatchStore(redis, campaign)
    limit = RedisRateLimit(redis, campaign, rate=1000)
    bots = limit.for_bots()
    redis_server.stop()
    results = await asyncio.gather(
        *(store.begin(f"k{i}", i) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, CoordinationError) for r in results)
    assert len({id(r) for r in results}) == 3  # one exception object each
    waits = await asyncio.gather(limit.wait(), limit.wait(), return_exceptions=True)
    assert all(isinstance(w, CoordinationError) for w in waits)
    with pytest.raises(CoordinationError, match="rate limit"):
        await bots.wait()
    with pytest.raises(CoordinationError, match="rate limit"):
        await limit.pause(1)


@pytest.mark.slow
async def test_bots_go_first_and_the_campaign_yields(
    redis: Redis, campaign: str
) -> None:
    # Four campaign "workers" keep the budget (50/s) full; a bot of the same app
    # answers now and then: it never waits behind their queue, and the total
    # stays within the budget (plus what the campaigns had reserved ahead).
    rate = 50.0
    limiters = [RedisRateLimit(redis, campaign, rate=rate) for _ in range(4)]
    bot = limiters[0].for_bots()
    starts: list[float] = []
    bot_waits: list[float] = []

    async def campaign_worker(limiter: RedisRateLimit) -> None:
        while True:
            await limiter.wait()
            starts.append(time.monotonic())

    async def bot_worker() -> None:
        await anyio.sleep(0.5)
        for _ in range(10):
            asked = time.monotonic()
            await bot.wait()
            bot_waits.append(time.monotonic() - asked)
            starts.append(time.monotonic())
            await anyio.sleep(0.2)

    async with anyio.create_task_group() as tg:
        for limiter in limiters:
            for _ in range(8):  # each worker sends 8 at a time
                tg.start_soon(campaign_worker, limiter)
        await bot_worker()
        tg.cancel_scope.cancel()
    assert max(bot_waits) < 0.05  # the campaign's queue is ~0.6 s long
    starts.sort()
    first = starts[0]
    windows = [
        sum(1 for t in starts if s <= t < s + 1.0) for s in starts if s < starts[-1] - 1
    ]
    assert max(windows) <= rate + rate * 0.1 + 1  # the lead the campaign had
    assert first < starts[-1] - 2


async def test_a_campaign_far_behind_comes_back_instead_of_reserving(
    redis: Redis, campaign: str
) -> None:
    limit = RedisRateLimit(redis, campaign, rate=1000, lead=0.05)
    seconds, micros = await redis.time()
    now_ms = seconds * 1000 + micros / 1000
    await redis.set(f"kommunicate:{campaign}:tat", f"{now_ms + 200:.3f}")
    started = time.monotonic()
    await limit.wait()  # told to come back ~150 ms later, then reserves
    assert time.monotonic() - started >= 0.18


async def test_a_pause_lengthened_during_a_wait_is_waited_out(
    redis: Redis, campaign: str
) -> None:
    one = RedisRateLimit(redis, campaign, rate=1000, block=1)
    other = RedisRateLimit(redis, campaign, rate=1000, block=1).for_bots()
    await one.pause(0.1)
    started = time.monotonic()
    waiting = asyncio.ensure_future(other.wait())
    await asyncio.sleep(0.05)
    await one.pause(0.3)  # another 429 meanwhile
    await waiting
    assert time.monotonic() - started >= 0.33


async def test_a_slot_woken_too_late_is_not_used(redis: Redis, campaign: str) -> None:
    # max_late=0: however loaded the machine, the waiter's slot is behind it when
    # it wakes (or already when it takes it), so it must take a fresh one; with a
    # tolerance, a waiter that only ran after its slot 1 ms away could use it.
    limit = RedisRateLimit(redis, campaign, rate=1000, block=4, max_late=0)
    await limit.wait()  # a block of 4 slots 1 ms apart
    before = await _calls(redis, "evalsha")
    waiting = asyncio.ensure_future(limit.wait())
    await asyncio.sleep(0)  # it takes the next slot and sleeps until it
    time.sleep(0.1)  # noqa: ASYNC251 - a stalled process
    await waiting
    assert limit.late_slots >= 1
    assert await _calls(redis, "evalsha") - before >= 1  # a fresh block instead


async def test_the_store_s_other_paths(
    redis: Redis, redis_server: RedisProcess, campaign: str
) -> None:
    store = RedisBatchStore(redis, campaign, ttl=None)
    await store.open()
    for i in range(64):  # 64 final states waiting: written at once
        await store.finish(CheckpointLine(f"f{i}", "failed", i, 1))
    assert (await store.outcomes()).get("f0") == "failed"
    assert await redis.ttl(f"kommunicate:{campaign}:items") == -1  # kept
    waiting = asyncio.ensure_future(store.begin("slow", 1))
    await asyncio.sleep(0)
    cancelled = asyncio.ensure_future(store.begin("gone", 2))
    await asyncio.sleep(0)
    cancelled.cancel()
    await store.finish(CheckpointLine("x", "delivered", 3, 1, "5-x"))
    await store.flush()  # waits for the begins on their way, then writes
    assert await waiting == "new"
    assert (await store.outcomes())["gone"] == "sending"  # marked: reconciled later
    await store.clock(-5)
    await store.clock(-1)  # a larger offset than known: kept as it was
    redis_server.stop()
    for call in (store.open(), store.clock(-10), store.outcomes()):
        with pytest.raises(CoordinationError, match="checkpoint"):
            await call
    await store.finish(CheckpointLine("y", "delivered", 4, 1, "5-y"))
    with pytest.raises(CoordinationError, match="checkpoint"):
        await store.close()


async def test_a_sender_cancelled_while_its_block_is_fetched(
    redis: Redis, campaign: str
) -> None:
    limit = RedisRateLimit(redis, campaign, rate=1000)
    gone = asyncio.ensure_future(limit.wait())
    await asyncio.sleep(0)  # it waits for the block on its way
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    await limit.wait()  # the block arrived all the same: the next sender uses it
