"""Broadcast's edges: 429s and retries, a limiter or ledger that fails mid-bucket,
a stop with buckets open, many groups at once, and the fake's own checks."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, cast

import aiohttp
import pytest

from kommunicate_async import (
    BatchReport,
    BatchStoppedError,
    CheckpointError,
    CoordinationError,
    ItemResult,
    ItemStatus,
    KommunicateSession,
    OutgoingMessage,
    Retries,
    Timeouts,
)
from kommunicate_async._batch.broadcast import Broadcaster
from kommunicate_async._batch.checkpoint import Uncertain
from kommunicate_async._batch.job import Job
from kommunicate_async.testing import FakeKommunicate, Fault, FaultPlan, RouteFaults

if TYPE_CHECKING:
    from kommunicate_async._batch.batch import Batch
    from kommunicate_async._batch.checkpoint import Begin, CheckpointLine

SENDALL = "POST /rest/ws/message/sendall"
SEND = "POST /rest/ws/message/v2/send"


def session_on(fake: FakeKommunicate) -> KommunicateSession:
    return fake.session(
        timeout=Timeouts(connect=2, attempt=5, total=20),
        retries=Retries(backoff_base=0.01),
    )


async def groups(km: KommunicateSession, n: int) -> list[int]:
    return [(await km.conversations.create([f"u{i}"])).id for i in range(n)]


async def test_a_429_pauses_the_limiter_and_the_request_is_sent_again() -> None:
    plan = FaultPlan(routes={SENDALL: RouteFaults(retry_after=0.01)})
    plan.script(SENDALL, Fault.RATE_LIMIT)
    async with FakeKommunicate(faults=plan) as fake, session_on(fake) as km:
        ids = await groups(km, 4)
        report = await km.messages.send_many(
            [OutgoingMessage(c, "x") for c in ids], rate_limit=1000
        )
        assert report.delivered == 4
        assert [r.fault for r in fake.requests_to(SENDALL)] == ["429", "none"]
        assert all(len(fake.messages(c)) == 1 for c in ids)


async def test_retries_used_up_leave_the_items_failed_with_their_request_key() -> None:
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await groups(km, 3)
        fake.faults.script(SENDALL, Fault.ERROR_503, Fault.ERROR_503)
        report = await km.messages.send_many(
            [OutgoingMessage(c, "x") for c in ids],
            max_attempts=2,
            reconcile=True,
            settle=0.0,
        )
        assert (report.delivered, report.failed) == (1, 2)
        assert all(p.broadcast_key and p.attempts == 2 for p in report.problems)
        assert all(len(fake.messages(c)) == 0 for c in ids[1:])


class FailingLimiter:
    """A shared limiter that is gone after `calls` waits."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    async def wait(self) -> None:
        self.calls -= 1
        if self.calls < 0:
            raise CoordinationError("limiter unreachable")

    async def pause(self, seconds: float) -> None:
        pass


async def test_a_limiter_gone_mid_campaign_stops_it_and_every_item_has_a_result() -> (
    None
):
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await groups(km, 12)
        items = [OutgoingMessage(c, "x") for c in ids]
        items += [OutgoingMessage(c, "y") for c in ids]  # a second message: its bucket
        results: list[ItemResult] = []
        with pytest.raises(BatchStoppedError) as stopped:
            async with km.messages.iter_send(
                items,
                rate_limit=FailingLimiter(2),
                broadcast_chunk=5,
                concurrency=1,
            ) as running:
                async for result in running:  # kept as they come: the stop raises
                    results.append(result)  # noqa: PERF401
        assert isinstance(stopped.value.reason, CoordinationError)
        statuses = Counter(r.status for r in results)
        assert statuses[ItemStatus.DELIVERED] == 1 + 5  # the first alone, one request
        failed = [r for r in results if r.status is ItemStatus.FAILED]
        assert failed and all(r.attempts <= 1 for r in failed)
        stored = sum(len(fake.messages(c)) for c in ids)
        assert stored == statuses[ItemStatus.DELIVERED]


class MemoryStore:
    """A `scaleout.BatchStore` in memory, with scripted answers and failures."""

    def __init__(
        self, *, answers: dict[int, Begin] | None = None, fail_begin_at: int = -1
    ) -> None:
        self.answers = answers or {}
        self.fail_begin_at = fail_begin_at
        self.fail_finish = False
        self.begun: list[int] = []
        self.finished: list[CheckpointLine] = []

    async def open(self) -> None:
        pass

    async def begin(self, key: str, index: int) -> Begin:  # noqa: ARG002
        if len(self.begun) == self.fail_begin_at:
            raise CheckpointError("store full")
        self.begun.append(index)
        return self.answers.get(index, "new")

    async def finish(self, line: CheckpointLine) -> None:
        if self.fail_finish:
            raise CheckpointError("store gone")
        self.finished.append(line)

    async def clock(self, offset: int) -> None:
        pass

    async def close(self) -> None:
        pass


async def test_a_bucket_skips_what_a_store_has_delivered_and_resumes_the_rest() -> None:
    store = MemoryStore(answers={2: "delivered", 3: Uncertain(0, None)})
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await groups(km, 6)
        report = await km.messages.send_many(
            [OutgoingMessage(c, "x") for c in ids], checkpoint=store, reconcile=True
        )
        assert (report.delivered, report.skipped) == (5, 1)
        assert len(fake.messages(ids[2])) == 0  # delivered before: not sent
        assert len(fake.messages(ids[3])) == 1  # resumed alone: absent, sent
        assert sorted(x.index for x in store.finished) == [0, 1, 3, 4, 5]


