"""The Redis rate limit, 429 pause and checkpoint, each on a real redis-server."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

import anyio
import pytest

from kommunicate_async import (
    BatchStoppedError,
    CoordinationError,
    ItemStatus,
    OutgoingMessage,
    Retries,
)
from kommunicate_async._batch.checkpoint import CheckpointLine, Uncertain
from kommunicate_async.scaleout import BatchStore, RateLimiter
from kommunicate_async.scaleout.redis import RedisBatchStore, RedisRateLimit
from kommunicate_async.testing import FakeKommunicate, RouteFaults

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from tests.scaleout.conftest import RedisProcess

SEND = "POST /rest/ws/message/v2/send"


def test_they_satisfy_the_protocols(redis: Redis, campaign: str) -> None:
    assert isinstance(RedisRateLimit(redis, campaign, rate=10), RateLimiter)
    assert isinstance(RedisBatchStore(redis, campaign), BatchStore)


@pytest.mark.slow
async def test_the_limit_holds_across_limiters(redis: Redis, campaign: str) -> None:
    # Four "workers" (four limiters on one campaign) take as fast as they can.
    limiters = [RedisRateLimit(redis, campaign, rate=200) for _ in range(4)]
    starts: list[float] = []

    async def worker(limiter: RedisRateLimit) -> None:
        for _ in range(50):
            await limiter.wait()
            starts.append(time.monotonic())

    async with anyio.create_task_group() as tg:
        for limiter in limiters:
            tg.start_soon(worker, limiter)
    starts.sort()
    took = starts[-1] - starts[0]
    assert 199 / 200 * 0.9 <= took  # 200 sends at 200/s: about a second
    window = max(sum(1 for t in starts if s <= t < s + 0.5) for s in starts)
    assert window <= 100 * 1.1 + 1  # no half-second over the rate


@pytest.mark.slow
async def test_a_pause_holds_every_worker(redis: Redis, campaign: str) -> None:
    one, other = (RedisRateLimit(redis, campaign, rate=1000) for _ in range(2))
    await one.pause(0.4)
    started = time.monotonic()
    await other.wait()  # another worker's next send waits the pause out
    assert time.monotonic() - started >= 0.35


async def test_a_slot_woken_late_for_is_given_up(redis: Redis, campaign: str) -> None:
    # A stalled event loop must not send on a stale slot: its overdue sends
    # would land together with the other workers' on-time ones.
    limit = RedisRateLimit(redis, campaign, rate=10, max_late=0.05)
    await limit.wait()  # the first slot is now; the next one is 100 ms away
    woke: list[float] = []

    async def send() -> None:
        await limit.wait()
        woke.append(time.monotonic())

    async with anyio.create_task_group() as tg:
        tg.start_soon(send)
        await anyio.sleep(0.01)  # `send` is asleep until its slot
        time.sleep(0.3)  # noqa: ASYNC251 - the stall under test
        stalled_until = time.monotonic()
    assert limit.late_slots == 1
    # it took a new slot instead: the next free one, 200 ms after the first,
    # is already past, so it went at once
    assert woke and woke[0] - stalled_until < 0.05
    tat = float(await redis.get(f"kommunicate:{campaign}:tat"))
    now_s, now_us = await redis.time()
    assert tat > now_s * 1000 + now_us / 1000  # a third slot is reserved ahead


async def test_a_process_always_late_still_sends(redis: Redis, campaign: str) -> None:
    limit = RedisRateLimit(redis, campaign, rate=1000, max_late=0.0)
    with anyio.fail_after(5):  # max_late 0: every wake is late; it gives up a few,
        await limit.wait()  # then goes
    assert limit.late_slots >= 4


def test_bad_settings(redis: Redis, campaign: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        RedisRateLimit(redis, campaign, rate=0)
    with pytest.raises(ValueError, match="burst"):
        RedisRateLimit(redis, campaign, rate=1, burst=0)
    with pytest.raises(ValueError, match="max_late"):
        RedisRateLimit(redis, campaign, rate=1, max_late=-1)


async def test_the_store_has_the_file_s_semantics(redis: Redis, campaign: str) -> None:
    store = RedisBatchStore(redis, campaign)
    await store.open()
    assert await store.begin("a", 0) == "new"
    await store.finish(CheckpointLine("a", "delivered", 0, 1, "5-a"))
    assert await store.begin("a", 0) == "delivered"
    assert await store.begin("b", 1) == "new"  # and now in flight
    await store.clock(-10_000)
    later = RedisBatchStore(redis, campaign)  # another worker, a retried job
    await later.open()
    mark = await later.begin("b", 1)
    assert isinstance(mark, Uncertain) and mark.offset is None  # b began unknown
    assert await later.begin("c", 2) == "new"
    again = RedisBatchStore(redis, campaign)
    await again.open()
    c_mark = await again.begin("c", 2)
    assert isinstance(c_mark, Uncertain) and c_mark.offset == -10_000
    await again.finish(CheckpointLine("c", "failed", 2, 1))
    assert await again.begin("c", 2) == "new"  # failed: send again
    await again.finish(CheckpointLine("b", "ambiguous", 1, 5))
    assert (await again.outcomes())["b"] == "sending"  # final states wait for a write
    await again.close()  # (or the next begin) writes them
    outcomes = await again.outcomes()
    assert outcomes == {"a": "delivered", "b": "ambiguous", "c": "sending"}


async def test_an_item_keeps_its_first_mark_until_it_is_settled(
    redis: Redis, campaign: str
) -> None:
    # Its ambiguous outcome (after its attempts) and a later worker's begin (a
    # send it did not make) must not move the mark later: a rerun reconciles
    # from the first mark, or it could miss the send and make it again.
    store = RedisBatchStore(redis, campaign)
    await store.open()
    assert await store.begin("k", 0) == "new"
    first = await RedisBatchStore(redis, campaign).begin("k", 0)
    assert isinstance(first, Uncertain)
    await store.finish(CheckpointLine("k", "ambiguous", 0, first.at + 60_000))
    await store.close()
    assert (await store.outcomes())["k"] == "ambiguous"
    for _ in range(2):  # reruns that leave it unsettled
        again = await RedisBatchStore(redis, campaign).begin("k", 0)
        assert again == first
    await store.finish(CheckpointLine("k", "failed", 0, 1))  # settled: not sent
    await store.close()
    assert await RedisBatchStore(redis, campaign).begin("k", 0) == "new"


@pytest.mark.slow
async def test_a_batch_on_the_shared_parts(redis: Redis, campaign: str) -> None:
    async with FakeKommunicate() as fake, fake.session() as km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, f"m{i}") for i in range(60)]
        shards = [
            km.messages.send_many(
                items,
                shard=(k, 3),
                rate_limit=RedisRateLimit(redis, campaign, rate=500),
                checkpoint=RedisBatchStore(redis, campaign),
            )
            for k in range(3)
        ]
        reports = [await shard for shard in shards]
        again = await km.messages.send_many(
            items, checkpoint=RedisBatchStore(redis, campaign)
        )
    assert sum(r.delivered for r in reports) == 60
    assert (again.total, again.skipped) == (0, 60)
    stored = Counter(m.metadata["kmDedupeKey"] for m in fake.messages(cid))
    assert len(stored) == 60 and set(stored.values()) == {1}


@pytest.mark.slow
async def test_a_429_pauses_the_campaign(redis: Redis, campaign: str) -> None:
    async with (
        FakeKommunicate() as fake,
        fake.session(retries=Retries(backoff_base=0.0)) as km,
    ):
        cid = (await km.conversations.create(["u"])).id
        fake.faults.seed = 3
        fake.faults.routes[SEND] = RouteFaults(rate_limit=0.05, retry_after=0.5)
        limiter = RedisRateLimit(redis, campaign, rate=2000)
        report = await km.messages.send_many(
            [OutgoingMessage(cid, f"m{i}") for i in range(100)],
            rate_limit=limiter,
            concurrency=8,
        )
        assert report.delivered == 100
        assert await redis.exists(f"kommunicate:{campaign}:pause") in (0, 1)
        limited = [r.at for r in fake.requests_to(SEND) if r.fault == "429"]
        assert limited
        sends = [r.at for r in fake.requests_to(SEND)]
    first = limited[0]
    # Nothing but what was already on the wire arrives during the pause.
    during = [t for t in sends if first + 0.15 < t < first + 0.45]
    assert during == []


async def test_redis_going_away_stops_the_batch_and_loses_nothing(
    redis: Redis, redis_server: RedisProcess, campaign: str
) -> None:
    results = []
    async with FakeKommunicate() as fake, fake.session() as km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, f"m{i}") for i in range(2000)]
        with pytest.raises(BatchStoppedError) as caught:
            async for result in km.messages.iter_send(
                items,
                concurrency=8,
                rate_limit=RedisRateLimit(redis, campaign, rate=1000),
                checkpoint=RedisBatchStore(redis, campaign),
            ):
                results.append(result)
                if len(results) == 100:
                    redis_server.stop()  # Redis goes away mid-campaign
        sent = {m.metadata["kmDedupeKey"] for m in fake.messages(cid)}
    assert isinstance(caught.value.reason, CoordinationError)
    delivered = {r.item.dedupe_key for r in results if r.status is ItemStatus.DELIVERED}
    assert sent == delivered  # every send that happened has its result
    assert len(results) < 2000
