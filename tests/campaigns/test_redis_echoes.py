"""`RedisEchoStore`: echoes recorded by a webhook receiver reach the campaign's
workers through Redis; a Redis that fails only means no echoes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kommunicate_async import OutgoingMessage, RedisEchoStore
from kommunicate_async.bots import BotApp
from kommunicate_async.testing import FakeKommunicate, Fault, serve_bot
from tests.scaleout.conftest import REDIS_SERVER, RedisProcess

if TYPE_CHECKING:
    from redis.asyncio import Redis

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")
SENDALL = "POST /rest/ws/message/sendall"
LIST = "GET /rest/ws/message/list"


async def test_echoes_recorded_in_one_place_prove_items_in_another(
    redis: Redis,
) -> None:
    receiver_side = RedisEchoStore(redis, "app-1")  # the webhook receiver's process
    sender_side = RedisEchoStore(redis, "app-1", poll=0.01)  # a campaign worker's
    bot = BotApp(include_echoes=True, webhook_token="t")
    bot.on_webhook(receiver_side.on_webhook)
    async with serve_bot(bot) as served, FakeKommunicate() as fake:
        fake.webhook_url, fake.webhook_token = served.webhook_url, "t"
        async with fake.session() as km:
            ids = [(await km.conversations.create([f"u{i}"])).id for i in range(8)]
            fake.faults.script(SENDALL, Fault.RESET_AFTER)
            report = await km.messages.send_many(
                [OutgoingMessage(c, "sale") for c in ids],
                echoes=sender_side,
                reconcile=True,
                receipts=True,
            )
        await fake.echoes.drain()
    assert (report.delivered, report.ambiguous) == (8, 0)
    assert fake.requests_to(LIST) == []  # proven by the shared echoes alone
    assert report.receipts_checked == 8  # message keys from the echoes too
    assert receiver_side.recorded == 8
    stored = f"kmecho:app-1:g:{ids[1]}\x1f{report_key(fake, ids[1])}"
    assert await redis.get(stored) is not None
    assert await redis.ttl(stored) > 86_000  # kept a day
    assert not await receiver_side.record("m", {"other": "x"}, group_id=1)


def report_key(fake: FakeKommunicate, group_id: int) -> str:
    (stored,) = fake.messages(group_id)
    return stored.metadata["kmDedupeKey"]


async def test_a_failing_redis_means_no_echoes_not_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from redis.asyncio import Redis

    server = RedisProcess()
    client = Redis.from_url(server.url)
    server.stop()  # gone before the campaign starts
    store = RedisEchoStore(client, "app-2")
    try:
        async with FakeKommunicate() as fake, fake.session() as km:
            ids = [(await km.conversations.create([f"u{i}"])).id for i in range(4)]
            fake.faults.script(SENDALL, Fault.RESET_AFTER)
            report = await km.messages.send_many(
                [OutgoingMessage(c, "sale") for c in ids],
                echoes=store,
                reconcile=True,
                settle=0.0,
            )
            assert (report.delivered, report.ambiguous) == (4, 0)
            assert fake.requests_to(LIST)  # read instead
    finally:
        await client.aclose()
    assert any("echoes: Redis failed" in r.message for r in caplog.records)
