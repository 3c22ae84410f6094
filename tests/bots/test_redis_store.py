"""`RedisReplyStore` against a real redis-server: two `BotApp`s are two replicas.

One answer per message key across replicas (a redelivery to the other replica waits
for the run or reads its bytes), takeover after a lease, fencing of a run taken
over, per-conversation order from the ticket lock, and a Redis outage answered 503
with nothing run.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

import msgspec
import pytest

from kommunicate_async import ConfigurationError, CoordinationError
from kommunicate_async.bots import BotApp, BotContext, BotRequest, ReplyRecord
from kommunicate_async.bots.redis import RedisReplyStore, RedisStateStore

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate
    from tests.scaleout.conftest import RedisProcess

SECRET = "s3cret-bot-header"
HEADERS = {"X-Bot-Token": SECRET}


def body(key: str, text: str = "hi", group: int = 7) -> bytes:
    return msgspec.json.encode(
        {"key": key, "groupId": group, "botId": "bot", "message": text}
    )


class Replica:
    """A `BotApp` on the shared Redis whose handler logs what it runs."""

    def __init__(
        self,
        redis: Redis,
        log: list[str],
        *,
        delay: float = 0.0,
        km: KommunicateSession | None = None,
        **store: Any,
    ) -> None:
        self.store = RedisReplyStore(redis, "test-bot", **store)
        self.app = BotApp(
            km,
            bot_header=("X-Bot-Token", SECRET),
            store=self.store,
            serialize=True,
            reply_deadline=5,
        )
        self.gate: asyncio.Event | None = None

        @self.app.on_message
        async def answer(request: BotRequest, ctx: BotContext) -> str:
            log.append(f"start {request.text}")
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(delay)
            log.append(f"end {request.text}")
            return f"answer to {request.text}"

    async def ask(
        self, key: str, text: str = "hi", group: int = 7
    ) -> tuple[int, bytes]:
        reply = await self.app.handle("bot", HEADERS, body(key, text, group))
        return reply.status, reply.body

    async def watch(self, key: str, group: int) -> None:
        """Answer a first request (`key`, "warm-up"): it starts this replica's
        watch for orphaned late runs."""
        assert await self.ask(key, "warm-up", group=group) == (
            200,
            b'[{"message":"answer to warm-up"}]',
        )


async def recorded(redis: Redis, key: str) -> None:
    """Wait (up to 5 s) until message `key`'s answer is recorded."""
    for _ in range(100):
        if await redis.get(f"kommunicate:bot:test-bot:r:{key}") is not None:
            return
        await asyncio.sleep(0.05)


async def test_a_redelivery_to_another_replica_gets_the_same_answer(
    redis: Redis,
) -> None:
    log: list[str] = []
    a, b = Replica(redis, log, delay=0.2), Replica(redis, log)
    first = asyncio.create_task(a.ask("5-1", "m1"))
    await asyncio.sleep(0.05)  # a runs it
    again = await b.ask("5-1", "m1")  # b waits for a's answer
    assert await first == again == (200, b'[{"message":"answer to m1"}]')
    assert await b.ask("5-1", "m1") == again  # afterwards: read from Redis
    assert log == ["start m1", "end m1"]
    stored = await redis.get("kommunicate:bot:test-bot:r:5-1")
    assert stored == b'0[{"message":"answer to m1"}]'  # inline, with its bytes
    assert await redis.get("kommunicate:bot:test-bot:c:5-1") is None  # claim gone
    assert await redis.zcard("kommunicate:bot:test-bot:q:7") == 0  # unlocked


async def test_a_dead_replicas_run_is_taken_over_after_its_lease(redis: Redis) -> None:
    log: list[str] = []
    dead = RedisReplyStore(redis, "test-bot", lease=0.3)
    begun = await dead.begin("5-2", 7, serialize=True)  # claimed, then "killed"
    assert begun.token is not None and begun.turn and begun.record is None
    b = Replica(redis, log, lease=0.3)
    b_next = asyncio.create_task(b.ask("5-3", "m2"))  # the next message waits
    await asyncio.sleep(0.1)
    assert log == []
    assert await b.ask("5-2", "m1") == (200, b'[{"message":"answer to m1"}]')
    assert await b_next == (200, b'[{"message":"answer to m2"}]')
    # The redelivery kept the dead run's place in line: m1 ran before m2.
    assert log == ["start m1", "end m1", "start m2", "end m2"]
    # The dead replica cannot record an answer any more (fenced).
    assert not await dead.finish(
        "5-2", 7, begun.token, ReplyRecord(b"[]"), serialize=True
    )


