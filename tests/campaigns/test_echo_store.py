"""`EchoStore`: what it records, how much it keeps, and waiting for echoes."""

from __future__ import annotations

import time

from kommunicate_async import EchoStore, OutgoingMessage
from kommunicate_async.testing import FakeKommunicate


def test_only_echoes_with_a_dedupe_key_are_kept_by_both_references() -> None:
    store = EchoStore()
    assert not store.record("m0", None, group_id=1)
    assert not store.record("m0", {"kmDedupeKey": ""}, group_id=1)
    assert store.record("m1", {"kmDedupeKey": "k1"}, group_id=7, client_group_id="c7")
    assert store.find(7, "k1") == store.find("c7", "k1") == "m1"
    assert store.find(7, "k2") is None and store.recorded == 1


def test_the_oldest_echoes_go_first_past_max_entries() -> None:
    store = EchoStore(max_entries=3)
    for i in range(5):
        store.record(f"m{i}", {"kmDedupeKey": f"k{i}"}, group_id=i)
    assert [store.find(i, f"k{i}") for i in range(5)] == [None, None, "m2", "m3", "m4"]


async def test_wait_for_returns_what_came_in_time() -> None:
    store = EchoStore()
    store.record("m1", {"kmDedupeKey": "k"}, group_id=1)
    started = time.monotonic()
    found = await store.wait_for([(1, "k"), (2, "k")], 0.05)
    assert found == {(1, "k"): "m1"}
    assert time.monotonic() - started >= 0.05  # waited for the missing one


async def test_the_same_message_twice_to_one_conversation_never_shares_a_request() -> (
    None
):
    async with FakeKommunicate() as fake, fake.session() as km:
        ids = [(await km.conversations.create([f"u{i}"])).id for i in range(3)]
        items = [OutgoingMessage(c, "x") for c in ids] + [OutgoingMessage(ids[1], "x")]
        report = await km.messages.send_many(items, concurrency=1)
        assert report.delivered == 4
        assert [len(fake.messages(c)) for c in ids] == [1, 2, 1]
        bodies = fake.requests_to("POST /rest/ws/message/sendall")
        assert all(b.body.count(str(ids[1]).encode()) <= 1 for b in bodies)
