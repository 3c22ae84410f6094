"""Business hours per team (`team/business-settings`) and the away message."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from .._errors import InvalidRequestError
from ._base import Model

__all__ = ["AwayMessage", "BusinessHours", "DayHours", "DEFAULT_TEAM_NAMES"]

DEFAULT_TEAM_NAMES: Final = ("Default Team", "Default")
"""A setting without a `teamId` belongs to the team of one of these names (Web SDK)."""
_SPAN: Final = re.compile(r"^\s*(\d{1,2}):?(\d{2})\s*-\s*(\d{1,2}):?(\d{2})\s*$")


class DayHours(msgspec.Struct, frozen=True):
    """One day's opening span; `end <= start` runs past midnight, equal = all day."""

    start: time
    end: time

    @property
    def all_day(self) -> bool:
        """Start equal to end: open the whole day (Web SDK rule)."""
        return self.start == self.end

    @property
    def overnight(self) -> bool:
        """An end before the start: the span runs into the next day."""
        return self.end < self.start


def parse_span(text: str) -> DayHours | None:
    """`"0930-1800"` (or `"09:30-18:00"`) as `DayHours`; None if unreadable."""
    found = _SPAN.match(text)
    if found is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        return None
    # "2400" is the end of the day as the dashboard writes it.
    start = time(0, 0) if h1 == 24 else time(h1, m1)
    end = time(0, 0) if h2 == 24 else time(h2, m2)
    return DayHours(start, end)


class BusinessHours(Model, frozen=True, kw_only=True):
    """One team's business settings (`team/business-settings`, Web SDK).

    Attributes:
        team_id: the team; None for the default team (named "Default Team").
        team_name: the team's name.
        timezone: an IANA zone (`Asia/Kolkata`); None: always open.
        business_hour_map: weekday (`"0"` = Sunday … `"6"`) -> `"HHMM-HHMM"`; an
            absent day is closed; no map at all: always open.
        message: the away message shown out of hours.
    """

    team_id: int | str | None = None
    team_name: str | None = None
    timezone: str | None = None
    business_hour_map: dict[str, str] | None = None
    message: str | None = None

    @property
    def is_default_team(self) -> bool:
        """No team id, or a team named like the default one."""
        return self.team_id is None or (self.team_name or "") in DEFAULT_TEAM_NAMES

    def days(self) -> dict[int, DayHours]:
        """The readable spans by weekday (0 = Sunday); unreadable entries dropped."""
        out: dict[int, DayHours] = {}
        for day, span in (self.business_hour_map or {}).items():
            if not (day.strip().isdigit() and 0 <= int(day) <= 6):
                continue
            parsed = parse_span(span)
            if parsed is not None:
                out[int(day)] = parsed
        return out

    def zone(self) -> ZoneInfo | None:
        """The team's zone; None when unset or unknown to this machine."""
        if not self.timezone:
            return None
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return None

    def is_open(self, at: datetime | None = None) -> bool:
        """Whether the team is open at `at` (an aware datetime; now by default).

        Pure: evaluated in the team's timezone. No map or no timezone: always
        open; start == end: open all day; an end before the start: open until
        that time the next day (the Web SDK's rules, docs/wire.md#business-hours).
        An unknown zone name counts as no timezone (open), never as closed.
        """
        if not self.business_hour_map or not self.timezone:
            return True
        zone = self.zone()
        if zone is None:
            return True
        local = _local(at, zone)
        days = self.days()
        clock = local.time().replace(tzinfo=None)
        today = days.get(_weekday(local))
        if today is not None and _open_today(today, clock):
            return True
        yesterday = days.get(_weekday(local - timedelta(days=1)))
        return bool(yesterday and yesterday.overnight and clock < yesterday.end)


def _local(at: datetime | None, zone: ZoneInfo) -> datetime:
    """`at` (now if None) in the team's zone; a naive `at` is refused, since
    guessing its zone could flip open and closed."""
    if at is None:
        at = datetime.now(zone)
    elif at.tzinfo is None or at.utcoffset() is None:
        raise InvalidRequestError("is_open needs an aware datetime (with tzinfo)")
    return at.astimezone(zone)


def _open_today(today: DayHours, clock: time) -> bool:
    """Whether today's span covers `clock`; the part of yesterday's overnight
    span that runs into today is checked by the caller."""
    return (
        today.all_day
        or (today.start <= clock < today.end)
        or (today.overnight and clock >= today.start)
    )


def _weekday(moment: datetime) -> int:
    """0 = Sunday … 6 = Saturday, as the map's keys (JavaScript `getDay()`)."""
    return (moment.weekday() + 1) % 7


class AwayMessageItem(Model, frozen=True, kw_only=True):
    """One entry of the away message's `messageList`."""

    message: str = ""
    id: int | str | None = None
    event_id: int | None = None
    status: int | None = None
    category: int | str | None = None


class AwayMessage(Model, frozen=True, kw_only=True):
    """`/applications/{appId}/awaymessage` `data` (Android `KmApiResponse`)."""

    message_list: list[AwayMessageItem] = msgspec.field(
        default_factory=list[AwayMessageItem]
    )
    collect_email: bool | None = None
    collect_email_on_away_message: bool | None = None
    anonymous_user: bool | None = None

    @property
    def text(self) -> str | None:
        """The first non-empty away message, or None."""
        for item in self.message_list:
            if item.message:
                return item.message
        return None
