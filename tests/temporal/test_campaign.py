"""A campaign on a real Temporal dev server with an in-process worker: attach,
progress, pause, set_rate, cancel, continue_as_new, and the CLI."""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import pytest

from kommunicate_async import OutgoingMessage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from redis.asyncio import Redis
    from temporalio.client import Client
    from temporalio.worker import Worker

    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate

pytestmark = pytest.mark.temporal

SEND = "POST /rest/ws/message/v2/send"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def kommunicate_fake_options() -> dict[str, Any]:
    """`fake` (the root's) keeps every request in its log."""
    return {"log_limit": None}


async def write_items(
    km: KommunicateSession, path: Path, count: int, conversations: int = 5
) -> list[int]:
    ids = [(await km.conversations.create([f"u{i}"])).id for i in range(conversations)]
    path.write_bytes(
        b"".join(
            msgspec.json.encode(OutgoingMessage(ids[i % conversations], f"m{i}"))
            + b"\n"
            for i in range(count)
        )
    )
    return ids


async def runs_in_chain(client: Client, workflow_id: str) -> int:
    """How many runs the workflow went through, by following each run's
    continue-as-new link in its history (the visibility list lags on a busy
    dev server, so it can miss a closed run)."""
    first = await client.get_workflow_handle(workflow_id).describe()
    run_id = first.raw_description.workflow_execution_info.first_run_id or first.run_id
    count = 0
    while run_id:
        count += 1
        history = await client.get_workflow_handle(
            workflow_id, run_id=run_id
        ).fetch_history()
        run_id = next(
            (
                e.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                for e in history.events
                if e.HasField("workflow_execution_continued_as_new_event_attributes")
            ),
            "",
        )
    return count


def stored_keys(fake: FakeKommunicate, ids: list[int]) -> Counter[str]:
    return Counter(m.metadata["kmDedupeKey"] for c in ids for m in fake.messages(c))


@pytest.fixture
async def worker(
    temporal_client: Client, session: KommunicateSession, redis: Redis, task_queue: str
) -> AsyncIterator[Worker]:
    from kommunicate_async.scaleout.temporal import campaign_worker

    running = campaign_worker(temporal_client, session, redis, task_queue=task_queue)
    async with running:
        yield running


async def test_a_campaign_runs_attaches_pauses_and_reports(
    temporal_client: Client,
    worker: Worker,
    fake: FakeKommunicate,
    session: KommunicateSession,
    campaign: str,
    task_queue: str,
    tmp_path: Path,
) -> None:
    from kommunicate_async.scaleout.temporal import chunk_key, start_campaign

    ids = await write_items(session, tmp_path / "items.jsonl", 1200)
    source = str(tmp_path / "items.jsonl")
    options: dict[str, Any] = {"rate": 400, "chunk_size": 100, "task_queue": task_queue}
    handle = await start_campaign(temporal_client, campaign, source, **options)
    again = await start_campaign(temporal_client, campaign, source, **options)
    assert again.handle.result_run_id == handle.handle.result_run_id  # attached
    while (await handle.progress()).delivered < 200:  # noqa: ASYNC110
        await anyio.sleep(0.05)
    await handle.pause()
    paused_at = time.time()
    held = await handle.progress()
    assert held.state == "paused" and held.control_applied
    await anyio.sleep(1.0)
    resumed_at = time.time()
    await handle.set_rate(600)
    await handle.resume()
    report = await handle.result()
    final = await handle.progress()
    assert not [r for r in fake.requests_to(SEND) if paused_at < r.at < resumed_at]
    assert (report.delivered, report.failed, report.ambiguous) == (1200, 0, 0)
    assert report.ok and report.not_sent == 0 and not report.cancelled
    assert (final.state, final.remaining, final.rate_limit) == ("done", 0, 600.0)
    keys = stored_keys(fake, ids)
    assert len(keys) == 1200 and set(keys.values()) == {1}
    first = OutgoingMessage(ids[0], "m0")  # the wire: the library's own send body
    key = chunk_key(first, 0, 1)
    (wire,) = [r for r in fake.requests_to(SEND) if key.encode() in r.body]
    assert wire.headers["Api-Key"] == fake.api_key
    assert wire.body == (
        b'{"groupId":%d,"message":"m0","fromUserName":"bot",'
        b'"metadata":{"kmDedupeKey":"%s"}}' % (ids[0], key.encode())
    )


