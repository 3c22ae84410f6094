"""Agents, roles and availability (docs/wire.md#agents)."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from .._compat import override
from ._base import Model
from .user import User

__all__ = ["AgentStatus", "Availability", "Role", "UserPage"]


class Role(StrEnum):
    """`roleNameList` values of `user/v3/filter` (Android SDK `User.RoleName`).

    A value the library does not know is kept as-is, so a new role never breaks
    a caller.
    """

    AGENT = "APPLICATION_WEB_ADMIN"
    ADMIN = "APPLICATION_ADMIN"
    BOT = "BOT"
    USER = "USER"

    @classmethod
    @override
    def _missing_(cls, value: object) -> Role | None:
        if not isinstance(value, str) or not value.strip():
            return None
        pseudo = str.__new__(cls, value)
        pseudo._name_ = "UNKNOWN"
        pseudo._value_ = value
        return pseudo


class UserPage(Model, frozen=True, kw_only=True):
    """One page of `user/v3/filter`: the users and where the next page starts."""

    users: list[User] = msgspec.field(default_factory=list[User])
    last_fetch_index: int | None = None
    """Pass back as `start_index` for the next page (None: no more)."""
    last_fetch_time: int | None = None
    total_unread_count: int | None = None


class AgentStatus(Model, frozen=True, kw_only=True):
    """One agent as the app server's `/users/list` returns it.

    `status` 1 is online (the Android SDK reads it so); any other value, away or
    offline. The other fields are kept when present (UNCERTAIN, docs/wire.md#agents).
    """

    user_name: str
    status: int | None = None
    name: str | None = None
    email: str | None = None
    role_type: int | None = None
    availability_status: int | None = None

    @property
    def online(self) -> bool:
        """True when `status == 1` (Android `AgentGetStatusTask`)."""
        return self.status == 1


class Availability(Model, frozen=True, kw_only=True):
    """`/users/availability/status`: agent ids grouped by availability.

    `online` means online in Kommunicate and connected to the chat server
    (Kommunicate's 2019 server, `userService.js`).
    """

    online: list[str] = msgspec.field(default_factory=list[str])
    away: list[str] = msgspec.field(default_factory=list[str])

    def is_online(self, agent_id: str) -> bool:
        """Whether `agent_id` is in the online group."""
        return agent_id in self.online
