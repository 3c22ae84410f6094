"""Where a request goes: routes, hosts, cached URLs and auth headers, redirects."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Final, NamedTuple

from .._errors import APIError
from .._version import __version__
from .call_state import Target
from .transport import URL, frozen_headers

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._config import SessionConfig
    from .transport import HttpReply

__all__ = [
    "ACCEPT",
    "JSON",
    "USER_AGENT",
    "Host",
    "Route",
    "Targets",
    "chat_hint",
    "redirect_target",
]

JSON: Final = "application/json"
ACCEPT: Final = JSON
"""Sent on every request, as the SDKs do (docs/wire.md#hosts)."""
USER_AGENT: Final = f"kommunicate-async/{__version__}"
_MAX_REDIRECTS: Final = 3
_CACHE_LIMIT: Final = 4096


class Host(Enum):
    """Which base URL and auth a route uses (docs/wire.md#hosts)."""

    PLATFORM = "platform"
    """services.kommunicate.io with `Api-Key` (the documented Platform API)."""
    CHAT = "chat"
    """Applozic `/rest/ws/*` paths: a logged-in user's JWT on the chat host, else
    `chat_auth` (admin/bot) on the chat host when configured, else `Api-Key` +
    `Of-User-Id` on the platform host (UNCERTAIN, docs/wire.md#hosts)."""
    CHAT_PUBLIC = "chat-public"
    """Chat-host calls with their own headers (register, token refresh)."""
    APP = "app"
    """Kommunicate's app server (`app_url`, api.kommunicate.io): a logged-in
    user's JWT, else `app_token` as `Authorization`, else `Api-Key` (UNCERTAIN,
    docs/wire.md#hosts)."""

    # By identity, in C: Enum's own `__hash__` is a Python call, paid on every
    # `Targets.by_key` lookup (a `Route` hashes its host; benchmarks/README.md).
    __hash__ = object.__hash__


class Route(NamedTuple):
    """One endpoint: method, path, host, and whether repeating it is harmless."""

    method: str
    path: str
    host: Host = Host.PLATFORM
    idempotent: bool = True
    template: str | None = None
    """The path with its ids as placeholders (`/feedback/{groupId}`) when `path`
    holds any: what telemetry names the route by (None: `path` is the template)."""


class Targets:
    """URLs and header dicts, built once and reused by every call of a session."""

    __slots__ = ("_config", "_header_cache", "_urls", "by_key")

    def __init__(self, config: SessionConfig) -> None:
        self._config = config
        self._urls: dict[tuple[str, str], URL] = {}
        self._header_cache: dict[tuple[str | None, bool], Mapping[str, str]] = {}
        self.by_key: dict[tuple[Route, str | None], Target] = {}
        """(route, acting user) -> the `Target` of `Api-Key` calls (the hot path
        reads this dict directly)."""

    def url(self, base: str, path: str) -> URL:
        """`base` + `path` as a parsed URL, cached: aiohttp then skips parsing a str
        on every request (benchmarks/README.md)."""
        key = (base, path)
        found = self._urls.get(key)
        if found is None:
            found = self._urls[key] = URL(base + path)
        return found

    def key_target(self, route: Route, acting_as: str | None) -> Target:
        """The target of an `Api-Key` call, cached per route and acting user."""
        found = self.by_key.get((route, acting_as))
        if found is None:
            if len(self.by_key) >= _CACHE_LIMIT:
                self.by_key.clear()
            with_body = route.method != "GET"
            if route.host is Host.APP:
                found = Target(
                    self.url(self._config.app_url, route.path),
                    self.app_headers(acting_as, with_body=with_body),
                )
            elif route.host is Host.CHAT and self._config.chat_auth is not None:
                found = Target(
                    self.url(self._config.chat_url, route.path),
                    self.chat_headers(acting_as, with_body=with_body),
                )
            else:
                found = Target(
                    self.url(self._config.base_url, route.path),
                    self.key_headers(acting_as, with_body=with_body),
                )
            self.by_key[(route, acting_as)] = found
        return found

    def base_of(self, route: Route) -> str:
        """The base URL of a call sent with a user's token or its own headers."""
        return self._config.app_url if route.host is Host.APP else self._config.chat_url

    def app_headers(
        self, acting_as: str | None, *, with_body: bool
    ) -> Mapping[str, str]:
        """App-server credentials: `app_token` as `Authorization`, else `Api-Key`."""
        token = self._config.app_token
        if token is None:
            return self.key_headers(acting_as, with_body=with_body)
        headers = {"Authorization": token}
        return frozen_headers(_completed(headers, acting_as, with_body=with_body))

    def chat_headers(
        self, acting_as: str | None, *, with_body: bool
    ) -> Mapping[str, str]:
        """Admin/bot credentials on the chat host (`chat_auth`)."""
        auth = self._config.chat_auth
        assert auth is not None
        headers = auth.headers(self._config.app_id or "")
        return frozen_headers(_completed(headers, acting_as, with_body=with_body))

    def key_headers(
        self, acting_as: str | None, *, with_body: bool
    ) -> Mapping[str, str]:
        cache_key = (acting_as, with_body)
        found = self._header_cache.get(cache_key)
        if found is None:
            headers = _completed(
                {"Api-Key": self._config.api_key}, acting_as, with_body=with_body
            )
            if len(self._header_cache) >= _CACHE_LIMIT:
                self._header_cache.clear()
            found = self._header_cache[cache_key] = frozen_headers(headers)
        return found

    def user_headers(self, token: str, *, with_body: bool) -> dict[str, str]:
        headers = {
            "Application-Key": self._config.app_id or "",
            "X-Authorization": token,
            "Accept": ACCEPT,
            "User-Agent": USER_AGENT,
        }
        if with_body:
            headers["Content-Type"] = JSON
        return headers

    def public_headers(self) -> dict[str, str]:
        """Headers of a chat-host call without user credentials (registration):
        the app id rides along as `Application-Key`, as the Android and iOS SDKs
        send it (docs/wire.md#users)."""
        headers = {"Content-Type": JSON, "Accept": ACCEPT, "User-Agent": USER_AGENT}
        if self._config.app_id:
            headers["Application-Key"] = self._config.app_id
        return headers


def _completed(
    headers: dict[str, str], acting_as: str | None, *, with_body: bool
) -> dict[str, str]:
    """`headers` (the credentials) plus what every session-credential call sends."""
    headers["Accept"] = ACCEPT
    headers["User-Agent"] = USER_AGENT
    if with_body:
        headers["Content-Type"] = JSON
    if acting_as is not None:
        headers["Of-User-Id"] = acting_as
    return headers


def chat_hint(config: SessionConfig) -> str:
    """What to try after a 401/404 on a chat-host path (docs/wire.md#hosts)."""
    if config.chat_auth is None:
        return (
            f"this chat-host path went to base_url ({config.base_url}) with Api-Key, "
            "which Kommunicate does not document; try chat_auth=ChatAuth.bot(...) "
            "or ChatAuth.admin(...) (sent to chat_url), or users.login() the user"
        )
    return (
        f"this chat-host path went to chat_url ({config.chat_url}) with "
        f"ChatAuth.{config.chat_auth.kind} credentials; check them and chat_url "
        "(the app's region), or drop chat_auth to use Api-Key on base_url"
    )


def redirect_target(
    route: Route, sent_to: str | URL, reply: HttpReply, count: int
) -> URL:
    """Where to follow a 3xx, or raise: credentials never leave the origin."""
    location = reply.location
    refused: str | None = None
    url = URL(sent_to) if isinstance(sent_to, str) else sent_to
    target = url
    if not location:
        refused = "a redirect without a Location"
    elif (joined := _joined(url, location)) is None:
        refused = "a redirect to an unusable Location"
    else:
        target = joined
        if target.origin() != url.origin():
            refused = f"a redirect to another origin ({target.scheme}://{target.host})"
        elif reply.status not in (307, 308) and route.method != "GET":
            refused = f"a {reply.status} redirect of a {route.method} request"
        elif count > _MAX_REDIRECTS:
            refused = f"more than {_MAX_REDIRECTS} redirects"
    if refused is not None:
        raise APIError(reply.status, None, f"refused to follow {refused}")
    return target


def _joined(url: URL, location: str) -> URL | None:
    """`location` resolved against `url`, or None if it is not a usable http(s)
    URL (`file:`, `data:`, `http://[::1`, port 99999: yarl raises ValueError)."""
    try:
        target = url.join(URL(location))
        if target.scheme not in ("http", "https") or not target.host:
            return None
        target.origin()
        _ = target.port
    except (ValueError, TypeError, UnicodeError):
        return None
    return target
