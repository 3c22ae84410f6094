"""`km.agents`: who the agents are, who is online, set an agent away or online."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeAlias
from urllib.parse import quote

from .._errors import InvalidRequestError, NotFoundError
from .._pipeline.reply import NoResult
from .._pipeline.routing import Host, Route
from .._validate import check_id, check_int
from ..models.agent import AgentStatus, Availability, Role, UserPage
from ._app import require_app_id
from ._base import Resource
from ._loose import call_loose, repeated

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Agents"]

USER_FILTER: Final = Route("GET", "/rest/ws/user/v3/filter", Host.CHAT)
AGENT_LIST: Final = Route("GET", "/users/list", Host.APP)
AVAILABILITY: Final = Route("GET", "/users/availability/status", Host.APP)
_MAX_PAGE: Final = 100
_Statuses: TypeAlias = list[AgentStatus]
_Ids: TypeAlias = list[str]
_ORDER_BY_NAME: Final = 1


class Agents(Resource):
    """Agents, admins and bots, and their availability (docs/wire.md#agents)."""

    __slots__ = ()

    async def list(
        self,
        roles: Role | str | Iterable[Role | str] = Role.AGENT,
        *,
        start_index: int = 0,
        page_size: int = 50,
        include_inactive: bool = False,
        on_behalf_of: str | None = None,
    ) -> UserPage:
        """Users by role (`GET user/v3/filter`, `roleNameList` once per role).

        Args:
            roles: `Role.AGENT` (the default), `Role.ADMIN`, `Role.BOT`,
                `Role.USER`, or several.
            start_index: where the page starts; pass `page.last_fetch_index` on.
            page_size: 1-100 users.
            include_inactive: also deactivated users (`inactiveUser=true`).
            on_behalf_of: the acting user (a logged-in agent's token is used).
        """
        wanted = [roles] if isinstance(roles, str) else list(roles)
        if not wanted:
            raise InvalidRequestError("roles must name at least one role")
        names = [Role(check_id(str(role), "role")).value for role in wanted]
        check_int(start_index, "start_index", minimum=0)
        check_int(page_size, "page_size", minimum=1)
        if page_size > _MAX_PAGE:
            raise InvalidRequestError(f"page_size must be <= {_MAX_PAGE}")
        if not isinstance(include_inactive, bool):
            raise InvalidRequestError("include_inactive must be a bool")
        single: dict[str, str | int] = {
            "startIndex": start_index,
            "pageSize": page_size,
            "orderBy": _ORDER_BY_NAME,
        }
        if include_inactive:
            single["inactiveUser"] = "true"
        params = repeated(single, "roleNameList", names)
        page: UserPage | None = await call_loose(
            self._ctx,
            USER_FILTER,
            UserPage,
            "user/v3/filter",
            params=params,
            acting_as=self._ctx.acting(on_behalf_of),
        )
        return page or UserPage()

    async def status(self, agent_id: str) -> AgentStatus:
        """One agent's details and away/online status (app server `/users/list`).

        Raises:
            NotFoundError: the reply lists no such agent.
        """
        check_id(agent_id, "agent_id")
        params: dict[str, str | int] = {
            "applicationId": self._app_id("agents.status"),
            "userName": agent_id,
        }
        found: _Statuses | None = await call_loose(
            self._ctx, AGENT_LIST, _Statuses, "/users/list", params=params
        )
        for agent in found or []:
            if agent.user_name == agent_id:
                return agent
        raise NotFoundError(200, None, f"agent {agent_id!r} not found")

    async def availability(self) -> Availability:
        """Agent ids grouped online / away (`/users/availability/status`)."""
        params: dict[str, str | int] = {
            "applicationId": self._app_id("agents.availability")
        }
        found: Availability | None = await call_loose(
            self._ctx, AVAILABILITY, Availability, "availability", params=params
        )
        return found or Availability()

    async def online(self) -> _Ids:
        """The ids of the agents online now."""
        return [*(await self.availability()).online]

    async def set_away(self, agent_id: str) -> None:
        """Mark an agent away (`PATCH /users/goAway/{userName}/{appId}`)."""
        await self._set(agent_id, "goAway")

    async def set_online(self, agent_id: str) -> None:
        """Mark an agent online (`PATCH /users/goOnline/{userName}/{appId}`)."""
        await self._set(agent_id, "goOnline")

    async def _set(self, agent_id: str, action: str) -> None:
        check_id(agent_id, "agent_id")
        app_id = self._app_id(f"agents.{action}")
        path = f"/users/{action}/{quote(agent_id, safe='')}/{quote(app_id, safe='')}"
        template = f"/users/{action}/{{userName}}/{{appId}}"
        route = Route("PATCH", path, Host.APP, template=template)
        await self._ctx.client.call(route, NoResult)

    def _app_id(self, what: str) -> str:
        return require_app_id(self._ctx, what)
