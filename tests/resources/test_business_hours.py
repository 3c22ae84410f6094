"""km.business_hours: team/business-settings (N13), is_open, the away message (N21).

The day map, the timezone rules and the "Default Team" fallback are the Web SDK's
(`mck-sidebox-1.0.js`, code only: UNCERTAIN, docs/wire.md#business-hours).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kommunicate_async import InvalidRequestError, NotFoundError
from kommunicate_async.models.business_hours import BusinessHours, parse_span
from tests.mockapi import BASE_URL, MockApi
from tests.resources.exact import APP_URL, KEY_GET, headers, mocked_session, only, query

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = {str(d): "0900-1700" for d in range(1, 6)}  # Monday-Friday


def hours(
    zone: str | None = "Europe/Paris", days: dict[str, str] | None = None
) -> BusinessHours:
    return BusinessHours(
        team_id=7,
        team_name="Support",
        timezone=zone,
        business_hour_map=WEEKDAYS if days is None else days,
        message="We are closed",
    )


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), True),  # Monday, opening minute
        (datetime(2026, 3, 2, 8, 59, tzinfo=PARIS), False),
        (datetime(2026, 3, 2, 17, 0, tzinfo=PARIS), False),  # the end is exclusive
        (datetime(2026, 3, 2, 16, 59, tzinfo=PARIS), True),
        (datetime(2026, 3, 1, 12, 0, tzinfo=PARIS), False),  # Sunday: not in the map
        # 07:30 UTC is 08:30 in Paris in winter (closed)...
        (datetime(2026, 3, 2, 7, 30, tzinfo=UTC), False),
        # ...and 09:30 in summer (open): the same UTC time across the DST change.
        (datetime(2026, 3, 30, 7, 30, tzinfo=UTC), True),
    ],
)
def test_is_open_in_the_team_zone_across_dst(at: datetime, open_: bool) -> None:
    assert hours().is_open(at) is open_


def test_dst_day_itself() -> None:
    # 29 March 2026, 02:00 Paris jumps to 03:00: a Sunday span 0100-0400 holds
    # 01:30 (UTC+1) and 03:30 (UTC+2), 4h of wall time in 3h of real time.
    team = hours(days={"0": "0100-0400"})
    assert team.is_open(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))  # 01:30
    assert team.is_open(datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 03:30
    assert not team.is_open(datetime(2026, 3, 29, 2, 0, tzinfo=UTC))  # 04:00


def test_midnight_wrap() -> None:
    # Friday 22:00 -> Saturday 02:00 (New York): an end before the start.
    team = hours("America/New_York", {"5": "2200-0200"})
    assert team.is_open(datetime(2026, 1, 9, 23, 30, tzinfo=NEW_YORK))  # Friday night
    assert team.is_open(datetime(2026, 1, 10, 1, 59, tzinfo=NEW_YORK))  # Saturday
    assert not team.is_open(datetime(2026, 1, 10, 2, 0, tzinfo=NEW_YORK))
    assert not team.is_open(datetime(2026, 1, 9, 21, 59, tzinfo=NEW_YORK))
    # Thursday 01:00 belongs to no span (Wednesday has none).
    assert not team.is_open(datetime(2026, 1, 8, 1, 0, tzinfo=NEW_YORK))


def test_start_equal_to_end_is_all_day() -> None:
    team = hours(days={"2": "0000-0000"})  # Tuesday
    tuesday = datetime(2026, 1, 6, tzinfo=PARIS)
    assert all(team.is_open(tuesday + timedelta(minutes=m)) for m in range(0, 1440, 37))
    assert not team.is_open(tuesday - timedelta(minutes=1))


@pytest.mark.parametrize(
    "team",
    [
        BusinessHours(team_id=1, timezone="Europe/Paris"),  # no map
        BusinessHours(team_id=1, business_hour_map={"1": "0900-1000"}),  # no zone
        BusinessHours(
            team_id=1, timezone="Mars/Olympus", business_hour_map={"1": "0900-1000"}
        ),
        BusinessHours(team_id=1, timezone="Europe/Paris", business_hour_map={}),
    ],
)
def test_no_map_or_no_timezone_is_always_open(team: BusinessHours) -> None:
    assert team.is_open(datetime(2026, 1, 4, 3, tzinfo=UTC))
    assert team.is_open()


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="aware"):
        hours().is_open(datetime(2026, 1, 5, 10))


def test_spans_and_unreadable_entries() -> None:
    assert parse_span("09:30-18:00") == parse_span("0930-1800")
    assert parse_span("0000-2400") is not None
    for bad in ("", "9-5", "2500-0100", "0960-1000", "abc"):
        assert parse_span(bad) is None
    team = hours(days={"1": "nonsense", "9": "0900-1000", "x": "0900-1000"})
    assert team.days() == {}
    assert not team.is_open(datetime(2026, 1, 5, 9, 30, tzinfo=PARIS))


SETTINGS = (
    b'{"status":"success","generatedAt":1,"response":['
    b'{"teamName":"Default Team","timezone":"Asia/Kolkata","businessHourMap":{"1":"0900-1800"},'
    b'"message":"Back at 9"},'
    b'{"teamId":42,"teamName":"Billing","timezone":"Europe/Paris",'
    b'"businessHourMap":{"0":"0000-0000"},"message":"Billing is closed","extra":1}]}'
)


async def test_list_and_get_by_id_name_or_default(api: MockApi) -> None:
    path = "/rest/ws/team/business-settings"
    api.add("GET", path, body=SETTINGS, repeat=True)
    async with mocked_session() as km:
        teams = await km.business_hours.list()
        default = await km.business_hours.get()
        billing = await km.business_hours.get(42)
        by_name = await km.business_hours.get("Billing")
        unknown = await km.business_hours.get("404")
    call = api.mocked.requests[("GET", api.url(path))][0]
    assert headers(call) == {**KEY_GET, "Of-User-Id": "bot"}
    assert query(call) == []
    assert [t.team_id for t in teams] == [None, 42]
    assert (default.team_name, default.timezone, default.message) == (
        "Default Team",
        "Asia/Kolkata",
        "Back at 9",
    )
    assert default.is_default_team
    assert billing == by_name and billing.business_hour_map == {"0": "0000-0000"}
    assert unknown == BusinessHours(team_id="404") and unknown.is_open()


async def test_is_open_of_a_team(api: MockApi) -> None:
    api.add("GET", "/rest/ws/team/business-settings", body=SETTINGS, repeat=True)
    sunday = datetime(2026, 1, 4, 12, tzinfo=PARIS)
    async with mocked_session() as km:
        assert await km.business_hours.is_open(42, at=sunday)
        assert not await km.business_hours.is_open(at=sunday)  # Kolkata: Monday only


async def test_no_default_team(api: MockApi) -> None:
    api.add(
        "GET",
        "/rest/ws/team/business-settings",
        body=b'{"status":"success","response":[{"teamId":1,"teamName":"Sales"}]}',
        repeat=True,
    )
    async with mocked_session() as km:
        with pytest.raises(NotFoundError):
            await km.business_hours.get()
        assert await km.business_hours.is_open()  # no settings: open
        with pytest.raises(InvalidRequestError):
            await km.business_hours.get(" ")


async def test_away_message(api: MockApi) -> None:
    path = "/applications/app-1/awaymessage"
    api.add(
        "GET",
        path,
        params={"conversationId": 5, "languageCode": "de"},
        base=APP_URL,
        body=b'{"code":"SUCCESS","data":{"messageList":[{"id":3,"message":"We are away",'
        b'"eventId":1,"status":1,"category":1,"languageCode":"de"}],"collectEmail":true,'
        b'"collectEmailOnAwayMessage":false,"anonymousUser":true}}',
    )
    async with mocked_session() as km:
        away = await km.business_hours.away_message(5, language="de")
    call = only(api, "GET", f"{APP_URL}{path}?conversationId=5&languageCode=de")
    assert query(call) == [("conversationId", "5"), ("languageCode", "de")]
    assert headers(call) == KEY_GET
    assert away.text == "We are away"
    assert (away.collect_email, away.anonymous_user) == (True, True)
    assert away.message_list[0].event_id == 1


async def test_empty_away_message(api: MockApi) -> None:
    api.add(
        "GET",
        "/applications/app-1/awaymessage?conversationId=5",
        base=APP_URL,
        body=b'{"code":"SUCCESS","data":{"messageList":[]}}',
    )
    async with mocked_session() as km:
        assert (await km.business_hours.away_message(5)).text is None
    assert BASE_URL not in str(api.made())
