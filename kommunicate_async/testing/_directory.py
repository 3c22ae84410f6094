"""The fake's agents, teams, business hours, CSAT and queues (issue #22 calls)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeDirectory", "FakeTeam"]

ROLE_AGENT = 8
"""Applozic `RoleType.APPLICATION_WEB_ADMIN`: a dashboard agent."""
ROLE_ADMIN = 2
ROLE_BOT = 1
ROLE_USER = 3
ROLE_NAMES = {
    "APPLICATION_WEB_ADMIN": ROLE_AGENT,
    "APPLICATION_ADMIN": ROLE_ADMIN,
    "BOT": ROLE_BOT,
    "USER": ROLE_USER,
}


@dataclass
class FakeTeam:
    """One team's business settings, as `team/business-settings` lists them."""

    team_id: int | None
    name: str
    timezone: str | None = None
    hours: dict[str, str] | None = None
    message: str | None = None

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"teamName": self.name}
        if self.team_id is not None:
            out["teamId"] = self.team_id
        if self.timezone is not None:
            out["timezone"] = self.timezone
        if self.hours is not None:
            out["businessHourMap"] = dict(self.hours)
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass
class FakeDirectory:
    """State of the agent, hours, CSAT and inbox endpoints."""

    online: list[str] = field(default_factory=list[str])
    """Agents online now, in order (`availability/status` lists them so)."""
    away: list[str] = field(default_factory=list[str])
    teams: list[FakeTeam] = field(default_factory=list[FakeTeam])
    away_message: str | None = None
    """What `/applications/{appId}/awaymessage` answers (None: an empty list)."""
    csat_rating_base: int = 5
    """`chatWidget.csatRatingBase` of the plugin settings."""
    csat: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    waiting: dict[str, list[int]] = field(default_factory=dict[str, list[int]])
    blocked: dict[str, set[str]] = field(default_factory=dict[str, set[str]])
    """Blocker -> the users they blocked."""
    hidden: dict[str, set[str]] = field(default_factory=dict[str, set[str]])
    """User -> message keys deleted for them only."""

    def set_online(self, agent_id: str, online: bool) -> None:
        """Move an agent between the online and away groups."""
        for group in (self.online, self.away):
            if agent_id in group:
                group.remove(agent_id)
        (self.online if online else self.away).append(agent_id)