async def test_a_run_taken_over_answers_nobody(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    a = Replica(redis, log)
    a.gate = asyncio.Event()
    first = asyncio.create_task(a.ask("5-4", "m1"))
    await asyncio.sleep(0.05)
    # Another replica took the key over while a was paused: a new claim token.
    await redis.set("kommunicate:bot:test-bot:c:5-4", "someone-else")
    a.gate.set()
    assert await first == (503, b'{"error":"coordination store unavailable"}')
    assert (
        "TakenOver" in caplog.text
        and await redis.get("kommunicate:bot:test-bot:r:5-4") is None
    )


async def test_one_conversation_runs_in_order_across_replicas(redis: Redis) -> None:
    log: list[str] = []
    a, b = Replica(redis, log, delay=0.15), Replica(redis, log, delay=0.0)
    m1 = asyncio.create_task(a.ask("6-1", "m1", group=8))
    await asyncio.sleep(0.05)
    m2 = asyncio.create_task(b.ask("6-2", "m2", group=8))
    other = await b.ask("6-3", "x", group=9)  # another conversation is not held up
    assert other == (200, b'[{"message":"answer to x"}]')
    assert log[:2] == ["start m1", "start x"]
    await asyncio.gather(m1, m2)
    assert [e for e in log if e.endswith(("m1", "m2"))] == [
        "start m1",
        "end m1",
        "start m2",
        "end m2",
    ]


async def test_a_late_answer_is_recorded_as_posted(redis: Redis) -> None:
    log: list[str] = []
    a = Replica(redis, log, delay=0.3)
    a.app.reply_deadline = 0.05
    assert await a.ask("7-1", "m1") == (200, b"[]")  # the interim: nothing
    await a.app.aclose(grace=5)
    assert await redis.get("kommunicate:bot:test-bot:r:7-1") == (
        b'1[{"message":"answer to m1"}]'
    )
    assert [u.reason for u in a.app.undelivered] == [
        "no KommunicateSession to post a late reply with"
    ]
    b = Replica(redis, log)
    assert await b.ask("7-1", "m1") == (200, b"[]")  # posted: never twice
    assert log == ["start m1", "end m1"]


async def test_a_redis_outage_is_a_503_and_runs_nothing(
    redis: Redis, redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    a = Replica(redis, log)
    redis_server.stop()
    caplog.set_level(logging.ERROR)
    status, reply = await a.ask("8-1", "m1")
    assert (status, reply) == (503, b'{"error":"coordination store unavailable"}')
    assert log == []
    assert "CoordinationError" in caplog.text and "Traceback" not in caplog.text
    assert SECRET not in caplog.text
    webhook = await a.app.handle(
        "webhook", {}, msgspec.json.encode({"key": "w", "groupId": 7})
    )
    assert webhook.status in (401, 503)


async def test_the_plain_store_protocol(redis: Redis) -> None:
    store = RedisReplyStore(redis, "plain")
    assert await store.claim("k") and not await store.claim("k")
    await store.release("k")
    assert await store.claim("k")
    await store.put("k", ReplyRecord(b"{}"))
    assert await store.get("k") == ReplyRecord(b"{}")
    assert not await store.claim("k")  # answered
    assert await store.get("other") is None
    await store.release("never-claimed")  # nothing to drop
    assert "plain" in repr(store)


async def test_store_errors_are_coordination_errors(
    redis: Redis, redis_server: RedisProcess
) -> None:
    store = RedisReplyStore(redis, "gone")
    redis_server.stop()
    for call in (
        store.get("k"),
        store.claim("k"),
        store.renew("k", 1, "t", serialize=True),
        store.finish("k", 1, "t", ReplyRecord(b"[]"), serialize=True),
        store.abandon("k", 1, "t"),
    ):
        with pytest.raises(CoordinationError, match="Redis failed"):
            await call


@pytest.mark.parametrize(
    "options",
    [{"lease": 0.01}, {"grace": -1}, {"ttl": 1, "lease": 5}, {"poll": 0}],
)
def test_bad_settings_are_refused(redis: Redis, options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        RedisReplyStore(redis, **cast("dict[str, Any]", options))


async def test_a_dead_replicas_late_run_is_finished_by_a_live_one(
    redis: Redis,
    fake: FakeKommunicate,
    session: KommunicateSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = await session.conversations.create(["user-1"])
    dead = RedisReplyStore(redis, "test-bot", lease=0.3)
    begun = await dead.begin("9-1", chat.id, serialize=True)
    assert begun.token is not None
    request = msgspec.json.encode(
        {"key": "9-1", "group_id": chat.id, "bot_id": "bot", "text": "m1"}
    )
    # Its request got the interim (kept for takeover), then the replica died.
    assert await dead.interim("9-1", request) is None
    raw: Any = redis  # redis-py types its results sync-or-async
    await raw.hset("kommunicate:bot:test-bot:late", "9-x", b"not a request")
    log: list[str] = []
    live = Replica(redis, log, km=session, lease=0.3)
    await live.watch("9-0", chat.id + 1)
    await recorded(redis, "9-1")
    await live.app.aclose(grace=5)
    assert log == ["start warm-up", "end warm-up", "start m1", "end m1"]
    posted = [m for m in fake.messages(chat.id) if m.text == "answer to m1"]
    assert [m.metadata["kmDedupeKey"] for m in posted] == ["bot:9-1:0"]
    assert await redis.get("kommunicate:bot:test-bot:r:9-1") == (
        b'1[{"message":"answer to m1"}]'
    )
    assert await raw.hkeys("kommunicate:bot:test-bot:late") == [b"9-x"]
    assert "took over late message 9-1" in caplog.text
    assert "dropped an unreadable late bot run 9-x" in caplog.text


async def test_an_interim_to_any_request_turns_the_answer_into_one_post(
    redis: Redis, fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["user-1"])
    log: list[str] = []
    a = Replica(redis, log, km=session, delay=0.3)
    b = Replica(redis, log, km=session)
    b.app.reply_deadline = 0.1
    first = asyncio.create_task(a.ask("9-2", "m1", group=chat.id))
    await asyncio.sleep(0.05)
    assert await b.ask("9-2", "m1", group=chat.id) == (200, b"[]")  # the interim
    # a's own request, still waiting when the answer is ready, gets `[]`, and the
    # answer is posted: had it been given inline too, the conversation would get it
    # twice whenever the platform still listened to that request.
    assert await first == (200, b"[]")
    await a.app.aclose(grace=5)
    posted = [m.metadata["kmDedupeKey"] for m in fake.messages(chat.id) if m.text]
    assert posted == ["bot:9-2:0"]
    assert log == ["start m1", "end m1"]
    assert await redis.get("kommunicate:bot:test-bot:r:9-2") == (
        b'1[{"message":"answer to m1"}]'
    )  # recorded as posted, after the post
    assert await b.ask("9-2", "m1", group=chat.id) == (200, b"[]")  # posted


async def test_a_replica_killed_before_posting_the_flagged_answer_is_adopted(
    redis: Redis, fake: FakeKommunicate, session: KommunicateSession
) -> None:
    """`finish` on a flagged key records nothing and keeps the claim: if the replica
    dies before its post, the claim lapses and the run is finished elsewhere."""
    chat = await session.conversations.create(["user-1"])
    store = RedisReplyStore(redis, "test-bot", lease=0.3)
    begun = await store.begin("9-3", chat.id, serialize=True)
    assert begun.token is not None
    request = body("9-3", "m1", group=chat.id)
    assert await store.interim("9-3", request) is None  # a request got the interim
    flagged = ReplyRecord(b'[{"message":"answer to m1"}]')
    assert await store.finish("9-3", chat.id, begun.token, flagged, serialize=True) == 2
    assert await redis.get("kommunicate:bot:test-bot:r:9-3") is None
    assert await redis.get("kommunicate:bot:test-bot:c:9-3") is not None
    await asyncio.sleep(0.35)  # ... and the replica dies here: its lease lapses
    assert await store.orphans() == [("9-3", request)]


async def test_state_in_redis_is_shared_with_compare_and_set(
    redis: Redis, redis_server: RedisProcess
) -> None:
    store = RedisStateStore(redis, "test-bot")
    assert "test-bot" in repr(store)
    apps = [
        BotApp(None, bot_header=("X-Bot-Token", SECRET), state=store) for _ in range(2)
    ]
    for bot in apps:

        @bot.on_message
        async def answer(request: BotRequest, ctx: BotContext) -> str:
            turns = await ctx.state.update(
                "turns", lambda n: n + 1, type=int, default=0
            )
            return str(turns)

    replies = await asyncio.gather(
        *(apps[i % 2].handle("bot", HEADERS, body(f"5-s{i}")) for i in range(8))
    )
    assert sorted(int(msgspec.json.decode(r.body)[0]["message"]) for r in replies) == (
        list(range(1, 9))
    )  # none lost across the two "replicas"
    assert await store.load("7", "turns") == (b"8", 8)
    assert (
        0 < await redis.pttl("kommunicate:bot:test-bot:s:7:turns") <= 7 * 86400 * 1000
    )
    assert await store.save("7", "turns", b"0", expect=3, ttl=60) is None
    await store.delete("7", "turns")
    assert await store.load("7", "turns") == (None, 0)
    redis_server.stop()
    for call in (
        store.load("7", "x"),
        store.save("7", "x", b"1", expect=None, ttl=1),
        store.delete("7", "x"),
    ):
        with pytest.raises(CoordinationError, match="Redis failed"):
            await call
