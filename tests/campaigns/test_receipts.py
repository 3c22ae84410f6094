"""Delivery truth from receipts (issue 20): with `receipts=`, the report counts the
items delivered to a device and read, as `message/info` tells; the read count
equals what the fake knows."""

from __future__ import annotations

import pytest

from kommunicate_async import EchoStore, InvalidRequestError, OutgoingMessage, Progress
from kommunicate_async.bots import BotApp, WebhookMessage
from kommunicate_async.resources._receipts import _chosen
from kommunicate_async.testing import FakeKommunicate, Fault, serve_bot

INFO = "GET /rest/ws/message/info"
LIST = "GET /rest/ws/message/list"


def fake_read_count(fake: FakeKommunicate, ids: list[int]) -> int:
    """Campaign messages some member other than the sender has read (the fake's
    own rule: the member's unread count for the conversation is 0)."""
    read = 0
    for gid in ids:
        group = fake.conversation(gid)
        (message,) = fake.messages(gid)
        others = [m for m in group.members if m != message.sender]
        if any(fake.state.unread.get(m, {}).get(gid, 0) == 0 for m in others):
            read += 1
    return read


async def test_the_read_count_equals_the_fakes_with_echoes() -> None:
    store = EchoStore()
    bot = BotApp(include_echoes=True, webhook_token="t")
    bot.on_webhook(store.on_webhook)
    async with serve_bot(bot) as served, FakeKommunicate() as fake:
        fake.webhook_url, fake.webhook_token = served.webhook_url, "t"
        async with fake.session() as km:
            ids = [(await km.conversations.create([f"u{i}"])).id for i in range(30)]

            async def reader(message: WebhookMessage, _ctx: object) -> None:
                # every third recipient opens the campaign message at once
                group_id = message.group_id
                if ids.index(group_id) % 3 == 0:
                    i = ids.index(group_id)
                    fake.state.mark_read(fake.conversation(group_id), f"u{i}")

            bot.on_webhook(reader)
            report = await km.messages.send_many(
                [OutgoingMessage(c, "Your order shipped") for c in ids],
                echoes=store,
                receipts=True,
            )
            await fake.echoes.drain()
    assert report.delivered == 30
    assert report.receipts_checked == 30
    assert report.delivered_to_device == 30
    assert report.read == fake_read_count(fake, ids) == 10
    assert len(fake.requests_to(INFO)) == 30
    assert fake.requests_to(LIST) == []  # every broadcast key came by echo


async def test_without_echoes_a_broadcast_items_key_is_read_from_history() -> None:
    async with FakeKommunicate() as fake, fake.session() as km:
        ids = [(await km.conversations.create([f"u{i}"])).id for i in range(5)]
        fake.state.mark_read(fake.conversation(ids[1]), "u1")  # read before: no
        report = await km.messages.send_many(
            [OutgoingMessage(c, "hello") for c in ids], receipts=True
        )
        fake.state.mark_read(fake.conversation(ids[2]), "u2")
        assert report.read == 0  # nobody read between the send and the check
        assert report.receipts_checked == 5 and report.delivered_to_device == 5
        assert len(fake.requests_to(LIST)) == 4  # the first item went alone
        keys = [f"k{i}" for i in range(40)]
        later = await km.messages.send_many(
            [
                OutgoingMessage(ids[i % 5], f"m{i}", dedupe_key=k)
                for i, k in enumerate(keys)
            ],
            receipts=0.5,
        )
        chosen = sum(_chosen(k, 0.5) for k in keys)  # by the key: the same each run
        assert later.receipts_checked == chosen and 10 < chosen < 30


@pytest.mark.parametrize("bad", [-1, 0.0, 1.5, "all"])
async def test_receipts_is_checked(bad: object) -> None:
    async with FakeKommunicate() as fake, fake.session() as km:
        with pytest.raises(InvalidRequestError, match="receipts must be"):
            await km.messages.send_many([], receipts=bad)  # type: ignore[arg-type]


async def test_a_receipt_that_cannot_be_read_is_not_counted() -> None:
    async with FakeKommunicate() as fake, fake.session(max_retries=0) as km:
        ids = [(await km.conversations.create([f"u{i}"])).id for i in range(3)]
        fake.faults.script(INFO, Fault.ERROR_500)
        cleared: list[int] = []

        def forget_one(progress: Progress) -> None:
            # the last broadcast item's message is gone before its key is looked up
            if progress.done >= 3 and not cleared:
                fake.state.messages[ids[2]].clear()
                cleared.append(ids[2])

        report = await km.messages.send_many(
            [OutgoingMessage(c, "hi") for c in ids]
            + [OutgoingMessage(999_999, "nowhere")],
            receipts=True,
            on_progress=forget_one,
        )
        assert (report.delivered, report.failed) == (3, 1)
        # one info failed (500), one key was not found: one item checked
        assert report.receipts_checked == 1
