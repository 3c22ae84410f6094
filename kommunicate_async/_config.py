"""Configuration: arguments first, then environment variables, then defaults."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from ._chat_auth import ChatAuth
from ._errors import ConfigurationError, InvalidRequestError
from ._validate import check_header_value, check_id, check_ids

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_APP_URL",
    "DEFAULT_CHAT_URL",
    "ConversationDefaults",
    "SessionConfig",
    "Timeouts",
    "resolve_config",
]

DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_BASE_URL: Final = "https://services.kommunicate.io"
DEFAULT_CHAT_URL: Final = "https://chat.kommunicate.io"
DEFAULT_APP_URL: Final = "https://api.kommunicate.io"
"""The app server (dashboard, settings, bots): Android RetrofitClient.kt `api.`."""
DEFAULT_ON_BEHALF_OF: Final = "bot"
DEFAULT_MAX_RETRIES: Final = 2
DEFAULT_MAX_CONNECTIONS: Final = 100
DEFAULT_MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
"""Largest reply body read (after decompression): memory stays bounded whatever a
server sends (a 2 GB reply, a gzip bomb)."""

ENV_API_KEY: Final = "KOMMUNICATE_API_KEY"
ENV_APP_ID: Final = "KOMMUNICATE_APP_ID"
ENV_BASE_URL: Final = "KOMMUNICATE_BASE_URL"
ENV_CHAT_URL: Final = "KOMMUNICATE_CHAT_URL"
ENV_APP_URL: Final = "KOMMUNICATE_APP_URL"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Time limits in seconds.

    Attributes:
        connect: opening a TCP/TLS connection (a refused or silent host fails fast).
        attempt: one HTTP attempt, from sending to the last byte of the reply.
        total: the whole call, retries and back-off included; None for no bound
            beyond `attempt` × attempts.
    """

    connect: float = DEFAULT_CONNECT_TIMEOUT
    attempt: float = 30.0
    total: float | None = 90.0

    def __post_init__(self) -> None:
        for name in ("connect", "attempt", "total"):
            value = getattr(self, name)
            if value is None and name == "total":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"Timeouts.{name} must be a number of seconds")
            if not (value > 0 and math.isfinite(value)):
                raise ConfigurationError(f"Timeouts.{name} must be > 0, got {value!r}")

    @classmethod
    def coerce(cls, value: float | Timeouts) -> Timeouts:
        """A number is the per-attempt limit (connect capped by it, no total bound)."""
        if isinstance(value, Timeouts):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError(
                "timeout must be a number of seconds or a Timeouts"
            )
        seconds = float(value)
        return cls(
            connect=min(DEFAULT_CONNECT_TIMEOUT, seconds), attempt=seconds, total=None
        )


@dataclass(frozen=True, slots=True)
class ConversationDefaults:
    """Defaults for every later `conversations.create` that does not say otherwise.

    The server-side twin of the SDKs' `updateDefaultSetting`
    (docs/wire.md#conversations):
    an argument given to `create` (even an empty list) wins over the default.
    """

    assignee: str | None = None
    team_id: str | None = None
    agent_ids: tuple[str, ...] = ()
    bot_ids: tuple[str, ...] = ()
    skip_routing: bool | None = None

    def __init__(
        self,
        *,
        assignee: str | None = None,
        team_id: str | int | None = None,
        agent_ids: Iterable[str] = (),
        bot_ids: Iterable[str] = (),
        skip_routing: bool | None = None,
    ) -> None:
        set_ = object.__setattr__  # frozen: assign once, here
        set_(
            self,
            "assignee",
            None if assignee is None else check_id(assignee, "assignee"),
        )
        set_(
            self,
            "team_id",
            None if team_id is None else check_id(str(team_id), "team_id"),
        )
        set_(
            self,
            "agent_ids",
            tuple(check_ids(agent_ids, "agent_ids", allow_empty=True)),
        )
        set_(self, "bot_ids", tuple(check_ids(bot_ids, "bot_ids", allow_empty=True)))
        if skip_routing is not None and not isinstance(skip_routing, bool):
            raise InvalidRequestError("skip_routing must be a bool or None")
        set_(self, "skip_routing", skip_routing)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Resolved settings. The key never appears in the repr."""

    api_key: str = field(repr=False)
    app_id: str | None
    base_url: str
    chat_url: str
    on_behalf_of: str
    timeouts: Timeouts
    max_retries: int
    max_connections: int
    chat_auth: ChatAuth | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    app_url: str = DEFAULT_APP_URL
    """The app-server host (`km.request(host="app")`)."""


def _is_int(value: object, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _from_env(value: str | None, env: Mapping[str, str], name: str) -> str | None:
    if value is not None:
        return value
    found = env.get(name, "").strip()
    return found or None


def _check_url(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a str URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{what} must be an absolute http(s) URL, got {value!r}"
        )
    if parts.username or parts.password:
        # Credentials in a URL end up in logs and tracebacks.
        raise ConfigurationError(f"{what} must not contain credentials")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{what} must not have a query or fragment")
    return value.strip().rstrip("/")


def resolve_config(
    api_key: str | None,
    *,
    app_id: str | None,
    base_url: str | None,
    chat_url: str | None,
    on_behalf_of: str,
    timeout: float | Timeouts,
    max_retries: int,
    max_connections: int,
    chat_auth: ChatAuth | None = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    env: Mapping[str, str] | None = None,
    app_url: str | None = None,
) -> SessionConfig:
    """Merge arguments, the environment and defaults into a checked `SessionConfig`."""
    env = os.environ if env is None else env
    key = _from_env(api_key, env, ENV_API_KEY)
    if not key:
        raise ConfigurationError(
            f"no Kommunicate API key: pass api_key= or set {ENV_API_KEY} "
            "(Dashboard → Settings → Install → API Key)"
        )
    try:
        check_header_value(key, "api_key")
        check_header_value(on_behalf_of, "on_behalf_of")
        app = _from_env(app_id, env, ENV_APP_ID)
        if app is not None:
            check_header_value(app, "app_id")
    except InvalidRequestError as exc:
        raise ConfigurationError(str(exc)) from None
    if not _is_int(max_retries, minimum=0):
        raise ConfigurationError("max_retries must be an int >= 0")
    if not _is_int(max_connections, minimum=1):
        raise ConfigurationError("max_connections must be an int >= 1")
    if not _is_int(max_response_bytes, minimum=1024):
        raise ConfigurationError("max_response_bytes must be an int >= 1024")
    if chat_auth is not None:
        if not isinstance(chat_auth, ChatAuth):
            raise ConfigurationError("chat_auth must be a ChatAuth (or None)")
        if app is None:
            raise ConfigurationError(
                "chat_auth needs the app id: pass app_id= or set KOMMUNICATE_APP_ID"
            )
    return SessionConfig(
        api_key=key,
        app_id=app,
        base_url=_check_url(
            _from_env(base_url, env, ENV_BASE_URL) or DEFAULT_BASE_URL, "base_url"
        ),
        chat_url=_check_url(
            _from_env(chat_url, env, ENV_CHAT_URL) or DEFAULT_CHAT_URL, "chat_url"
        ),
        on_behalf_of=on_behalf_of,
        timeouts=Timeouts.coerce(timeout),
        max_retries=max_retries,
        max_connections=max_connections,
        chat_auth=chat_auth,
        max_response_bytes=max_response_bytes,
        app_url=_check_url(
            _from_env(app_url, env, ENV_APP_URL) or DEFAULT_APP_URL, "app_url"
        ),
    )
