"""The campaign's parts without a Temporal server (the default run): the
manifest, the keys, the switch, and the chunk activity in temporalio's
`ActivityEnvironment` against a FakeKommunicate and a real redis-server."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, cast

import anyio
import msgspec
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from kommunicate_async import InvalidRequestError, OutgoingMessage
from kommunicate_async.scaleout import RateLimiter
from kommunicate_async.scaleout.redis import RedisBatchStore
from kommunicate_async.scaleout.temporal import (
    CampaignActivities,
    ChunkRange,
    ChunkTask,
    Control,
    ControlledRateLimit,
    chunk_key,
    plan_jsonl,
    read_jsonl_chunk,
)
from kommunicate_async.scaleout.temporal._activities import keyed_items
from kommunicate_async.scaleout.temporal._control import read_control, write_control
from kommunicate_async.scaleout.temporal._types import ChunkBeat

if TYPE_CHECKING:
    from pathlib import Path

    from redis.asyncio import Redis
    from temporalio.client import Client

    from kommunicate_async import KommunicateSession
    from kommunicate_async.scaleout.temporal import ChunkReport
    from kommunicate_async.testing import FakeKommunicate

SEND = "POST /rest/ws/message/v2/send"


def write_lines(path: Path, items: list[OutgoingMessage], blank_every: int = 0) -> None:
    lines = []
    for i, item in enumerate(items):
        lines.append(msgspec.json.encode(item) + b"\n")
        if blank_every and i % blank_every == 0:
            lines.append(b"\n")
    path.write_bytes(b"".join(lines))


# -- the manifest and the keys -----------------------------------------------------


def test_plan_splits_by_line_starts_and_chunks_read_only_their_bytes(
    tmp_path: Path,
) -> None:
    items = [OutgoingMessage(i % 3 + 1, f"m{i}") for i in range(25)]
    path = tmp_path / "items.jsonl"
    write_lines(path, items, blank_every=7)  # blank lines are no items
    chunks = plan_jsonl(str(path), chunk_size=10)
    assert [(c.index, c.count) for c in chunks] == [(0, 10), (1, 10), (2, 5)]
    raw = path.read_bytes()
    assert chunks[0].start == 0 and chunks[-1].end == len(raw)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.end == after.start and raw[after.start - 1 : after.start] == b"\n"
    read = [item for c in chunks for item in read_jsonl_chunk(str(path), c)]
    assert read == items
    assert plan_jsonl(path.as_uri(), chunk_size=10) == chunks  # a file: URI too


def test_plan_refuses_bad_input_before_anything_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"conversation": 1, "text": "ok"}\n{"conversation": 1}\n')
    with pytest.raises(InvalidRequestError, match=r"bad.jsonl:2: .*text"):
        plan_jsonl(str(path))
    with pytest.raises(InvalidRequestError, match="cannot read"):
        plan_jsonl(str(tmp_path / "missing.jsonl"))
    with pytest.raises(InvalidRequestError, match="chunk_size"):
        plan_jsonl(str(path), chunk_size=0)
    with pytest.raises(InvalidRequestError, match="unsupported campaign source"):
        plan_jsonl("s3://bucket/items.jsonl")


def test_keys_come_from_the_content_the_chunk_and_the_repeat() -> None:
    item = OutgoingMessage(7, "hi", sender="bot", metadata={"b": 1, "a": [2]})
    digest = hashlib.blake2b(
        b'7\x1fbot\x1fhi\x1f{"a":[2],"b":1}', digest_size=12
    ).hexdigest()
    assert chunk_key(item, 3, 1) == f"{digest}-c3"
    assert chunk_key(item, 3, 2) == f"{digest}-c3-2"
    same = OutgoingMessage(7, "hi", sender="bot", metadata={"a": [2], "b": 1})
    assert chunk_key(same, 3, 1) == chunk_key(item, 3, 1)  # order of keys: no matter
    assert chunk_key(item, 4, 1) != chunk_key(item, 3, 1)
    items = [OutgoingMessage(1, "x"), OutgoingMessage(1, "x"), OutgoingMessage(1, "y")]
    keys = [i.dedupe_key for i in keyed_items(items, 0, 0)]
    assert keys == [
        chunk_key(items[0], 0, 1),
        chunk_key(items[0], 0, 2),
        chunk_key(items[2], 0, 1),
    ]
    assert [i.dedupe_key for i in keyed_items(items, 0, 1)] == keys[1:]  # resumed
    mine = OutgoingMessage(1, "x", dedupe_key="mine")
    assert [i.dedupe_key for i in keyed_items([mine], 0, 0)] == ["mine"]


def test_a_beat_is_read_back_from_temporals_json() -> None:
    assert ChunkBeat.from_details(None, 0) == ChunkBeat()
    beat = ChunkBeat(next_index=5, delivered=4, failed=1, attempts=6)
    assert ChunkBeat.from_details(dataclasses.asdict(beat), 0) == beat


# -- the switch ----------------------------------------------------------------------


async def test_the_switch_pauses_changes_the_rate_and_cancels(
    redis: Redis, campaign: str
) -> None:
    pacer = ControlledRateLimit(redis, campaign, rate=1000, max_age=0)
    assert isinstance(pacer, RateLimiter)
    assert await read_control(redis, campaign) == Control(campaign)
    await write_control(redis, Control(campaign, paused=True, rate=1000))
    waiter = asyncio.ensure_future(pacer.wait())
    await anyio.sleep(0.3)
    assert not waiter.done() and pacer.granted == 0  # held while paused
    await write_control(redis, Control(campaign, rate=50))
    with anyio.fail_after(2):
        await waiter
    started = time.monotonic()
    for _ in range(10):
        await pacer.wait()
    assert time.monotonic() - started >= 9 / 50 * 0.9  # the new rate: 50 a second
    assert pacer.granted == 11
    await write_control(redis, Control(campaign, cancelled=True, rate=50))
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.3):
            await pacer.wait()  # cancelled: never lets another send through


# -- the chunk activity --------------------------------------------------------------


@pytest.fixture
def kommunicate_fake_options() -> dict[str, Any]:
    """`fake` (the root's) keeps every request in its log."""
    return {"log_limit": None}


async def chunk_task(
    km: KommunicateSession, tmp_path: Path, campaign: str, count: int, rate: float
) -> tuple[ChunkTask, list[int]]:
    ids = [(await km.conversations.create([f"u{i}"])).id for i in range(3)]
    path = tmp_path / "items.jsonl"
    write_lines(path, [OutgoingMessage(ids[i % 3], f"m{i}") for i in range(count)])
    (chunk,) = plan_jsonl(str(path), chunk_size=count)
    return ChunkTask(campaign, str(path), chunk, rate, concurrency=8), ids


def stored(fake: FakeKommunicate, ids: list[int]) -> Counter[str]:
    return Counter(m.metadata["kmDedupeKey"] for c in ids for m in fake.messages(c))


def environment(
    beats: list[Any], *details: Any, attempt: int = 1
) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, heartbeat_details=list(details), attempt=attempt
    )
    env.on_heartbeat = lambda *args: beats.append(args[0])
    return env


