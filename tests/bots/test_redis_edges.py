"""`RedisReplyStore` with `BotApp` at the edges: a run fenced off while it waits for
its turn or before it posts, Redis going away mid-run, the lease renewal, and the
same replica receiving a redelivery."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import TYPE_CHECKING, Any

import msgspec

from kommunicate_async.bots import BotApp, BotContext, BotRequest
from kommunicate_async.bots.redis import Begun, RedisReplyStore
from tests.bots.test_redis_store import HEADERS, SECRET, Replica, body, recorded

if TYPE_CHECKING:
    import pytest
    from redis.asyncio import Redis

    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate
    from tests.scaleout.conftest import RedisProcess

CLAIM = "kommunicate:bot:test-bot:c:"


async def test_a_redelivery_to_the_same_replica_joins_its_run(redis: Redis) -> None:
    log: list[str] = []
    a = Replica(redis, log, delay=0.1)
    both = list(await asyncio.gather(a.ask("1-1", "m1"), a.ask("1-1", "m1")))
    assert both == [(200, b'[{"message":"answer to m1"}]')] * 2
    assert log == ["start m1", "end m1"]
    await a.app.aclose()  # stops its watch for orphaned runs
    await a.app.aclose()


async def test_taken_over_while_waiting_for_its_turn_is_a_503(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    a = Replica(redis, log)
    a.gate = asyncio.Event()
    m1 = asyncio.create_task(a.ask("2-1", "m1"))
    await asyncio.sleep(0.05)
    m2 = asyncio.create_task(a.ask("2-2", "m2"))  # waits behind m1
    await asyncio.sleep(0.05)
    await redis.set(CLAIM + "2-2", "another-replica")
    assert await m2 == (503, b'{"error":"coordination store unavailable"}')
    a.gate.set()
    assert await m1 == (200, b'[{"message":"answer to m1"}]')
    assert log == ["start m1", "end m1"]  # m2 never ran here
    assert "message 2-2 was taken over" in caplog.text


async def test_a_late_run_taken_over_posts_nothing(
    redis: Redis,
    fake: FakeKommunicate,
    session: KommunicateSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = await session.conversations.create(["user-1"])
    log: list[str] = []
    a = Replica(redis, log, km=session, lease=0.3)
    a.app.reply_deadline = 0.05
    a.gate = asyncio.Event()
    assert await a.ask("3-1", "m1", group=chat.id) == (200, b"[]")  # the interim
    await asyncio.sleep(0.25)  # the lease is renewed meanwhile
    await redis.set(CLAIM + "3-1", "another-replica")
    await asyncio.sleep(0.15)  # the renewal finds it taken over
    a.gate.set()
    await a.app.aclose(grace=5)
    assert [m.text for m in fake.messages(chat.id) if m.sender != "user-1"] == []
    assert "message 3-1 was taken over by another replica" in caplog.text
    assert "TakenOver" in caplog.text


async def test_redis_gone_mid_run_still_answers(
    redis: Redis,
    redis_server: RedisProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    log: list[str] = []
    a = Replica(redis, log, lease=0.3)
    a.gate = asyncio.Event()
    first = asyncio.create_task(a.ask("4-1", "m1"))
    await asyncio.sleep(0.05)
    redis_server.stop()
    await asyncio.sleep(0.15)  # a renewal fails, and is logged
    a.gate.set()
    assert await first == (200, b'[{"message":"answer to m1"}]')  # unrecorded
    assert "could not renew the lease of 4-1" in caplog.text
    assert "bot answer for 4-1 not recorded" in caplog.text
    await a.app.aclose()


async def test_redis_gone_at_the_deadline_answers_the_interim(
    redis: Redis,
    redis_server: RedisProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []
    a = Replica(redis, log)
    a.app.reply_deadline = 0.1
    a.gate = asyncio.Event()
    first = asyncio.create_task(a.ask("5-1", "m1"))
    await asyncio.sleep(0.05)
    redis_server.stop()
    assert await first == (200, b"[]")
    assert "could not hand 5-1 over to a late answer" in caplog.text
    a.gate.set()
    await a.app.aclose(grace=5)
    assert [u.key for u in a.app.undelivered] == ["5-1"]  # no session to post with


async def test_redis_gone_before_a_late_runs_turn_is_reported(
    redis: Redis, redis_server: RedisProcess
) -> None:
    log: list[str] = []
    a = Replica(redis, log)
    a.app.reply_deadline = 0.1
    a.gate = asyncio.Event()
    m1 = asyncio.create_task(a.ask("6-1", "m1"))
    await asyncio.sleep(0.03)
    m2 = asyncio.create_task(a.ask("6-2", "m2"))  # waits for its turn
    assert await m2 == (200, b"[]")  # the interim: it will be late
    redis_server.stop()
    await asyncio.sleep(0.1)
    a.gate.set()
    await m1
    await a.app.aclose(grace=5)
    reasons = {u.key: u.reason for u in a.app.undelivered}
    assert reasons["6-2"].startswith("not run: renewing a bot message's lease")
    assert log == ["start m1", "end m1"]


async def test_a_shutdown_cancels_a_shared_run_and_reports_it(redis: Redis) -> None:
    log: list[str] = []
    a = Replica(redis, log)
    a.app.reply_deadline = 0.05
    a.gate = asyncio.Event()  # never set: the handler outlives the shutdown
    assert await a.ask("7-1", "m1") == (200, b"[]")
    await a.app.aclose(grace=0.1)
    assert [(u.key, u.reason) for u in a.app.undelivered] == [
        ("7-1", "shut down before the handler finished")
    ]


async def test_adopting_skips_what_it_cannot_or_need_not_take(redis: Redis) -> None:
    from kommunicate_async.bots._shared_runs import SharedRuns

    log: list[str] = []
    a = Replica(redis, log)
    runs = a.app._runs
    assert isinstance(runs, SharedRuns)
    request = b'{"key": "8-1", "group_id": 7, "text": "m1"}'
    await a.store.begin("8-1", 7, serialize=True)  # held by a live replica
    await runs._adopt("8-1", request)  # held by a live replica: not taken
    assert log == []
    await redis.aclose()  # the client's pool is gone: Redis "unreachable"
    await runs._adopt("8-2", request)  # cannot claim: skipped
    assert log == [] and "8-2" not in runs._runs


async def test_a_dead_replicas_many_late_runs_are_taken_over_together(
    redis: Redis,
) -> None:
    """A killed replica leaves dozens of runs at once; adopted one Redis round trip
    after another on a loaded replica, the last ones outlived their place in their
    conversation's line. They are claimed concurrently."""
    dead = RedisReplyStore(redis, "test-bot", lease=0.3)
    keys = [f"8-{i}" for i in range(40)]
    for i, key in enumerate(keys):
        assert (await dead.begin(key, 100 + i, serialize=True)).token is not None
        request = msgspec.json.encode(
            {"key": key, "group_id": 100 + i, "bot_id": "bot", "text": f"m{i}"}
        )
        assert await dead.interim(key, request) is None  # then the replica died
    log: list[str] = []
    live = Replica(redis, log, lease=0.3)
    begin = live.store.begin
    in_flight = most = 0

    async def counted(key: str, group_id: int, *, serialize: bool) -> Begun:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.01)  # a loaded replica's round trip
            return await begin(key, group_id, serialize=serialize)
        finally:
            in_flight -= 1

    live.store.begin = counted  # type: ignore[method-assign]
    await live.watch("8-w", 99)
    for _ in range(200):
        if sum(line.startswith("end m") for line in log) == len(keys):
            break
        await asyncio.sleep(0.05)
    await live.app.aclose(grace=5)
    assert sorted(line for line in log if line.startswith("end m")) == sorted(
        f"end m{i}" for i in range(40)
    )  # each one run once, by the live replica
    assert sorted(u.key for u in live.app.undelivered) == sorted(keys)  # no session
    assert most > 1  # claimed together, not one round trip after another


