"""`KommunicateSession`: configuration, lifecycle, defaults and the resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._compat import override
from ._config import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_ON_BEHALF_OF,
    ConversationDefaults,
    Retries,
    SessionConfig,
    Timeouts,
    resolve_config,
)
from ._errors import ConfigurationError, SessionClosedError
from ._logging import setup_from_env
from ._pipeline.client import ApiClient
from ._pipeline.retry import Backoff
from ._pipeline.transport import HttpTransport, env_proxy
from ._raw import send_request
from .resources import (
    Agents,
    Assignees,
    BusinessHoursResource,
    Conversations,
    CsatResource,
    Inbox,
    Messages,
    Unread,
    Users,
)
from .resources._base import Context

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from ._chat_auth import ChatAuth
    from ._pipeline.transport import ClientSession
    from ._raw import HostName

__all__ = ["KommunicateSession"]


class KommunicateSession:
    """An async Kommunicate client: one connection pool, one set of credentials.

    Use it as an async context manager (or call `aclose()`), and share one session
    across your whole application: it is safe for any number of concurrent tasks.

        async with KommunicateSession() as km:   # key from KOMMUNICATE_API_KEY
            conversation = await km.conversations.create(["user-1"])
            await km.messages.send(conversation, "Hello!")

    Args:
        api_key: the Platform API key; else `KOMMUNICATE_API_KEY`.
        app_id: the application id, needed only for `users.login`; else
            `KOMMUNICATE_APP_ID`.
        base_url: the Platform API host; else `KOMMUNICATE_BASE_URL`, else
            https://services.kommunicate.io.
        chat_url: the chat host for user-token calls; else `KOMMUNICATE_CHAT_URL`,
            else https://chat.kommunicate.io (EU: https://chat-eu.kommunicate.io).
        on_behalf_of: the default `Of-User-Id` and message sender ("bot").
        timeout: a `Timeouts`, or a number of seconds per attempt.
        max_retries: retries after the first attempt, for failures safe to retry.
        retries: the back-off between retries (a `Retries`).
        max_connections: size of the connection pool.
        defaults: `ConversationDefaults` applied to every later `conversations.create`.
        session: an `aiohttp.ClientSession` to borrow; it is never closed by us.
        chat_auth: admin or bot credentials (`ChatAuth`) for the chat-host paths
            (group info, lists, members, message list, read marks), sent to
            `chat_url`; None sends those with `Api-Key` to `base_url` (UNCERTAIN,
            see docs/wire.md#hosts). Needs `app_id`.
        app_url: Kommunicate's app server (agents' status, CSAT, away messages);
            else `KOMMUNICATE_APP_URL`, else https://api.kommunicate.io.
        app_token: a dashboard token sent as `Authorization` to `app_url`; None
            sends `Api-Key` there (UNCERTAIN, see docs/wire.md#hosts).
        max_response_bytes: the largest reply read (16 MiB); a bigger one raises
            `ResponseValidationError` with memory still bounded.
        app_url: the app-server host for `request(host="app")`; else
            `KOMMUNICATE_APP_URL`, else https://api.kommunicate.io.

    The session follows its event loop: created at import time and used from
    several `asyncio.run()` calls one after the other, it opens a new pool on each
    new loop. Used from two running loops at once it raises `EventLoopError`.

    Raises:
        ConfigurationError: no API key, or an invalid setting.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        app_id: str | None = None,
        base_url: str | None = None,
        chat_url: str | None = None,
        on_behalf_of: str = DEFAULT_ON_BEHALF_OF,
        timeout: float | Timeouts = Timeouts(),  # noqa: B008 (frozen, shared safely)
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        defaults: ConversationDefaults | None = None,
        session: ClientSession | None = None,
        chat_auth: ChatAuth | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        app_url: str | None = None,
        app_token: str | None = None,
        retries: Retries = Retries(),  # noqa: B008 (frozen, shared safely)
    ) -> None:
        setup_from_env()
        if not isinstance(retries, Retries):
            raise ConfigurationError("retries must be a Retries")
        self._config: SessionConfig = resolve_config(
            api_key,
            app_id=app_id,
            base_url=base_url,
            chat_url=chat_url,
            on_behalf_of=on_behalf_of,
            timeout=timeout,
            max_retries=max_retries,
            max_connections=max_connections,
            chat_auth=chat_auth,
            max_response_bytes=max_response_bytes,
            app_url=app_url,
            app_token=app_token,
        )
        transport = HttpTransport(
            timeouts=self._config.timeouts,
            max_connections=max_connections,
            session=session,
            proxy=env_proxy(self._config.base_url),
            max_response_bytes=self._config.max_response_bytes,
        )
        backoff = Backoff(retries.backoff_base, retries.backoff_max)
        self._client = ApiClient(self._config, transport, backoff=backoff)
        self._ctx = Context(self._client, on_behalf_of=on_behalf_of)
        self._is_view = False
        if defaults is not None:
            self.defaults = defaults
        self._attach_resources()

    def _attach_resources(self) -> None:
        self.conversations = Conversations(self._ctx)
        """Create, find, update, list conversations."""
        self.messages = Messages(self._ctx)
        """Send messages and read history."""
        self.assignees = Assignees(self._ctx)
        """Change and read the assignee."""
        self.unread = Unread(self._ctx)
        """Unread counts and mark-read."""
        self.users = Users(self._ctx)
        """User details, updates and login."""
        self.agents = Agents(self._ctx)
        """Agents by role, their status and availability."""
        self.business_hours = BusinessHoursResource(self._ctx)
        """Business hours per team, "are we open?", the away message."""
        self.csat = CsatResource(self._ctx)
        """Read and post a conversation's CSAT."""
        self.inbox = Inbox(self._ctx)
        """The agent inbox and the team waiting queue."""

    # -- configuration --------------------------------------------------------------

    def with_options(
        self,
        *,
        timeout: float | Timeouts | None = None,
        max_retries: int | None = None,
        on_behalf_of: str | None = None,
    ) -> KommunicateSession:
        """A light view of this session with other per-call options.

        It shares the pool (no new connections), the user tokens, the retry budget
        and the 429 pause; closing it does nothing (close the session itself).

            await km.with_options(timeout=5, max_retries=0).messages.send(chat, "hi")
        """
        config = resolve_config(
            self._config.api_key,
            app_id=self._config.app_id,
            base_url=self._config.base_url,
            chat_url=self._config.chat_url,
            on_behalf_of=self.on_behalf_of if on_behalf_of is None else on_behalf_of,
            timeout=self._config.timeouts if timeout is None else timeout,
            max_retries=self._config.max_retries
            if max_retries is None
            else max_retries,
            max_connections=self._config.max_connections,
            chat_auth=self._config.chat_auth,
            max_response_bytes=self._config.max_response_bytes,
            app_url=self._config.app_url,
            app_token=self._config.app_token,
        )
        view = object.__new__(KommunicateSession)
        view._config = config
        view._client = self._client.with_config(config)
        view._ctx = self._ctx.with_client(
            view._client, on_behalf_of=config.on_behalf_of
        )
        view._is_view = True
        view._attach_resources()
        return view

    async def request(
        self,
        method: str,
        path: str,
        *,
        host: HostName = "services",
        params: Mapping[str, str | int] | None = None,
        json: object = None,
        result_type: Any = None,
        on_behalf_of: str | None = None,
        raw: bool = False,
    ) -> Any:
        """Call an endpoint this library does not wrap, through the same pipeline.

        The same credentials per host as the wrapped calls, the retries (only for
        GET, PUT and DELETE), the whole-call deadline, the 429 pause, the reply size
        cap, redaction and typed errors.

        Args:
            method: GET, POST, PUT, PATCH or DELETE.
            path: the path, starting with "/" (no query: use `params`).
            host: "services" (`base_url`, `Api-Key`), "chat" (`chat_url` with a
                logged-in user's token or `chat_auth`, else `Api-Key` on
                `base_url`, as the wrapped chat-host calls) or "app" (`app_url`,
                `Api-Key`; UNCERTAIN).
            params: the query.
            json: the JSON body (any msgspec-encodable value).
            result_type: decode the reply as this type (enveloped or bare); None
                returns the JSON as Python values (or the text of a plain reply).
            on_behalf_of: the `Of-User-Id` (and which logged-in user's token).
            raw: return a `RawResponse(status, headers, request_id, parsed)`.

        Raises:
            InvalidRequestError: a bad method, host, path, params or body, before
                anything is sent; and every `KommunicateError` a wrapped call raises.
        """
        return await send_request(
            self._client,
            method,
            path,
            host=host,
            params=params,
            json=json,
            result_type=result_type,
            on_behalf_of=self._ctx.acting(on_behalf_of),
            raw=raw,
        )

    @property
    def config(self) -> SessionConfig:
        """The resolved configuration (its repr never shows the key)."""
        return self._config

    @property
    def on_behalf_of(self) -> str:
        """The default `Of-User-Id` and message sender."""
        return self._ctx.on_behalf_of

    @property
    def defaults(self) -> ConversationDefaults:
        """Defaults for every later `conversations.create` (`updateDefaultSetting`)."""
        return self._ctx.defaults

    @defaults.setter
    def defaults(self, value: ConversationDefaults | None) -> None:
        if value is None:
            value = ConversationDefaults()
        if not isinstance(value, ConversationDefaults):
            raise ConfigurationError("defaults must be a ConversationDefaults")
        self._ctx.defaults = value

    @property
    def closed(self) -> bool:
        """True once `aclose()` has been called."""
        return self._client.transport.closed

    # -- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> KommunicateSession:
        if self.closed:
            raise SessionClosedError(
                "this KommunicateSession is closed; create a new one"
            )
        self._client.transport.open()  # fails fast outside a running event loop
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool (unless borrowed). Idempotent, safe under cancel.

        On a `with_options` view it does nothing: the session owns the pool."""
        if not self._is_view:
            await self._client.transport.aclose()

    @override
    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"<KommunicateSession {state} base_url={self._config.base_url!r} "
            f"on_behalf_of={self.on_behalf_of!r} api_key='***'>"
        )
