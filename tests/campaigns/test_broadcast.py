"""Broadcast (issue 20): same-message items go out in `message/sendall` requests of
up to 50 conversations, with per-item accounting, proof by echo or history after
an ambiguous request, and single sends when the server refuses it."""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async import (
    EchoStore,
    InvalidRequestError,
    ItemStatus,
    KommunicateSession,
    OutgoingMessage,
    Retries,
    Timeouts,
)
from kommunicate_async._batch.checkpoint import CheckpointLine
from kommunicate_async._batch.sendall import check_reply, sendall_body
from kommunicate_async.bots import BotApp
from kommunicate_async.testing import (
    FakeKommunicate,
    Fault,
    FaultPlan,
    RouteFaults,
    serve_bot,
)

if TYPE_CHECKING:
    from pathlib import Path

SENDALL = "POST /rest/ws/message/sendall"
SEND = "POST /rest/ws/message/v2/send"
LIST = "GET /rest/ws/message/list"


def session_on(fake: FakeKommunicate) -> KommunicateSession:
    return fake.session(
        timeout=Timeouts(connect=2, attempt=5, total=20),
        retries=Retries(backoff_base=0.01),
    )


async def chats(
    km: KommunicateSession, n: int, *, named: bool = False
) -> list[int | str]:
    out: list[int | str] = []
    for i in range(n):
        if named:
            chat = await km.conversations.create(
                [f"u{i}"], client_conversation_id=f"c{i}"
            )
            out.append(f"c{i}")
        else:
            chat = await km.conversations.create([f"u{i}"])
            out.append(chat.id)
    return out


def keys_stored(fake: FakeKommunicate, ids: list[int | str]) -> Counter[int | str]:
    """How many messages each conversation got."""
    return Counter({c: len(fake.messages(c)) for c in ids})


async def test_same_text_goes_in_requests_of_50_with_one_result_per_item(
    tmp_path: Path,
) -> None:
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await chats(km, 120)
        items = [OutgoingMessage(c, "Sale today", metadata={"camp": 7}) for c in ids]
        checkpoint = tmp_path / "campaign.checkpoint.jsonl"
        results = [r async for r in km.messages.iter_send(items, checkpoint=checkpoint)]
        requests = fake.requests_to(SENDALL)
        assert len(fake.requests_to(SEND)) == 1  # the first of a message goes alone
        assert sorted(
            len(msgspec.json.decode(r.body)["groupIds"]) for r in requests
        ) == [
            19,
            50,
            50,
        ]
        first = requests[0]
        body = msgspec.json.decode(first.body)
        key = body["messageObject"]["metadata"]["kmDedupeKey"]
        assert first.body == sendall_body(
            body["groupIds"], "Sale today", {"camp": 7}, key
        )
        assert first.body.startswith(b'{"groupIds":[')
        assert body["messageObject"] == {
            "message": "Sale today",
            "metadata": {"camp": "7", "kmDedupeKey": key},
        }
        assert first.headers["Api-Key"] == fake.api_key
        assert first.headers["Of-User-Id"] == "bot"
        assert keys_stored(fake, ids) == Counter(dict.fromkeys(ids, 1))
    assert sorted(r.index for r in results) == list(range(120))
    assert all(r.status is ItemStatus.DELIVERED for r in results)
    by_request = Counter(r.broadcast_key for r in results)
    assert by_request[None] == 1 and sorted(by_request.values()) == [1, 19, 50, 50]
    lines = [
        msgspec.json.decode(raw, type=CheckpointLine)
        for raw in checkpoint.read_bytes().splitlines()
    ]
    final = [x for x in lines if x.status == "delivered"]
    assert len(final) == 120 and len({x.key for x in final}) == 120  # one per item
    assert {x.conversation for x in final} == set(ids)
    assert sum(1 for x in final if x.sent_key and x.sent_key.startswith("b")) == 119
    assert sum(1 for x in lines if x.status == "sending") == 120


