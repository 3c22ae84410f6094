"""Issue 20's done-when: a 10,000-item same-text campaign through 20% of
connections reset after the server processed the request, with webhook echoes on,
ends with 0 ambiguous, 0 lost and 0 duplicates."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pytest

from kommunicate_async import EchoStore, OutgoingMessage, Retries, Timeouts
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


@pytest.mark.slow
async def test_ten_thousand_items_through_20_percent_resets_end_exact(
    tmp_path: Path,
) -> None:
    n = 10_000
    plan = FaultPlan(
        seed="issue-20",
        routes={
            SENDALL: RouteFaults(reset_after=0.2),
            SEND: RouteFaults(reset_after=0.2),
        },
    )
    store = EchoStore()
    bot = BotApp(include_echoes=True, webhook_token="hook")
    bot.on_webhook(store.on_webhook)
    async with (
        serve_bot(bot) as served,
        FakeKommunicate(faults=plan, log_limit=None) as fake,
        fake.session(
            timeout=Timeouts(connect=2, attempt=10, total=60),
            retries=Retries(backoff_base=0.01),
        ) as km,
    ):
        fake.webhook_url, fake.webhook_token = served.webhook_url, "hook"
        groups = [
            fake.state.create_group(
                name=f"g{i}",
                members=[f"u{i}"],
                client_group_id=f"c{i}",
                metadata={},
                admin_id="bot",
            )
            for i in range(n)
        ]
        report = await km.messages.send_many(
            (OutgoingMessage(f"c{i}", "Black Friday: 20% off") for i in range(n)),
            concurrency=32,
            reconcile=True,
            echoes=store,
            checkpoint=tmp_path / "campaign.checkpoint.jsonl",
        )
        await fake.echoes.drain()
        per_group = Counter(len(fake.messages(g.id)) for g in groups)
        requests = len(fake.requests_to(SENDALL)) + len(fake.requests_to(SEND))
    assert plan.injected[Fault.RESET_AFTER] > 0
    assert (report.total, report.delivered) == (n, n), [
        (p.status, str(p.error)[:200], p.broadcast_key) for p in report.problems[:5]
    ]
    assert (report.ambiguous, report.failed) == (0, 0)
    assert per_group == Counter({1: n})  # none lost, none twice
    assert requests / n <= 0.03  # 50 a request, plus the retries of the resets