async def test_a_run_being_posted_is_kept_for_takeover_before_anyone_is_answered(
    redis: Redis, fake: FakeKommunicate, session: KommunicateSession
) -> None:
    """A request that reaches a run already posting its answer gets `[]` only once
    the run is kept for takeover: if the replica then dies mid-post, another one
    finishes it (before, the answer was lost with the replica)."""
    chat = await session.conversations.create(["user-1"])
    log: list[str] = []
    a = Replica(redis, log, km=session, lease=0.3)
    a.gate = asyncio.Event()
    posting, never = asyncio.Event(), asyncio.Event()

    class Stalled:  # the post never gets its turn: the replica is about to die
        async def wait(self) -> None:
            posting.set()
            await never.wait()

    a.app.deliverer.rate_limit = Stalled()  # type: ignore[assignment]
    first = asyncio.create_task(a.ask("10-1", "m1", group=chat.id))
    await asyncio.sleep(0.05)
    first.cancel()  # its client went away: nobody got the interim
    a.gate.set()
    await posting.wait()  # the answer is being posted
    assert await a.ask("10-1", "m1", group=chat.id) == (200, b"[]")  # a redelivery
    raw: Any = redis  # redis-py types its results sync-or-async
    assert await raw.hkeys("kommunicate:bot:test-bot:late") == [b"10-1"]
    await a.app.aclose(grace=0)  # the replica dies mid-post
    b = Replica(redis, log, km=session, lease=0.3)
    await b.watch("10-w", chat.id + 1)
    await recorded(redis, "10-1")
    await b.app.aclose(grace=5)
    posted = [m.text for m in fake.messages(chat.id) if m.sender != "user-1"]
    assert posted == ["answer to m1"]
    assert log.count("end m1") == 2  # run again by the replica that took it over


async def test_a_handler_ending_just_after_the_deadline_keeps_its_run_for_takeover(
    redis: Redis, session: KommunicateSession
) -> None:
    """The handler's I/O completes in the same loop turn as the request's deadline:
    the run moves to posting before the request's own code resumes. The interim
    goes out only once the run is kept for takeover (before, a replica dying
    mid-post lost the answer: seen in the `botreplicas` test under load)."""
    app = BotApp(
        session,
        bot_header=("X-Bot-Token", SECRET),
        store=RedisReplyStore(redis, "test-bot", lease=5),
        serialize=True,
        reply_deadline=0.2,
    )
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    posting, never = asyncio.Event(), asyncio.Event()

    class Stalled:  # the post never gets its turn: the replica is about to die
        async def wait(self) -> None:
            posting.set()
            await never.wait()

    app.deliverer.rate_limit = Stalled()  # type: ignore[assignment]

    @app.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        await asyncio.get_running_loop().sock_recv(ours, 1)  # the handler's I/O
        return "done"

    try:
        asked = asyncio.create_task(app.handle("bot", HEADERS, body("11-1", "m1")))
        await asyncio.sleep(0.05)  # waiting, the handler too
        theirs.send(b"x")  # its reply arrives ...
        time.sleep(0.25)  # noqa: ASYNC251 - ... while the loop is busy past the deadline
        reply = await asyncio.wait_for(asked, 5)
        assert (reply.status, reply.body) == (200, b"[]")  # the interim
        await posting.wait()
        raw: Any = redis  # redis-py types its results sync-or-async
        assert await raw.hkeys("kommunicate:bot:test-bot:late") == [b"11-1"]
    finally:
        await app.aclose(grace=0)
        ours.close()
        theirs.close()