async def test_cancel_stops_sends_within_a_second_and_reports_the_rest(
    temporal_client: Client,
    worker: Worker,
    fake: FakeKommunicate,
    session: KommunicateSession,
    campaign: str,
    task_queue: str,
    tmp_path: Path,
) -> None:
    from kommunicate_async.scaleout.temporal import start_campaign

    ids = await write_items(session, tmp_path / "items.jsonl", 3000)
    handle = await start_campaign(
        temporal_client,
        campaign,
        str(tmp_path / "items.jsonl"),
        rate=300,
        chunk_size=250,
        task_queue=task_queue,
    )
    while (await handle.progress()).delivered < 300:  # noqa: ASYNC110
        await anyio.sleep(0.05)
    asked = time.time()
    await handle.handle.signal("cancel")  # the bare signal, as any client sends it
    report = await handle.result()
    sends = fake.requests_to(SEND)
    last = max(r.at for r in sends)
    assert last < asked + 1.0, f"a send {last - asked:.2f}s after the cancel"
    delivered = len(stored_keys(fake, ids))
    assert report.cancelled
    assert report.delivered == delivered == len(sends)
    assert report.not_sent == 3000 - delivered > 0
    assert (report.failed, report.ambiguous) == (0, 0)
    progress = await handle.progress()
    assert (progress.state, progress.remaining) == ("cancelled", 0)
    assert progress.not_sent == report.not_sent


async def test_a_long_campaign_continues_as_new_and_counts_once(
    temporal_client: Client,
    worker: Worker,
    fake: FakeKommunicate,
    session: KommunicateSession,
    campaign: str,
    task_queue: str,
    tmp_path: Path,
) -> None:
    from kommunicate_async.scaleout.temporal import start_campaign

    ids = await write_items(session, tmp_path / "items.jsonl", 400)
    handle = await start_campaign(
        temporal_client,
        campaign,
        str(tmp_path / "items.jsonl"),
        rate=1000,
        chunk_size=5,  # 80 chunks: at 3+ events each, 60 events hold at most ~24
        parallel=4,
        task_queue=task_queue,
        max_history=60,
    )
    report = await handle.result()
    assert await runs_in_chain(temporal_client, campaign) >= 3  # 9 on this machine
    assert (report.total, report.delivered, report.not_sent) == (400, 400, 0)
    keys = stored_keys(fake, ids)
    assert len(keys) == 400 and set(keys.values()) == {1}


async def test_the_cli_starts_steers_and_reports(
    temporal_client: Client,
    temporal_address: str,
    worker: Worker,
    fake: FakeKommunicate,
    session: KommunicateSession,
    campaign: str,
    task_queue: str,
    tmp_path: Path,
) -> None:
    await write_items(session, tmp_path / "items.jsonl", 600)

    def run_main(args: list[str]) -> tuple[int, str, str]:
        from kommunicate_async._cli import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        return code, out.getvalue(), err.getvalue()

    async def cli(*args: str) -> tuple[int, Any]:  # in a thread: coverage sees it
        argv = ["campaign", *args, "--json", "--address", temporal_address]
        argv += ["--task-queue", task_queue]
        code, out, err = await anyio.to_thread.run_sync(run_main, argv)
        return code, msgspec.json.decode(out or err)

    code, started = await cli(
        "start", str(tmp_path / "items.jsonl"), "--campaign", campaign, "--rate", "200"
    )
    assert code == 0 and started["campaign"] == campaign
    code, paused = await cli("pause", campaign)
    assert code == 0 and paused["progress"]["state"] == "paused"
    code, status = await cli("status", campaign)
    assert status["progress"]["total"] == 600
    code, resumed = await cli("resume", campaign)
    assert resumed["progress"]["state"] == "running"
    code, done = await cli("result", campaign)
    assert code == 0 and done["report"]["delivered"] == 600
    code, missing = await cli("status", "no-such-campaign")
    assert code == 2 and missing["error"]["type"] == "InvalidRequestError"
