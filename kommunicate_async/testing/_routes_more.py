"""The fake's agent, hours, CSAT, lifecycle and inbox endpoints (docs/wire.md).

Each answers in the shape Kommunicate's own SDKs decode (the reference's "Third
audit", N2-N21): the chat host's envelope, the app server's `{code, data}` and
`{code, response}`, and plain `success` text for the legacy deletes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import msgspec
from aiohttp import web

from ._directory import ROLE_NAMES
from ._wire import json_response

if TYPE_CHECKING:
    from ._directory import FakeDirectory
    from ._routes import Routes
    from ._state import FakeGroup

__all__ = ["MoreRoutes"]


class _Csat(msgspec.Struct, rename="camel"):
    group_id: int
    rating: int
    comments: list[str] = msgspec.field(default_factory=list[str])
    application_id: str = ""
    support_agent_name: str | None = None
    team_id: str | None = None
    user_info: dict[str, Any] | None = None


class _MetadataUpdate(msgspec.Struct):
    key: str
    metadata: dict[str, Any]


class _CreateUser(msgspec.Struct, rename="camel"):
    user_id: str
    role_name: str = "USER"
    password: str | None = None
    display_name: str | None = None
    email: str | None = None


class MoreRoutes:
    """Handlers for the endpoints of issue #22, over the shared `Routes`."""

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.fake = routes.fake
        self.state = routes.state

    @property
    def directory(self) -> FakeDirectory:
        return self.fake.directory

    def code(self, payload: object, *, key: str = "data") -> web.Response:
        """The app server's `{code: "SUCCESS", data|response: …}`."""
        return json_response({"code": "SUCCESS", key: payload})

    def app_actor(self, request: web.Request) -> str | None:
        """App-server credentials: Api-Key, the app token, or a user JWT."""
        headers = request.headers
        token = headers.get("Authorization")
        if (
            token is not None
            and self.fake.app_token is not None
            and token == self.fake.app_token
        ):
            return headers.get("Of-User-Id")
        if "Api-Key" in headers or "X-Authorization" in headers:
            return self.routes.actor(request, platform=False)
        raise self.routes.fail("authentication required", status=401)

    def check_app(self, app_id: str | None) -> None:
        if app_id != self.fake.app_id:
            raise self.routes.fail("invalid applicationId", status=400)

    # -- agents ---------------------------------------------------------------------

    async def user_filter(self, request: web.Request) -> web.Response:
        self.routes.actor(request, platform=False)
        roles = {
            ROLE_NAMES.get(r, -1) for r in request.query.getall("roleNameList", [])
        }
        start = self.routes.query_int(request, "startIndex", 0) or 0
        size = self.routes.query_int(request, "pageSize", 50) or 50
        users = sorted(
            (u for u in self.state.users.values() if not roles or u.role_type in roles),
            key=lambda u: u.user_id,
        )
        page = users[start : start + size]
        wire: list[dict[str, Any]] = []
        for user in page:
            item = user.wire(self.state.unread_total(user.user_id))
            item["connected"] = user.user_id in self.directory.online
            wire.append(item)
        more = start + size < len(users)
        return self.routes.ok(
            {
                "users": wire,
                "lastFetchIndex": start + size if more else None,
                "lastFetchTime": self.state.now_ms(),
                "totalUnreadCount": 0,
            }
        )

    async def agent_list(self, request: web.Request) -> web.Response:
        self.app_actor(request)
        self.check_app(request.query.get("applicationId"))
        name = request.query.get("userName")
        agents = [
            {
                "userName": user.user_id,
                "name": user.display_name or user.user_id,
                "email": user.email,
                "roleType": user.role_type,
                "status": 1 if user.user_id in self.directory.online else 2,
            }
            for user in self.state.users.values()
            if name is None or user.user_id == name
        ]
        return self.code(agents, key="response")

    async def availability(self, request: web.Request) -> web.Response:
        self.app_actor(request)
        self.check_app(request.query.get("applicationId"))
        return self.code(
            {"away": list(self.directory.away), "online": list(self.directory.online)},
            key="response",
        )

    async def go(self, request: web.Request) -> web.Response:
        self.app_actor(request)
        self.check_app(unquote(request.match_info["app_id"]))
        agent = unquote(request.match_info["user"])
        if agent not in self.state.users:
            raise self.routes.fail(f"user {agent!r} not found", status=404)
        self.directory.set_online(agent, request.path.startswith("/users/goOnline"))
        return self.code("success", key="response")

    # -- hours ----------------------------------------------------------------------

    async def business_settings(self, request: web.Request) -> web.Response:
        self.routes.actor(request, platform=False)
        return self.routes.ok([team.wire() for team in self.directory.teams])

    async def away_message(self, request: web.Request) -> web.Response:
        self.check_app(unquote(request.match_info["app_id"]))  # no credentials (WEB)
        self.routes.group(request.query.get("conversationId"), None)
        items: list[dict[str, Any]] = []
        if self.directory.away_message is not None:
            items.append(
                {
                    "id": 1,
                    "message": self.directory.away_message,
                    "eventId": 1,
                    "status": 1,
                    "category": 1,
                }
            )
        return self.code(
            {
                "messageList": items,
                "collectEmail": False,
                "collectEmailOnAwayMessage": False,
                "anonymousUser": False,
            }
        )

    # -- CSAT -----------------------------------------------------------------------

    async def plugin_settings(self, request: web.Request) -> web.Response:
        self.check_app(request.query.get("appId"))  # no credentials (the widget's call)
        widget = {"csatRatingBase": self.directory.csat_rating_base}
        return self.code(
            {"collectFeedback": True, "chatWidget": widget}, key="response"
        )

    async def csat_get(self, request: web.Request) -> web.Response:
        self.app_actor(request)
        group_id = int(request.match_info["group_id"])
        return self.code(self.directory.csat.get(group_id))

    async def csat_post(self, request: web.Request) -> web.Response:
        self.app_actor(request)
        body: _Csat = await self.routes.body(request, _Csat)
        self.check_app(body.application_id)
        if not 0 <= body.rating <= 10:  # the 2019 server's feedbackValidator.js
            raise self.routes.fail("rating must be 0-10", status=400)
        group = self.routes.group(body.group_id, None)
        now = self.state.now_ms()
        stored = self.directory.csat.get(group.id)
        record = {
            "id": stored["id"] if stored else len(self.directory.csat) + 1,
            "groupId": group.id,
            "rating": body.rating,
            "comments": body.comments,
            "type": 1,
            "createdAt": stored["createdAt"] if stored else now,
            "updatedAt": now,
            "deleteAt": None,
        }
        if body.support_agent_name:
            record["supportAgentName"] = body.support_agent_name
        self.directory.csat[group.id] = record
        if request.query.get("sendAsMessage") == "true":
            sender = (body.user_info or {}).get("userId") or "bot"
            self.state.send(
                group, str(sender), f"rated {body.rating}", {"feedback": "true"}
            )
        return self.code({"data": record})

    # -- message lifecycle ----------------------------------------------------------

    def _message(self, key: str) -> tuple[FakeGroup, Any]:
        for group_id, messages in self.state.messages.items():
            for message in messages:
                if message.key == key:
                    return self.state.groups[group_id], message
        raise self.routes.fail("message not found", code="AL-M-01")

    async def message_info(self, request: web.Request) -> web.Response:
        self.routes.actor(request, platform=False)
        group, message = self._message(request.query.get("key", ""))
        unread = self.state.unread
        out: list[dict[str, Any]] = []
        for member in group.members:
            if member == message.sender:
                continue
            read = unread.get(member, {}).get(group.id, 0) == 0
            item: dict[str, Any] = {
                "userId": member,
                "deliveredAtTime": message.created_at,
                "status": 1 if read else 4,
            }
            if read:
                item["readAtTime"] = message.created_at
            out.append(item)
        return self.routes.ok(out)

    async def message_detail(self, request: web.Request) -> web.Response:
        acting = self.routes.actor(request, platform=False)
        found: list[dict[str, Any]] = []
        for key in request.query.getall("keys", []):
            try:
                _, message = self._message(key)
            except Exception:  # an unknown key is simply absent
                continue
            found.append(message.wire(acting))
        return self.routes.ok(found)

    async def update_metadata(self, request: web.Request) -> web.Response:
        self.routes.actor(request, platform=False)
        body: _MetadataUpdate = await self.routes.body(request, _MetadataUpdate)
        _, message = self._message(body.key)
        message.metadata.update(self.routes.strings(body.metadata))
        return self.routes.ok("success")

    async def delete_message(self, request: web.Request) -> web.Response:
        acting = self.routes.actor(request, platform=False, need_user=True) or ""
        try:
            group, message = self._message(request.query.get("key", ""))
        except Exception:
            return web.Response(text="error", content_type="text/plain")
        if request.query.get("deleteForAll") == "true":
            self.state.messages[group.id].remove(message)
        else:
            self.directory.hidden.setdefault(acting, set()).add(message.key)
        return web.Response(text="success", content_type="text/plain")

    async def delete_thread(self, request: web.Request) -> web.Response:
        acting = self.routes.actor(request, platform=False, need_user=True) or ""
        group = self.routes.query_group(request)
        hidden = self.directory.hidden.setdefault(acting, set())
        hidden.update(m.key for m in self.state.messages[group.id])
        return web.Response(text="success", content_type="text/plain")

    async def delete_group(self, request: web.Request) -> web.Response:
        acting = self.routes.actor(request, platform=False)
        group = self.routes.query_group(request)
        if acting is not None and acting != group.admin_id:
            raise self.routes.fail("only the group admin can delete", code="AL-G-02")
        del self.state.groups[group.id]
        self.state.by_client_id.pop(group.client_group_id, None)
        self.state.messages.pop(group.id, None)
        return self.routes.ok(True)

    # -- inbox ----------------------------------------------------------------------

    async def support(self, request: web.Request) -> web.Response:
        acting = self.routes.actor(request, platform=False)
        statuses = {int(s) for s in request.query.getall("status", [])}
        assignee = request.query.get("userId")
        size = self.routes.query_int(request, "pageSize", 50) or 50
        before = self.routes.query_int(request, "lastFetchTime", None)
        groups = sorted(
            self.state.groups.values(), key=lambda g: (-g.updated_at, -g.id)
        )
        picked = [
            g
            for g in groups
            if (
                not statuses
                or int(g.metadata.get("CONVERSATION_STATUS", "0")) in statuses
            )
            and (
                assignee is None or g.metadata.get("CONVERSATION_ASSIGNEE") == assignee
            )
            and (before is None or g.updated_at < before)
        ][:size]
        last = [m for g in picked if (m := self.state.messages[g.id])]
        return self.routes.ok(
            {
                "message": [messages[-1].wire(acting) for messages in last],
                "groupFeeds": [g.wire() for g in picked],
                "userDetails": [],
            }
        )

    async def waiting(self, request: web.Request) -> web.Response:
        self.routes.actor(request, platform=False)
        team = request.query.get("teamId", "")
        return self.routes.ok(list(self.directory.waiting.get(team, [])))

    async def group_details(self, request: web.Request) -> web.Response:
        self.routes.actor(request, platform=False)
        out: list[dict[str, Any]] = []
        for raw in request.query.getall("groupIds", []):
            found = self.state.find_group(int(raw), None) if raw.isdigit() else None
            if found is not None:
                out.append(found.wire())
        for name in request.query.getall("clientGroupIds", []):
            found = self.state.find_group(None, name)
            if found is not None:
                out.append(found.wire())
        return self.routes.ok(out)

    # -- users ----------------------------------------------------------------------

    async def create_user(self, request: web.Request) -> web.Response:
        self.routes.actor(request, platform=False)
        body: _CreateUser = await self.routes.body(request, _CreateUser)
        if body.role_name not in ("USER", "BOT"):
            raise self.routes.fail("roleName must be USER or BOT", status=400)
        if body.role_name == "BOT" and not body.password:
            raise self.routes.fail("a bot needs a password", status=400)
        if body.user_id in self.state.users:
            raise self.routes.fail("user already exists", code="AL-U-02")
        user = self.state.ensure_user(body.user_id)
        user.role_type = ROLE_NAMES[body.role_name]
        user.password = body.password
        user.display_name = body.display_name
        user.email = body.email
        if body.role_name == "BOT":
            self.state.bots.add(body.user_id)
        return self.routes.ok("success")

    async def block(self, request: web.Request) -> web.Response:
        acting = self.routes.actor(request, platform=False, need_user=True) or ""
        user = request.query.get("userId", "")
        if user not in self.state.users:
            raise self.routes.fail(f"user {user!r} not found")
        blocked = self.directory.blocked.setdefault(acting, set())
        if request.path.endswith("/unblock"):
            blocked.discard(user)
        else:
            blocked.add(user)
        return self.routes.ok("success")

    def table(self) -> list[tuple[str, str, Any]]:
        """(method, path, handler) of these endpoints."""
        return [
            ("GET", "/rest/ws/user/v3/filter", self.user_filter),
            ("GET", "/users/list", self.agent_list),
            ("GET", "/users/availability/status", self.availability),
            ("PATCH", "/users/goAway/{user}/{app_id}", self.go),
            ("PATCH", "/users/goOnline/{user}/{app_id}", self.go),
            ("GET", "/rest/ws/team/business-settings", self.business_settings),
            ("GET", "/applications/{app_id}/awaymessage", self.away_message),
            ("GET", "/feedback/{group_id:[0-9]+}", self.csat_get),
            ("POST", "/feedback/v2", self.csat_post),
            ("GET", "/users/v3/chat/plugin/settings", self.plugin_settings),
            ("GET", "/rest/ws/message/info", self.message_info),
            ("GET", "/rest/ws/message/detail", self.message_detail),
            ("POST", "/rest/ws/message/update/metadata", self.update_metadata),
            ("GET", "/rest/ws/message/delete", self.delete_message),
            ("GET", "/rest/ws/message/delete/conversation", self.delete_thread),
            ("GET", "/rest/ws/group/delete", self.delete_group),
            ("GET", "/rest/ws/group/support", self.support),
            ("GET", "/rest/ws/group/support/assigned", self.support),
            ("GET", "/rest/ws/group/waiting/list", self.waiting),
            ("GET", "/rest/ws/group/details", self.group_details),
            ("POST", "/rest/ws/user/v2/create", self.create_user),
            ("GET", "/rest/ws/user/block", self.block),
            ("GET", "/rest/ws/user/unblock", self.block),
        ]