async def test_a_store_that_fails_mid_bucket_stops_with_nothing_unsent_unmarked() -> (
    None
):
    store = MemoryStore(fail_begin_at=3)
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await groups(km, 6)
        with pytest.raises(BatchStoppedError) as stopped:
            await km.messages.send_many(
                [OutgoingMessage(c, "x") for c in ids], checkpoint=store
            )
        report = stopped.value.report
        assert isinstance(report, BatchReport) and report.total == 6
        assert report.delivered == len(store.begun) == 3  # only the marked went out
        assert sum(len(fake.messages(c)) for c in ids) == 3


async def test_a_store_that_cannot_finish_stops_after_the_results() -> None:
    store = MemoryStore()
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await groups(km, 4)
        store.fail_finish = True
        with pytest.raises(BatchStoppedError) as stopped:
            await km.messages.send_many(
                [OutgoingMessage(c, "x") for c in ids], checkpoint=store, concurrency=1
            )
        assert isinstance(stopped.value.reason, CheckpointError)
        report = stopped.value.report
        assert isinstance(report, BatchReport) and report.delivered >= 1


@pytest.mark.parametrize("messages", [6, 12])
async def test_interleaved_messages_all_arrive_once(messages: int) -> None:
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await groups(km, 4)
        texts = [f"text {t}" for t in range(messages)]
        items = [OutgoingMessage(c, t) for c in ids for t in texts]  # interleaved
        report = await km.messages.send_many(items, concurrency=1)
        assert report.delivered == 4 * messages
        assert all(
            Counter(m.text for m in fake.messages(c)) == Counter(texts) for c in ids
        )
        # up to 8 messages share requests; more than 8 interleaved evict each
        # other's buckets before a second item comes: one by one, still exact
        assert bool(fake.requests_to(SENDALL)) == (messages <= 8)


def test_messages_not_seen_lately_are_forgotten() -> None:
    broadcaster = Broadcaster(cast("Batch", None), 50)  # add() never reads it here

    def add(probe: int) -> object:
        item = OutgoingMessage(probe + 1, "hi", "bot")
        job = Job(probe, item, f"k{probe}", b"{}", probe)
        return "alone" if broadcaster.add(job) is job else "held"

    assert add(0) == "alone"  # a message not seen lately goes alone
    assert add(0) == "held"  # seen: it waits in its bucket for others
    assert [add(i) for i in range(1, 5000)].count("held") == 0
    assert add(0) == "alone"  # past 4,096 the memory starts over: forgotten


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"userNames": ["a"], "messageObject": {"message": "x"}}, "userNames"),
        ({"groupIds": [1]}, "messageObject.message is required"),
        ({"messageObject": {"message": "x"}}, "groupIds or clientGroupIds"),
        (
            {"groupIds": list(range(51)), "messageObject": {"message": "x"}},
            "at most 50",
        ),
    ],
)
async def test_the_fake_checks_a_sendall_body(
    body: dict[str, object], why: str
) -> None:
    async with FakeKommunicate() as fake, aiohttp.ClientSession() as http:
        async with http.post(
            f"{fake.url}/rest/ws/message/sendall",
            json=body,
            headers={"Api-Key": fake.api_key, "Of-User-Id": "bot"},
        ) as reply:
            text = await reply.text()
        assert reply.status == 400 and why in text


async def test_the_fake_counts_echoes_it_could_not_deliver() -> None:
    async with FakeKommunicate() as fake, session_on(fake) as km:
        fake.webhook_url = "http://127.0.0.1:9/nobody"
        (gid,) = await groups(km, 1)
        await km.messages.send(gid, "hello")
        await fake.echoes.drain()
        assert (fake.echoes.sent, fake.echoes.failed) == (0, 1)


async def test_in_an_outage_a_failed_request_costs_a_few_reads_not_one_a_target() -> (
    None
):
    plan = FaultPlan(
        routes={
            SENDALL: RouteFaults(error_500=1.0),
            "GET /rest/ws/message/list": RouteFaults(error_500=1.0),
        }
    )
    async with FakeKommunicate(faults=plan) as fake, fake.session(max_retries=0) as km:
        ids = await groups(km, 41)
        fake.requests.clear()
        report = await km.messages.send_many(
            [OutgoingMessage(c, "x") for c in ids[1:]],
            reconcile=True,
            settle=0.0,
            broadcast_chunk=40,
        )
        reads = len(fake.requests_to("GET /rest/ws/message/list"))
    assert report.ambiguous == 39  # the first of the message went alone (delivered)
    assert reads <= 8 + 1  # one slice of the request's proof, plus the single's read


async def test_a_spent_budget_leaves_the_targets_ambiguous_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "kommunicate_async._pipeline.retry.RetryBudget.try_spend", lambda _self: False
    )
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await groups(km, 4)
        fake.faults.script(SENDALL, Fault.RESET_AFTER)
        report = await km.messages.send_many(
            [OutgoingMessage(c, "x") for c in ids], reconcile=True, settle=0.0
        )
        assert report.ambiguous == 3
        assert all("retry budget is spent" in str(p.error) for p in report.problems)
        assert fake.requests_to("GET /rest/ws/message/list") == []