async def test_a_chunk_is_sent_once_with_its_heartbeats(
    fake: FakeKommunicate,
    session: KommunicateSession,
    redis: Redis,
    campaign: str,
    tmp_path: Path,
) -> None:
    task, ids = await chunk_task(session, tmp_path, campaign, 120, rate=600)
    activities = CampaignActivities(session, redis, beat_every=0.05)
    beats: list[ChunkBeat] = []
    report: ChunkReport = await environment(beats).run(activities.send_chunk, task)
    assert (report.delivered, report.failed, report.ambiguous) == (120, 0, 0)
    assert (report.not_sent, report.attempts, report.finished) == (0, 120, True)
    keys = stored(fake, ids)
    assert len(keys) == 120 and set(keys.values()) == {1}
    marks = [b.next_index for b in beats]
    assert marks == sorted(marks) and len(beats) >= 2
    states = await RedisBatchStore(redis, f"{campaign}:0").outcomes()
    assert Counter(states.values()) == {"delivered": 120}


async def test_a_retried_chunk_resumes_from_its_heartbeat_and_sends_nothing_twice(
    fake: FakeKommunicate,
    session: KommunicateSession,
    redis: Redis,
    campaign: str,
    tmp_path: Path,
) -> None:
    task, ids = await chunk_task(session, tmp_path, campaign, 300, rate=400)
    activities = CampaignActivities(session, redis, beat_every=0.05)
    beats: list[ChunkBeat] = []
    first = environment(beats)
    running = asyncio.ensure_future(first.run(activities.send_chunk, task))
    while len(stored(fake, ids)) < 120:  # noqa: ASYNC110
        await anyio.sleep(0.01)
    first.cancel()  # the worker is gone mid-chunk (sends in flight)
    with pytest.raises(asyncio.CancelledError):
        await running
    last = beats[-1]
    assert 0 < last.next_index < 300
    retry = environment([], dataclasses.asdict(last), attempt=2)
    report: ChunkReport = await retry.run(activities.send_chunk, task)
    keys = stored(fake, ids)
    assert len(keys) == 300 and set(keys.values()) == {1}  # 0 lost, 0 duplicates
    assert (report.delivered, report.failed, report.ambiguous) == (300, 0, 0)
    assert report.attempt == 2 and report.skipped >= 0
    assert len(fake.requests_to(SEND)) == 300
    states = await RedisBatchStore(redis, f"{campaign}:0").outcomes()
    assert Counter(states.values()) == {"delivered": 300}


