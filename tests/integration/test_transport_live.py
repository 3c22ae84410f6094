"""What aioresponses cannot test: the real pool, timeouts, cancellation, leaks, faults."""

from __future__ import annotations

import gc
import time
import warnings

import anyio
import anyio.lowlevel
import pytest

from kommunicate_async import (
    APIConnectionError,
    APITimeoutError,
    KommunicateSession,
    ResponseValidationError,
    Retries,
    ServerError,
    Timeouts,
)
from kommunicate_async.testing import FakeKommunicate, Fault, FaultPlan, RouteFaults

SEND = "POST /rest/ws/message/v2/send"
INFO = "GET /rest/ws/group/info"


async def test_aclose_leaves_no_connection_and_no_warning(
    fake: FakeKommunicate,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unclosed aiohttp session would warn here
        async with fake.session() as km:
            chat = await km.conversations.create(["u"])
            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(km.messages.send, chat, f"m{i}")
            assert fake.open_connections > 0
        del km
        gc.collect()
    with anyio.fail_after(5):
        # The server notices the closes asynchronously; nothing to wait on but a poll.
        while fake.open_connections:  # noqa: ASYNC110
            await anyio.sleep(0.01)


async def test_connections_are_pooled_and_bounded(fake: FakeKommunicate) -> None:
    async with fake.session(max_connections=3) as km:
        chat = await km.conversations.create(["u"])
        async with anyio.create_task_group() as tg:
            for i in range(60):
                tg.start_soon(km.messages.send, chat, f"m{i}")
    peers = {r.peer for r in fake.requests_to(SEND)}
    assert 1 <= len(peers) <= 3  # 60 sends over at most 3 kept-alive connections
    assert len(fake.messages(chat.id)) == 60


async def test_cancelling_in_flight_calls_leaves_the_session_usable(
    fake: FakeKommunicate,
) -> None:
    async with fake.session() as km:
        chat = await km.conversations.create(["u"])
        fake.faults.routes[INFO] = RouteFaults(delay=1.0, delay_seconds=30)
        with anyio.move_on_after(0.2) as scope:
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(km.conversations.get, chat.id)
        assert scope.cancelled_caught
        del fake.faults.routes[INFO]
        with anyio.fail_after(5):
            assert (await km.conversations.get(chat.id)).id == chat.id
            assert (await km.messages.send(chat, "still works")).key


async def test_an_attempt_timeout_fires_within_its_bound(fake: FakeKommunicate) -> None:
    fake.faults.routes[INFO] = RouteFaults(delay=1.0, delay_seconds=30)
    timeouts = Timeouts(connect=1, attempt=0.3, total=None)
    async with fake.session(timeout=timeouts, max_retries=0) as km:
        started = time.monotonic()
        with anyio.fail_after(10), pytest.raises(APITimeoutError):
            await km.conversations.get(1)
        assert time.monotonic() - started < 5  # 0.3 s, with room for a loaded machine


@pytest.mark.slow
async def test_the_total_timeout_bounds_retries(fake: FakeKommunicate) -> None:
    fake.faults.routes[INFO] = RouteFaults(delay=1.0, delay_seconds=30)
    timeouts = Timeouts(connect=1, attempt=0.3, total=0.8)
    async with fake.session(
        timeout=timeouts, max_retries=10, retries=Retries(backoff_base=0.01)
    ) as km:
        started = time.monotonic()
        with anyio.fail_after(10), pytest.raises(APITimeoutError):
            await km.conversations.get(1)
        assert time.monotonic() - started < 5
    assert 2 <= len(fake.requests_to(INFO)) <= 4  # retried, but only within 0.8 s


async def test_a_refused_connection_is_not_sent(fake: FakeKommunicate) -> None:
    url = fake.url
    await fake.stop()
    async with KommunicateSession("k", base_url=url, max_retries=0) as km:
        with pytest.raises(APIConnectionError) as info:
            await km.messages.send(1, "x")
    assert info.value.sent is False and info.value.ambiguous is False


@pytest.mark.slow
async def test_one_refresh_for_fifty_callers_with_an_expired_token() -> None:
    async with (
        FakeKommunicate(token_valid_minutes=0.01) as fake,
        fake.session() as km,
    ):  # 0.6 s
        chat = await km.conversations.create(["user-1"])
        await km.users.login("user-1")
        await anyio.sleep(0.7)  # the token has now expired

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(
                    lambda: km.conversations.get(chat.id, on_behalf_of="user-1")
                )
        assert fake.refreshes == 1
        infos = fake.requests_to(INFO)
        assert len(infos) == 50 and all("X-Authorization" in r.headers for r in infos)


@pytest.mark.slow
async def test_a_server_side_401_refreshes_once_and_replays() -> None:
    async with FakeKommunicate(token_valid_minutes=0.01) as fake, fake.session() as km:
        chat = await km.conversations.create(["user-1"])
        await km.users.login("user-1")
        cred = km._client.tokens.get("user-1")  # pyright: ignore[reportPrivateUsage]
        assert cred is not None
        cred.expires_at = (
            None  # as if the token carried no expiry: only the server knows
        )
        await anyio.sleep(0.7)
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(lambda: km.unread.mark_read(chat.id, "user-1"))
        assert fake.refreshes == 1
        statuses = list(fake.requests_to("GET /rest/ws/message/read/conversation"))
        assert len(statuses) == 40  # each call: one 401, one replay


async def test_faults_on_an_idempotent_call_are_retried(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["u"])
    fake.faults.script(INFO, Fault.RESET_BEFORE, Fault.ERROR_503)
    assert (await session.conversations.get(chat.id)).id == chat.id
    assert len(fake.requests_to(INFO)) == 3


async def test_faults_on_a_send_are_reported_ambiguous(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["u"])
    fake.faults.script(SEND, Fault.RESET_AFTER)
    with pytest.raises(APIConnectionError) as reset:
        await session.messages.send(chat, "one")
    assert reset.value.ambiguous
    fake.faults.script(SEND, Fault.TRUNCATE)
    with pytest.raises(ResponseValidationError) as truncated:
        await session.messages.send(chat, "two")
    assert truncated.value.ambiguous
    fake.faults.script(SEND, Fault.ERROR_500)
    with pytest.raises(ServerError) as failed:
        await session.messages.send(chat, "three")
    assert failed.value.ambiguous
    # "one" and "two" were processed although their sends failed; "three" was not.
    assert [m.text for m in fake.messages(chat.id)] == ["one", "two"]
    assert len(fake.requests_to(SEND)) == 3  # and none was re-sent blindly


async def test_a_429_on_a_send_is_retried(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["u"])
    fake.faults.routes[SEND] = RouteFaults(retry_after=0.05)
    fake.faults.script(SEND, Fault.RATE_LIMIT)
    assert (await session.messages.send(chat, "x")).key
    assert [m.text for m in fake.messages(chat.id)] == ["x"]


def test_fault_plans_replay() -> None:
    def fates(seed: int) -> list[Fault]:
        plan = FaultPlan(
            seed=seed, routes={"*": RouteFaults(error_500=0.3, rate_limit=0.3)}
        )
        return [plan.decide(SEND, f"body-{i}".encode()) for i in range(200)]

    assert fates(1) == fates(1)
    assert fates(1) != fates(2)
    counts = {f: fates(1).count(f) for f in set(fates(1))}
    assert 30 < counts[Fault.ERROR_500] < 90 and 30 < counts[Fault.RATE_LIMIT] < 90
    plan = FaultPlan(seed=1, routes={"*": RouteFaults(error_500=0.5)})
    first = [plan.decide(SEND, b"same") for _ in range(20)]
    assert len(set(first)) == 2  # a repeated request draws afresh each time
    with pytest.raises(ValueError, match="sum"):
        RouteFaults(error_500=0.7, error_503=0.7)


async def test_a_body_over_one_mebibyte_is_sent_without_a_resource_warning(
    fake: FakeKommunicate,
) -> None:
    """aiohttp warns on raw bytes past 1 MiB; the warning must not escape the call."""
    text = "x" * (1536 * 1024)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        async with fake.session() as km:
            chat = await km.conversations.create(["u"])
            sent = await km.messages.send(chat, text)
    (request,) = fake.requests_to(SEND)
    assert len(request.body) > 1 << 20
    assert request.headers["Content-Length"] == str(len(request.body))
    assert request.headers["Content-Type"].startswith("application/json")
    assert sent.key
    assert [m.text for m in fake.messages(chat.id)] == [text]


@pytest.mark.slow
async def test_waiting_for_a_pooled_connection_is_not_an_attempt(
    fake: FakeKommunicate,
) -> None:
    """One connection, held by a slow call: a send that times out while queued for
    it was never sent, so it is `sent=False` and not ambiguous."""
    fake.faults.routes[INFO] = RouteFaults(delay=1.0, delay_seconds=1.5)
    timeouts = Timeouts(connect=1, attempt=0.3, total=None)
    async with fake.session(max_connections=1, max_retries=0) as km:
        chat = await km.conversations.create(["u"])
        slow = km.with_options(timeout=Timeouts(connect=1, attempt=5, total=None))
        quick = km.with_options(timeout=timeouts)
        errors: list[APITimeoutError] = []

        async def queued_send() -> None:
            await anyio.sleep(0.1)  # the slow call holds the one connection
            try:
                await quick.messages.send(chat, "queued")
            except APITimeoutError as exc:
                errors.append(exc)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(slow.conversations.get, chat.id)
                tg.start_soon(queued_send)
    (error,) = errors
    assert error.sent is False and error.ambiguous is False
    assert "no free connection" in str(error)
    assert fake.requests_to(SEND) == []


async def test_queued_sends_are_served_first_come_first_served(
    fake: FakeKommunicate,
) -> None:
    """Above max_connections every caller gets its turn in arrival order."""
    async with fake.session(max_connections=2) as km:
        chat = await km.conversations.create(["u"])
        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(km.messages.send, chat, f"m{i:02d}")
                await anyio.lowlevel.checkpoint()  # arrival order = i
    texts = [m.text for m in fake.messages(chat.id)]
    assert sorted(texts) == [f"m{i:02d}" for i in range(40)]
    # first come, first served: nobody overtakes by more than the pool's width
    assert all(abs(texts.index(f"m{i:02d}") - i) <= 2 for i in range(40))


async def test_a_cancelled_waiter_passes_its_slot_on() -> None:
    """A queued caller cancelled while (or just after) being handed a slot must
    not lose the slot: the next waiter gets it, and the count stays whole."""
    from kommunicate_async._pipeline.transport import Slots

    slots = Slots(1)
    slots.free -= 1  # one attempt in flight
    got: list[str] = []

    async def wait(name: str) -> None:
        await slots.wait()
        got.append(name)
        slots.release()

    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as early:
            early.cancel()
            await slots.wait()  # cancelled while queued: leaves the queue
        assert not slots.waiters
        tg.start_soon(wait, "a")
        tg.start_soon(wait, "b")
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
        first = slots.waiters[0]
        slots.release()  # handed to "a"...
        assert first.done()
    assert got == ["a", "b"]
    assert slots.free == 1 and not slots.waiters


async def test_a_slot_handed_to_a_cancelled_waiter_goes_to_the_next() -> None:
    import asyncio

    from kommunicate_async._pipeline.transport import Slots

    slots = Slots(1)
    slots.free = 0
    first = asyncio.ensure_future(slots.wait())
    second = asyncio.ensure_future(slots.wait())
    await anyio.lowlevel.checkpoint()
    slots.release()  # handed to `first`, which is cancelled before it resumes
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await second  # got the slot `first` passed on
    assert slots.free == 0 and not slots.waiters
    slots.release()
    assert slots.free == 1
