"""`km.business_hours`: each team's hours and away message, and "are we open?"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from .._errors import InvalidRequestError, NotFoundError
from .._pipeline.routing import Host, Route
from .._validate import check_id
from ..models.business_hours import AwayMessage, BusinessHours
from ._app import require_app_id
from ._base import Resource
from ._loose import call_loose

if TYPE_CHECKING:
    from datetime import datetime

    from ..models.conversation import ConversationRef

__all__ = ["BusinessHoursResource"]

SETTINGS: Final = Route("GET", "/rest/ws/team/business-settings", Host.CHAT)


class BusinessHoursResource(Resource):
    """Business hours per team (docs/wire.md#business-hours)."""

    __slots__ = ()

    async def list(self, *, on_behalf_of: str | None = None) -> list[BusinessHours]:
        """Every team's settings (`GET team/business-settings`; enterprise plans)."""
        found: list[BusinessHours] | None = await call_loose(
            self._ctx,
            SETTINGS,
            list[BusinessHours],
            "team/business-settings",
            acting_as=self._ctx.acting(on_behalf_of),
        )
        return found or []

    async def get(
        self, team: str | int | None = None, *, on_behalf_of: str | None = None
    ) -> BusinessHours:
        """One team's settings, by id or name; None: the default team.

        A team without settings has none to apply: its hours read as always
        open (`BusinessHours(team_id=…)` with no map).

        Raises:
            NotFoundError: `team` is None and no default team is configured.
        """
        if team is not None and (isinstance(team, bool) or not str(team).strip()):
            raise InvalidRequestError("team must be a team id, a team name or None")
        settings = await self.list(on_behalf_of=on_behalf_of)
        return pick_team(settings, team)

    async def is_open(
        self,
        team: str | int | None = None,
        *,
        at: datetime | None = None,
        on_behalf_of: str | None = None,
    ) -> bool:
        """Whether `team` (the default team if None) is open at `at` (now)."""
        try:
            hours = await self.get(team, on_behalf_of=on_behalf_of)
        except NotFoundError:
            return True  # no settings at all: the widget treats it as open
        return hours.is_open(at)

    async def away_message(
        self, ref: ConversationRef, *, language: str | None = None
    ) -> AwayMessage:
        """The away message for a conversation (app server
        `GET /applications/{appId}/awaymessage?conversationId=`)."""
        group_id = await self._ctx.group_id(ref)
        app_id = require_app_id(self._ctx, "business_hours.away_message")
        params: dict[str, str | int] = {"conversationId": group_id}
        if language is not None:
            params["languageCode"] = check_id(language, "language")
        route = Route(
            "GET",
            f"/applications/{quote(app_id, safe='')}/awaymessage",
            Host.APP,
            template="/applications/{appId}/awaymessage",
        )
        found: AwayMessage | None = await call_loose(
            self._ctx, route, AwayMessage, "awaymessage", params=params
        )
        return found or AwayMessage()


def pick_team(settings: list[BusinessHours], team: str | int | None) -> BusinessHours:
    """The settings of `team` (id or name), or of the default team for None."""
    if team is None:
        return _default_team(settings)
    return _team(settings, str(team).strip())


def _default_team(settings: list[BusinessHours]) -> BusinessHours:
    """The setting without a team id, else one named like the default team."""
    for hours in settings:
        if hours.team_id is None:
            return hours
    for hours in settings:
        if hours.is_default_team:
            return hours
    raise NotFoundError(200, None, "no business hours for the default team")


def _team(settings: list[BusinessHours], wanted: str) -> BusinessHours:
    """A team's setting by id first, then by name; none: always open (no map)."""
    for hours in settings:
        if hours.team_id is not None and str(hours.team_id) == wanted:
            return hours
    for hours in settings:
        if hours.team_name == wanted:
            return hours
    return BusinessHours(team_id=wanted)