async def test_pause_holds_a_chunk_and_cancel_reports_the_rest_not_sent(
    fake: FakeKommunicate,
    session: KommunicateSession,
    redis: Redis,
    campaign: str,
    tmp_path: Path,
) -> None:
    task, ids = await chunk_task(session, tmp_path, campaign, 400, rate=200)
    activities = CampaignActivities(session, redis, beat_every=0.05)
    running = asyncio.ensure_future(environment([]).run(activities.send_chunk, task))
    while len(stored(fake, ids)) < 40:  # noqa: ASYNC110
        await anyio.sleep(0.01)
    await write_control(redis, Control(campaign, paused=True, rate=200))
    await anyio.sleep(0.1)  # sends let through before the switch end
    held = len(fake.requests_to(SEND))
    await anyio.sleep(0.4)
    assert len(fake.requests_to(SEND)) == held
    await write_control(redis, Control(campaign, rate=200))
    while len(stored(fake, ids)) < held + 40:  # noqa: ASYNC110
        await anyio.sleep(0.01)
    await write_control(redis, Control(campaign, cancelled=True, rate=200))
    asked = time.time()
    with anyio.fail_after(10):
        report: ChunkReport = await running
    sends = fake.requests_to(SEND)
    assert max(r.at for r in sends) < asked + 0.5
    delivered = len(stored(fake, ids))
    assert report.cancelled and report.delivered == delivered == len(sends)
    assert report.not_sent == 400 - delivered > 0 and report.failed == 0


async def test_a_fatal_error_ends_the_chunk_with_it_and_nothing_lost(
    fake: FakeKommunicate, redis: Redis, campaign: str, tmp_path: Path
) -> None:
    async with fake.session() as good:
        task, _ = await chunk_task(good, tmp_path, campaign, 30, rate=1000)
    async with fake.session(api_key="wrong-key") as bad:
        activities = CampaignActivities(bad, redis, beat_every=0.05)
        report: ChunkReport = await environment([]).run(activities.send_chunk, task)
    assert report.error is not None and report.error.startswith("AuthenticationError")
    assert report.done + report.not_sent == 30 and report.delivered == 0


async def test_an_unreadable_source_is_not_retried(
    session: KommunicateSession, redis: Redis, campaign: str, tmp_path: Path
) -> None:
    task = ChunkTask(
        campaign, "s3://elsewhere/items.jsonl", ChunkRange(0, 0, 10, 1), 10
    )
    activities = CampaignActivities(session, redis)
    with pytest.raises(ApplicationError) as caught:
        await environment([]).run(activities.send_chunk, task)
    assert caught.value.non_retryable
    gone = ChunkTask(
        campaign, str(tmp_path / "gone.jsonl"), ChunkRange(0, 0, 10, 1), 10
    )
    with pytest.raises(ApplicationError, match="cannot read") as caught:
        await environment([]).run(activities.send_chunk, gone)
    assert not caught.value.non_retryable  # another worker may have the file