async def test_named_conversations_go_as_client_group_ids() -> None:
    async with FakeKommunicate(bare=False) as fake, session_on(fake) as km:
        ids = await chats(km, 4, named=True)
        report = await km.messages.send_many(
            [OutgoingMessage(c, "hi") for c in ids], broadcast_chunk=2
        )
        bodies = [msgspec.json.decode(r.body) for r in fake.requests_to(SENDALL)]
        singles = [msgspec.json.decode(r.body) for r in fake.requests_to(SEND)]
    assert report.delivered == 4
    # c0 went alone (the first of its message), c3 too (the last bucket held one)
    assert [b["clientGroupIds"] for b in bodies] == [["c1", "c2"]]
    assert sorted(b["clientGroupId"] for b in singles) == ["c0", "c3"]


async def test_broadcast_off_and_items_that_cannot_share_go_alone() -> None:
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await chats(km, 6)
        report = await km.messages.send_many(
            [OutgoingMessage(c, "same") for c in ids], broadcast=False
        )
        assert report.delivered == 6 and fake.requests_to(SENDALL) == []
        own_keys = [OutgoingMessage(c, "x", dedupe_key=f"k{c}") for c in ids]
        own_meta = [OutgoingMessage(c, "y", metadata={"name": str(c)}) for c in ids]
        twice = [OutgoingMessage(ids[0], "z"), OutgoingMessage(ids[0], "z")]
        report = await km.messages.send_many(
            own_keys + own_meta + twice, checkpoint=None, shard=(0, 1)
        )
        assert report.delivered == 14
        assert fake.requests_to(SENDALL) == []
        assert len(fake.requests_to(SEND)) == 20


@pytest.mark.parametrize("bad", [1, 51, "50", 2.0])
def test_broadcast_chunk_is_checked(bad: object) -> None:
    async def scenario() -> None:
        async with FakeKommunicate() as fake, session_on(fake) as km:
            with pytest.raises(InvalidRequestError, match="broadcast_chunk"):
                km.messages.iter_send([], broadcast_chunk=bad)  # type: ignore[arg-type]
            with pytest.raises(InvalidRequestError, match="broadcast must be"):
                km.messages.iter_send([], broadcast="yes")  # type: ignore[arg-type]
            with pytest.raises(InvalidRequestError, match="echoes must be"):
                km.messages.iter_send([], echoes=object())  # type: ignore[arg-type]

    import asyncio

    asyncio.run(scenario())


async def test_a_refused_endpoint_falls_back_to_single_sends_once_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FakeKommunicate() as fake, session_on(fake) as km:
        fake.refuse_sendall = True
        ids = await chats(km, 30)
        with caplog.at_level(logging.WARNING, logger="kommunicate_async"):
            report = await km.messages.send_many(
                [OutgoingMessage(c, "hello") for c in ids],
                broadcast_chunk=10,
                concurrency=1,
            )
        assert report.delivered == 30 and report.ok
        assert len(fake.requests_to(SENDALL)) == 1  # refused once, never asked again
        assert len(fake.requests_to(SEND)) == 30
        assert keys_stored(fake, ids) == Counter(dict.fromkeys(ids, 1))
    warnings = [r for r in caplog.records if "message/sendall refused" in r.message]
    assert len(warnings) == 1 and "AuthenticationError" in warnings[0].message


async def test_a_refused_request_sends_its_items_alone_and_keeps_broadcasting() -> None:
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await chats(km, 6)
        items = [OutgoingMessage(c, "hello") for c in ids]
        items.insert(3, OutgoingMessage(999, "hello"))  # no such group: refused
        report = await km.messages.send_many(items, broadcast_chunk=3)
        assert (report.delivered, report.failed) == (6, 1)
        assert report.problems[0].item.conversation == 999
        assert keys_stored(fake, ids) == Counter(dict.fromkeys(ids, 1))
        assert len(fake.requests_to(SENDALL)) >= 2


async def test_ambiguous_requests_are_settled_by_history_without_duplicates() -> None:
    plan = FaultPlan(seed=3, routes={SENDALL: RouteFaults(reset_after=0.3)})
    plan.script(SENDALL, Fault.RESET_AFTER, Fault.NONE, Fault.RESET_AFTER)
    async with FakeKommunicate(faults=plan) as fake, session_on(fake) as km:
        ids = await chats(km, 100)
        report = await km.messages.send_many(
            [OutgoingMessage(c, "promo") for c in ids],
            reconcile=True,
            settle=0.05,
            broadcast_chunk=10,
        )
        assert plan.injected[Fault.RESET_AFTER] > 0
        assert (report.delivered, report.ambiguous, report.failed) == (100, 0, 0)
        assert keys_stored(fake, ids) == Counter(dict.fromkeys(ids, 1))
        assert fake.requests_to(LIST)  # proven by reading


