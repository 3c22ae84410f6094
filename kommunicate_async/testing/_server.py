"""FakeKommunicate: an in-memory Kommunicate on aiohttp.web, for tests and dev."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._bot_kit import BotDeliveryKit
from ._bots import BotDriver
from ._broadcast import Echoer
from ._directory import ROLE_AGENT, FakeDirectory, FakeTeam
from ._faults import Fault, FaultPlan
from ._routes import Routes
from ._state import FakeGroup, FakeMessage, FakeState, FakeUser
from ._tokens import TokenIssuer
from ._wire import Stop, json_response

if TYPE_CHECKING:
    from types import TracebackType

    from .._session import KommunicateSession
    from ._kong import KongLimit

__all__ = ["FakeKommunicate", "LoggedRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float
    peer: str = ""
    """The client's "host:port": one per pooled connection."""
    fault: str = "none"
    """The `Fault` the plan dealt this request ("none", "429", ...)."""

    @property
    def route(self) -> str:
        """`"METHOD /path"`, the key used by fault plans."""
        return f"{self.method} {self.path}"


class FakeKommunicate(BotDeliveryKit):
    """An in-memory Kommunicate server on 127.0.0.1 that speaks the real wire format.

    One port serves both the Platform and the chat host: point `base_url` and
    `chat_url` at `fake.url` (`fake.session()` does).

        async with FakeKommunicate() as fake:
            async with fake.session() as km:
                ...

    It needs no pytest: the same `async with` runs in a script under
    `asyncio.run` (from the shell: `kommunicate-async fake-server`). For bots,
    `deliver_bot_message`, `redeliver` and `deliver_webhook` play Kommunicate's
    side against your app and return a `BotDelivery`.

    Args:
        api_key: the key the fake accepts (a wrong one gets 401).
        app_id: the application id for user registration.
        bare: bare bodies (True), envelopes (False), or the reference's mix (None).
        token_valid_minutes: lifetime of issued user tokens (small values for tests).
        faults: a `FaultPlan` (seeded, per route).
        keep_messages: messages kept per conversation (None: all).
        log_limit: requests kept in `fake.requests` (None: all; 0: none).
        clock_skew_ms: added to the fake's clock (`createdAtTime` and every time
            it reports): negative for a server behind the client.
        commit_delay: seconds before a message send is stored and answered; the
            send lands even if the client gave up waiting.
        routing_agent: who "the conversation rules" pick when a bot hands off
            with `KM_ASSIGN_TO: ""` (None: nobody).
    """

    def __init__(
        self,
        *,
        api_key: str = "fake-api-key",
        app_id: str = "fake-app",
        host: str = "127.0.0.1",
        port: int = 0,
        bare: bool | None = None,
        token_valid_minutes: float = 30.0,
        faults: FaultPlan | None = None,
        keep_messages: int | None = None,
        log_limit: int | None = 10_000,
        routing_agent: str | None = None,
        clock_skew_ms: int = 0,
        commit_delay: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.app_id = app_id
        self.bare = bare
        self.faults = faults if faults is not None else FaultPlan()
        self.state = FakeState(keep_messages=keep_messages)
        self.tokens = TokenIssuer(valid_minutes=token_valid_minutes)
        self.requests: deque[LoggedRequest] = deque(maxlen=log_limit)
        self.refreshes = 0
        """How many user tokens were refreshed."""
        self._log = log_limit != 0
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._routes = Routes(self)
        self.routing_agent = routing_agent
        self.state.clock_skew_ms = clock_skew_ms
        self.refuse_uploads = False
        self.kong: KongLimit | None = None
        """A Kong-style limit per API key (`KongLimit(100)`), its headers and 429s."""
        """Answer attachment uploads with `{"errorCode": "MALICIOUS_CONTENT"}`."""
        self.commit_delay = commit_delay
        """Seconds a message send takes to be stored (and answered): a slow commit
        that a client's timeout may cut short while it still lands."""
        self.directory = FakeDirectory()
        """Agents online/away, teams and their hours, CSAT, waiting queues."""
        self.app_token: str | None = None
        """A dashboard token the app-server routes accept as `Authorization`."""
        self.bots = BotDriver(self)
        """Bot deliveries: `deliver_bot_message`, `redeliver`, `deliver_webhook`."""
        self.webhook_url: str | None = None
        """Where every message a send stores is echoed, as Kommunicate's message
        webhook does (None: no echoes); `webhook_token` for its Authentication."""
        self.webhook_token: str | None = None
        self.echoes = Echoer(self)
        """The echo sender: `.sent`, `.failed`, `await .drain()`."""
        self.refuse_sendall = False
        """Answer `message/sendall` with 401 (whether the real chat host takes the
        Api-Key for it is UNCERTAIN): the library then sends one by one."""

    # -- lifecycle --------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (for `aiohttp.web.run_app` or a test client)."""
        # Uploads (send_file) go up to 30 MiB by default: allow a little more.
        app = web.Application(
            middlewares=[self._middleware], client_max_size=64 * 1024 * 1024
        )
        for method, path, handler in self._routes.table():
            app.router.add_route(method, path, handler)
        return app

    async def start(self) -> None:
        """Listen on the host and port (a free port if 0)."""
        # A fake owes nobody a graceful shutdown: in-flight (delayed) handlers are cut.
        runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, shutdown_timeout=0.25
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        if self._port == 0:
            self._port = int(runner.addresses[0][1])  # the free port the OS picked

    async def stop(self) -> None:
        """Stop listening and drop open connections."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self.echoes.close()

    async def __aenter__(self) -> FakeKommunicate:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The base URL of the running fake, e.g. http://127.0.0.1:41234."""
        return f"http://{self._host}:{self._port}"

    def session(self, **kwargs: Any) -> KommunicateSession:
        """A `KommunicateSession` pointed at this fake (keyword arguments override)."""
        from .._session import KommunicateSession

        options: dict[str, Any] = {
            "api_key": self.api_key,
            "app_id": self.app_id,
            "base_url": self.url,
            "chat_url": self.url,
            "app_url": self.url,
            **kwargs,
        }
        return KommunicateSession(**options)

    # -- agents, teams and hours (issue #22) -----------------------------------------

    def add_agent(
        self,
        agent_id: str,
        *,
        online: bool = True,
        display_name: str | None = None,
        email: str | None = None,
    ) -> FakeUser:
        """An agent (role `APPLICATION_WEB_ADMIN`), online or away."""
        user = self.state.ensure_user(agent_id)
        user.role_type = ROLE_AGENT
        user.display_name = display_name or user.display_name
        user.email = email or user.email
        self.directory.set_online(agent_id, online)
        return user

    def add_team(
        self,
        name: str,
        *,
        team_id: int | None = None,
        timezone: str | None = None,
        hours: dict[str, str] | None = None,
        message: str | None = None,
    ) -> FakeTeam:
        """A team's business settings (`team_id` None: the default team)."""
        team = FakeTeam(team_id, name, timezone, hours, message)
        self.directory.teams.append(team)
        return team

    # -- inspection helpers ---------------------------------------------------------

    def conversation(self, ref: int | str) -> FakeGroup:
        """A stored conversation by groupId or clientGroupId (KeyError if absent)."""
        group = self.state.find_group(
            ref if isinstance(ref, int) else None, ref if isinstance(ref, str) else None
        )
        if group is None:
            raise KeyError(ref)
        return group

    def messages(self, ref: int | str) -> list[FakeMessage]:
        """A conversation's stored messages, oldest first."""
        return list(self.state.messages[self.conversation(ref).id])

    def unread(self, user_id: str) -> int:
        """A user's unread total."""
        return self.state.unread_total(user_id)

    @property
    def open_connections(self) -> int:
        """Client connections open to the fake right now."""
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0

    def requests_to(self, route: str) -> list[LoggedRequest]:
        """Logged requests to `"METHOD /path"`."""
        return [r for r in self.requests if r.route == route]

    # -- faults and logging ---------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        body = await request.read()
        route = f"{request.method} {request.path}"
        fault = self.faults.decide(route, request.query_string.encode() + b"\0" + body)
        kong, left = (None, 0) if self.kong is None else self.kong.admit(request)
        if kong is not None:
            fault = Fault.RATE_LIMIT
        if self._log:
            peer = (
                request.transport.get_extra_info("peername")
                if request.transport
                else None
            )
            self.requests.append(
                LoggedRequest(
                    request.method,
                    request.path,
                    dict(request.query),
                    dict(request.headers),
                    body,
                    time.time(),
                    f"{peer[0]}:{peer[1]}" if peer else "",
                    fault.value,
                )
            )
        if kong is not None:
            return kong
        if fault is Fault.DELAY:
            await asyncio.sleep(self.faults.settings(route).delay_seconds)
        elif fault in (Fault.ERROR_500, Fault.ERROR_503):
            status = 500 if fault is Fault.ERROR_500 else 503
            return self._error(
                status,
                "internal server error" if status == 500 else "service unavailable",
            )
        elif fault is Fault.RATE_LIMIT:
            wait = self.faults.settings(route).retry_after
            return json_response(
                {
                    "status": "error",
                    "errorResponse": [{"description": "too many requests"}],
                },
                status=429,
                **{"Retry-After": f"{wait:g}"},
            )
        elif fault is Fault.RESET_BEFORE:
            return self._reset(request)
        try:
            response = await handler(request)
        except Stop as stop:
            response = stop.response
        # Kong 3.5+ on services.kommunicate.io tags every reply (Kong docs
        # "Debug requests"); the library quotes it in errors and raw views.
        response.headers["X-Kong-Request-Id"] = secrets.token_hex(16)
        if self.kong is not None:
            self.kong.stamp(response, left)
        if fault is Fault.RESET_AFTER:
            return self._reset(request)
        if fault is Fault.TRUNCATE and isinstance(response, web.Response):
            raw = response.body if isinstance(response.body, bytes) else b""
            half = raw[: len(raw) // 2]
            return web.Response(body=half, content_type="application/json")
        return response

    def _error(self, status: int, description: str) -> web.Response:
        response = json_response(
            {"status": "error", "errorResponse": [{"description": description}]},
            status=status,
        )
        response.headers["X-Kong-Request-Id"] = secrets.token_hex(16)
        return response

    def _reset(self, request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()  # the client sees the connection drop, no answer
        return web.Response(status=500)  # never reaches the client