# -- the CLI, without a server -------------------------------------------------------


def test_the_cli_says_when_temporal_cannot_be_reached(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kommunicate_async._cli import main
    from tests.scaleout.conftest import free_port

    code = main(["campaign", "status", "x", "--address", f"127.0.0.1:{free_port()}"])
    assert code == 4  # a CoordinationError: the network's exit code
    assert (
        "CoordinationError: cannot reach Temporal at 127.0.0.1:"
        in capsys.readouterr().err
    )


def test_the_cli_prints_progress_and_reports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kommunicate_async._cli._campaign import _progress, _report
    from kommunicate_async._cli._output import Printer
    from kommunicate_async.scaleout.temporal import (
        CampaignProblem,
        CampaignProgress,
        CampaignReport,
    )

    progress = CampaignProgress(
        "sale", "running", 100, 40, 1, 1, 0, 58, 20.0, 50.0, 2.9, 1, 4, 3, True, 2.1
    )
    assert not progress.paused and progress.done == 42
    _progress(progress, Printer(json=False))
    assert capsys.readouterr().out == (
        "sale: running | 42/100 delivered 40 failed 1 ambiguous 1 not sent 0 | "
        "remaining 58 | 20/s (limit 50/s) | ETA 0:00:02\n"
    )
    problem = CampaignProblem(2, 7, "k", "failed", "InvalidRequestError: bad")
    report = CampaignReport("sale", 3, 2, 1, 0, 0, 5, 3, 1.5, True, None, [problem])
    assert _report(report, Printer(json=True)) == 5
    printed = msgspec.json.decode(capsys.readouterr().out)["report"]
    assert (
        printed["not_sent"],
        printed["cancelled"],
        printed["problems"][0]["index"],
    ) == (
        5,
        True,
        7,
    )
    assert _report(CampaignReport("ok", 1, 1), Printer(json=False)) == 0
    assert "ok: 1 items in 0.0s: 1 delivered" in capsys.readouterr().out


async def test_bad_input_is_refused_before_temporal_is_asked(tmp_path: Path) -> None:
    from kommunicate_async.scaleout.temporal import start_campaign

    unused = cast("Client", object())  # never reached: the checks come first
    with pytest.raises(InvalidRequestError, match="rate must be"):
        await start_campaign(unused, "sale", "items.jsonl", rate=0)
    with pytest.raises(InvalidRequestError, match="campaign must be"):
        await start_campaign(unused, "", "items.jsonl", rate=10)
    with pytest.raises(InvalidRequestError, match="cannot read"):
        await start_campaign(unused, "sale", str(tmp_path / "none.jsonl"), rate=10)


async def test_the_switch_says_when_redis_is_away() -> None:
    from redis.asyncio import Redis

    from kommunicate_async import CoordinationError
    from tests.scaleout.conftest import free_port

    away = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(
            CoordinationError, match="the campaign switch: Redis failed"
        ):
            await write_control(away, Control("sale"))
        with pytest.raises(
            CoordinationError, match="the campaign switch: Redis failed"
        ):
            await read_control(away, "sale")
    finally:
        await away.aclose()


def test_odd_metadata_still_keys_and_a_short_file_ends_its_chunk(
    tmp_path: Path,
) -> None:
    odd = OutgoingMessage(1, "x", metadata={"when": object()})
    assert chunk_key(odd, 0, 1) == chunk_key(odd, 0, 1)  # its repr, never a crash
    path = tmp_path / "items.jsonl"
    write_lines(path, [OutgoingMessage(1, "a"), OutgoingMessage(1, "b")])
    (chunk,) = plan_jsonl(str(path))
    grown = dataclasses.replace(chunk, end=chunk.end + 100)  # the file shrank since
    assert [i.text for i in read_jsonl_chunk(str(path), grown)] == ["a", "b"]