async def test_without_reconcile_an_ambiguous_request_leaves_its_items_ambiguous() -> (
    None
):
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await chats(km, 5)
        fake.faults.script(SENDALL, Fault.RESET_AFTER)
        report = await km.messages.send_many([OutgoingMessage(c, "p") for c in ids])
        assert (report.delivered, report.ambiguous) == (1, 4)  # the first went alone
        assert all(p.attempts == 1 for p in report.problems)
        assert fake.requests_to(LIST) == []


async def test_a_request_proven_absent_is_sent_again_in_one_request() -> None:
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await chats(km, 5)
        fake.faults.script(SENDALL, Fault.RESET_BEFORE)  # never processed
        report = await km.messages.send_many(
            [OutgoingMessage(c, "p") for c in ids], reconcile=True, settle=0.0
        )
        assert report.delivered == 5
        assert len(fake.requests_to(SENDALL)) == 2
        assert keys_stored(fake, ids) == Counter(dict.fromkeys(ids, 1))
        assert report.problems == []


async def test_echoes_prove_ambiguous_items_without_reading(tmp_path: Path) -> None:
    plan = FaultPlan(seed=5, routes={SENDALL: RouteFaults(reset_after=0.5)})
    plan.script(SENDALL, Fault.RESET_AFTER, Fault.NONE, Fault.RESET_AFTER)
    store = EchoStore()
    bot = BotApp(include_echoes=True, webhook_token="hook-secret")
    bot.on_webhook(store.on_webhook)
    async with (
        serve_bot(bot) as served,
        FakeKommunicate(faults=plan) as fake,
        session_on(fake) as km,
    ):
        fake.webhook_url, fake.webhook_token = served.webhook_url, "hook-secret"
        ids = await chats(km, 60, named=True)
        report = await km.messages.send_many(
            [OutgoingMessage(c, "flash sale") for c in ids],
            reconcile=True,
            echoes=store,
            broadcast_chunk=10,
            checkpoint=tmp_path / "cp.jsonl",
        )
        await fake.echoes.drain()
        assert plan.injected[Fault.RESET_AFTER] > 0
        assert (report.delivered, report.ambiguous) == (60, 0)
        assert fake.requests_to(LIST) == []  # no history read: the echoes proved it
        assert keys_stored(fake, ids) == Counter(dict.fromkeys(ids, 1))
        assert store.recorded == 60 and fake.echoes.sent == 60


async def test_a_rerun_recognises_an_earlier_runs_broadcast(tmp_path: Path) -> None:
    checkpoint = tmp_path / "cp.jsonl"
    async with FakeKommunicate() as fake, session_on(fake) as km:
        ids = await chats(km, 20)
        items = [OutgoingMessage(c, "resume me") for c in ids]
        await km.messages.send_many(items, checkpoint=checkpoint)
        # A crash after the requests, before any outcome line was written.
        kept = [
            raw
            for raw in checkpoint.read_bytes().splitlines(keepends=True)
            if b'"status":"delivered"' not in raw
        ]
        checkpoint.write_bytes(b"".join(kept))
        sends_before = len(fake.requests)
        report = await km.messages.send_many(
            items, checkpoint=checkpoint, reconcile=True
        )
        assert (report.delivered, report.ambiguous) == (20, 0)
        new = list(fake.requests)[sends_before:]
        assert not [r for r in new if r.route in (SEND, SENDALL)]  # nothing re-sent
        assert keys_stored(fake, ids) == Counter(dict.fromkeys(ids, 1))


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (b"success", False),
        (b'"success"', False),
        (b"", False),
        (b'{"status":"success","generatedAt":1,"response":"success"}', False),
        (b"{not json", False),
        (b"error", True),
        (b'"error"', True),
        (
            b'{"status":"error","errorResponse":[{"errorCode":"AL-G-01","description":"group not found"}]}',
            True,
        ),
        (b'{"status":"error"}', True),
    ],
)
def test_the_reply_is_read_tolerantly(body: bytes, refused: bool) -> None:
    from kommunicate_async import APIError

    if refused:
        with pytest.raises(APIError):
            check_reply(body)
    else:
        check_reply(body)
