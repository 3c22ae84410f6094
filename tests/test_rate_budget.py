"""One send budget, bots first: the in-process limiter, the rate-limit headers a
reply may carry (Kong's; UNCERTAIN whether Kommunicate sends them) and the fake's
Kong-style limit. The Redis side: tests/scaleout/test_budget_redis.py."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from multidict import CIMultiDict

import kommunicate_async._pipeline.headroom as headroom_module
from kommunicate_async import OutgoingMessage, RateLimitError
from kommunicate_async.bots import BotRequest, Reply
from kommunicate_async.bots._deliver import Deliverer
from kommunicate_async.scaleout import LocalRateLimit, RateLimiter
from kommunicate_async.testing import FakeKommunicate, KongLimit

if TYPE_CHECKING:
    from collections.abc import Callable

SEND = "POST /rest/ws/message/v2/send"
HEADROOM = "kommunicate_async._pipeline.headroom"


class Clock:
    """A frozen monotonic clock for the limiter; its sleeps recorded, not slept."""

    def __init__(self) -> None:
        self.now = [100.0]
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now[0]

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now[0] += seconds

    def limit(self, rate: float, **options: Any) -> LocalRateLimit:
        return LocalRateLimit(rate, clock=self.time, sleep=self.sleep, **options)


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_bots_never_queue_behind_the_campaign(
    clock: Clock,
) -> None:
    slept = clock.slept
    campaign = clock.limit(10, lead=None)  # one send every 0.1 s
    bots = campaign.for_bots()
    assert isinstance(bots, RateLimiter)
    assert bots.priority == "bots"
    for _ in range(3):  # the campaign's sends claim 100.0, 100.1, 100.2 ...
        await campaign.wait()
    assert slept == [0.1, 0.1]  # (each sleep moves the clock)
    await bots.wait()  # ... yet a bot's reply goes at once
    assert slept == [0.1, 0.1]
    await campaign.wait()  # and the campaign yields the slot the bot used:
    assert slept[-1] == pytest.approx(0.2)  # 100.3 would have been its turn
    assert repr(bots) == "LocalRateLimit(rate=10, bots)"


async def test_bots_alone_keep_to_the_rate_and_a_pause_holds_everyone(
    clock: Clock,
) -> None:
    now, slept = clock.now, clock.slept
    campaign = clock.limit(10)
    bots = campaign.for_bots()
    await bots.wait()
    await bots.wait()
    assert slept == [0.1]  # bots together are held to the budget too
    await campaign.pause(2.0)
    await bots.wait()
    assert now[0] == pytest.approx(102.1)  # after the pause: nobody goes before
    await campaign.wait()
    assert now[0] == pytest.approx(102.2)  # behind the bot
    await bots.pause(1.0)
    await campaign.wait()
    assert now[0] == pytest.approx(103.2)  # a campaign waits a pause out too


async def test_a_campaign_reserves_no_further_than_lead_ahead(
    clock: Clock,
) -> None:
    slept = clock.slept
    campaign = clock.limit(10, lead=0.15)
    budget = campaign._budget  # pyright: ignore[reportPrivateUsage]
    budget.tat = 101.0  # the next slot is a second away: too far to claim yet
    await campaign.wait()
    assert slept == [pytest.approx(0.85), pytest.approx(0.15)]
    assert budget.tat == pytest.approx(101.1)


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="rate"):
        LocalRateLimit(float("inf"))
    with pytest.raises(ValueError, match="burst"):
        LocalRateLimit(5, burst=0)
    with pytest.raises(ValueError, match="priority"):
        LocalRateLimit(5, priority="vip")  # type: ignore[arg-type]


# -- the headers ------------------------------------------------------------------


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> Callable[[float, float], None]:
    def set_clocks(wall_time: float, monotonic: float) -> None:
        monkeypatch.setattr(f"{HEADROOM}.time.time", lambda: wall_time)
        monkeypatch.setattr(f"{HEADROOM}.time.monotonic", lambda: monotonic)

    return set_clocks


@pytest.mark.parametrize(
    ("headers", "remaining", "limit", "resets"),
    [
        # Kong with both sets: the per-second window is the binding one, and it
        # ends at the next clock second, not a whole "RateLimit-Reset: 1" later.
        (
            {
                "RateLimit-Limit": "100",
                "RateLimit-Remaining": "7",
                "RateLimit-Reset": "1",
                "X-RateLimit-Limit-Second": "100",
                "X-RateLimit-Remaining-Second": "7",
            },
            7,
            100,
            0.25,
        ),
        ({"RateLimit-Remaining": "3", "RateLimit-Reset": "20"}, 3, None, 20.0),
        ({"RateLimit-Remaining": "3, 100;w=1"}, 3, None, 1.0),  # IETF draft list
        ({"x-ratelimit-remaining-minute": "9"}, 9, None, 19.25),
        (
            {"X-RateLimit-Remaining-Second": "0", "X-RateLimit-Limit-Second": "5"},
            0,
            5,
            0.25,
        ),
    ],
)
def test_rate_limit_headers_are_read(
    wall: Callable[[float, float], None],
    headers: dict[str, str],
    remaining: float,
    limit: float | None,
    resets: float,
) -> None:
    wall(1_000_000.75, 50.0)
    room = headroom_module.Headroom()
    room.observe(CIMultiDict(headers), 0, 50.0)
    assert (room.remaining, room.limit) == (remaining, limit)
    assert room.resets == pytest.approx(50.0 + resets)


@pytest.mark.parametrize(
    "headers",
    [
        {},  # UNCERTAIN whether Kommunicate's Kong sends any: none is normal
        {"RateLimit-Remaining": "lots"},
        {"RateLimit-Remaining": "-1"},
        {"X-RateLimit-Remaining-Second": "nan"},
        {"RateLimit-Remaining": ""},
    ],
)
def test_missing_or_unreadable_headers_change_nothing(headers: dict[str, str]) -> None:
    room = headroom_module.Headroom()
    room.observe(CIMultiDict(headers), 0, 50.0)
    assert (room.remaining, room.hot) == (None, False)
    assert room.hold(bots=False) == 0.0


def _state(room: headroom_module.Headroom) -> tuple[float | None, bool]:
    return room.remaining, room.hot


def test_campaigns_count_what_is_on_its_way_bots_trust_the_report(
    wall: Callable[[float, float], None],
) -> None:
    wall(2_000_000.5, 10.0)
    room = headroom_module.Headroom()
    room.sent = 5  # requests 0-4 went; the reply to request 2 says 12 are left
    room.observe(
        CIMultiDict({"RateLimit-Remaining": "12", "RateLimit-Limit": "100"}), 2, 10.0
    )
    assert room.hot  # under half of the window left: calls may wait
    starts = 0
    while room.hold(bots=False) == 0.0:
        room.sent += 1  # (the client numbers each request it starts)
        starts += 1
    assert starts == 10  # 12 left, less requests 3 and 4, not counted in that reply
    assert room.hold(bots=False) == pytest.approx(1.0)  # until the window ends
    assert room.hold(bots=True) == 0.0  # a bot trusts the report: 12 left
    room.observe(
        CIMultiDict({"RateLimit-Remaining": "0", "RateLimit-Limit": "100"}), 9, 10.0
    )
    assert room.hold(bots=True) == pytest.approx(1.0)  # nothing left: bots wait too
    room.observe(
        CIMultiDict({"RateLimit-Remaining": "50", "RateLimit-Limit": "100"}), 1, 10.0
    )
    assert room.remaining == 0  # a slower reply from earlier: the lowest stands
    wall(2_000_001.6, 11.1)  # the window ended: nothing known, nobody waits
    assert room.hold(bots=False) == 0.0
    assert _state(room) == (None, False)
    room.observe(
        CIMultiDict({"RateLimit-Remaining": "80", "RateLimit-Limit": "100"}), 20, 10.0
    )
    assert not room.hot  # plenty left: the fast path


async def test_a_bot_s_late_posts_take_the_budget_first() -> None:
    order: list[tuple[str, bool]] = []

    class Recording:
        async def wait(self) -> None:
            order.append(("wait", headroom_module.for_bots()))

        async def pause(self, seconds: float) -> None:  # pragma: no cover - unused
            raise AssertionError(seconds)

    async with FakeKommunicate() as fake, fake.session() as km:
        chat = await km.conversations.create(["user-1"])
        deliverer = Deliverer(km)
        deliverer.rate_limit = Recording()
        await deliverer.post(
            BotRequest(key="5-r", group_id=chat.id, bot_id="bot"),
            [Reply("one"), Reply("two")],
        )
        texts = [m.text for m in fake.messages(chat.id)]
    assert order == [("wait", True), ("wait", True)]  # one slot a post, as a bot
    assert texts == ["one", "two"]
    assert not headroom_module.for_bots()  # only inside the post


# -- the fake's Kong-style limit ------------------------------------------------


async def test_the_fake_limits_per_key_with_kong_s_headers_and_429() -> None:
    async with FakeKommunicate() as fake, fake.session(max_retries=0) as km:
        chat = await km.conversations.create(["u"])
        # Start early in a clock second, so the four sends share one window.
        while time.time() % 1 > 0.5:  # at most half a second
            time.sleep(0.01)  # noqa: ASYNC251
        fake.kong = KongLimit(per_second=3)
        raw = await km.request(
            "POST",
            "/rest/ws/message/v2/send",
            json={"groupId": chat.id, "message": "a", "fromUserName": "bot"},
            raw=True,
        )
        headers = raw.headers
        assert headers["X-RateLimit-Limit-Second"] == "3"
        assert headers["X-RateLimit-Remaining-Second"] == "2"
        assert (headers["RateLimit-Limit"], headers["RateLimit-Remaining"]) == (
            "3",
            "2",
        )
        assert headers["RateLimit-Reset"] == "1"
        room = km._client.headroom  # pyright: ignore[reportPrivateUsage]
        assert (room.remaining, room.limit, room.hot) == (2, 3, False)
        fake.kong.headers = False  # a Kong without headers: only the 429 tells
        for text in ("b", "c"):
            await km.request(
                "POST",
                "/rest/ws/message/v2/send",
                json={"groupId": chat.id, "message": text, "fromUserName": "bot"},
                raw=True,
            )
        with pytest.raises(RateLimitError, match="API rate limit exceeded") as over:
            await km.request(
                "POST",
                "/rest/ws/message/v2/send",
                json={"groupId": chat.id, "message": "d", "fromUserName": "bot"},
                raw=True,
            )
        assert over.value.retry_after == 1.0  # Retry-After: 1, to the window's end
        assert fake.requests_to(SEND)[-1].fault == "429"
        assert sum(fake.kong.limited.values()) == 1
        assert [m.text for m in fake.messages(chat.id)] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="per_second"):
        KongLimit(0)


@pytest.mark.slow
async def test_senders_slow_down_before_a_429() -> None:
    async with FakeKommunicate() as fake, fake.session() as km:
        chat = await km.conversations.create(["u"])
        fake.kong = KongLimit(per_second=20)
        items = [OutgoingMessage(chat.id, f"m{i}") for i in range(70)]
        started = time.monotonic()
        report = await km.messages.send_many(items, concurrency=8)
        took = time.monotonic() - started
    assert report.delivered == 70
    limited = [r for r in fake.requests_to(SEND) if r.fault == "429"]
    assert limited == []  # the headers said "little left": the sends waited
    assert took >= 2.0  # 70 sends at 20 a window: at least three windows


def test_a_reply_to_a_request_of_the_last_window_is_not_this_one_s(
    wall: Callable[[float, float], None],
) -> None:
    wall(3_000_000.02, 20.0)  # 20 ms into a clock second
    room = headroom_module.Headroom()
    late = CIMultiDict({"X-RateLimit-Remaining-Second": "0"})
    room.observe(late, 0, 19.95)  # sent 70 ms ago: counted in the last second
    assert room.remaining is None
    room.observe(late, 1, 19.99)  # sent 10 ms ago: this second's
    assert room.remaining == 0
