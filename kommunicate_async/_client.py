"""The call pipeline: pick host and auth, send, retry, refresh tokens, decode.

Every resource method ends in `ApiClient.call()`. The hot path (a message send)
costs a cached URL, a cached header dict, one transport attempt and one typed
decode; everything else (retries, redirects, token refresh) is off that path.
"""

from __future__ import annotations

import logging
import time
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar
from urllib.parse import quote

import anyio

from ._auth import TokenStore, UserCredential
from ._codec import encode
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    KommunicateError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from ._http import URL, HttpReply, HttpTransport, client_timeout
from ._reply import error_from_body, reply_decoder
from ._retry import (
    MAX_RETRY_AFTER,
    Backoff,
    RetryBudget,
    is_retryable,
    parse_retry_after,
)
from ._version import __version__
from .models.auth import RefreshTokenBody

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._config import SessionConfig

__all__ = ["ApiClient", "Host", "Route"]

T = TypeVar("T")

_log: Final = logging.getLogger("kommunicate_async")
_JSON: Final = "application/json"
_USER_AGENT: Final = f"kommunicate-async/{__version__}"
_MAX_REDIRECTS: Final = 3
_HEADER_CACHE_LIMIT: Final = 4096


class Host(Enum):
    """Which base URL and auth a route uses (reference §1.2)."""

    PLATFORM = "platform"
    """services.kommunicate.io with `Api-Key` (P1–P7b)."""
    CHAT = "chat"
    """Applozic `/rest/ws/*` paths: a logged-in user's JWT on the chat host, else
    `Api-Key` + `Of-User-Id` on the platform host (UNCERTAIN, reference §9 q4)."""
    CHAT_PUBLIC = "chat-public"
    """Chat-host calls with their own headers (register, token refresh)."""


class Route(NamedTuple):
    """One endpoint: method, path, host, and whether repeating it is harmless."""

    method: str
    path: str
    host: Host = Host.PLATFORM
    idempotent: bool = True


REFRESH_TOKEN: Final = Route(
    "POST", "/rest/ws/register/refresh/token", Host.CHAT_PUBLIC
)


class ApiClient:
    """Sends requests for one session; shared by all of its resources."""

    __slots__ = (
        "_backoff",
        "_config",
        "_header_cache",
        "_key_bytes",
        "_pause_until",
        "_transport",
        "_urls",
        "budget",
        "tokens",
    )

    def __init__(
        self,
        config: SessionConfig,
        transport: HttpTransport,
        *,
        budget: RetryBudget | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self._config = config
        self._transport = transport
        self.budget = budget or RetryBudget()
        self._backoff = backoff or Backoff()
        self._pause_until = 0.0
        self._urls: dict[tuple[str, str], URL] = {}
        self._header_cache: dict[tuple[str | None, bool], dict[str, str]] = {}
        self._key_bytes = config.api_key.encode()
        self.tokens = TokenStore(self._refresh_token)

    @property
    def config(self) -> SessionConfig:
        """The session's resolved configuration."""
        return self._config

    @property
    def transport(self) -> HttpTransport:
        """The HTTP transport (pool owner)."""
        return self._transport

    # -- public entry points -------------------------------------------------------

    async def call(
        self,
        route: Route,
        result_type: Any,
        *,
        params: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
        acting_as: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send `route` and decode the reply as `result_type` (None if empty)."""
        reply = await self.request(
            route, params=params, body=body, acting_as=acting_as, headers=headers
        )
        try:
            return reply_decoder(result_type).decode(reply.body, reply.status)
        except ResponseValidationError as exc:
            # A 2xx we cannot read still means the server acted on the request.
            exc.ambiguous = not route.idempotent
            raise

    async def request(
        self,
        route: Route,
        *,
        params: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
        acting_as: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        """Send with retries; return the first 2xx reply or raise the last error."""
        timeouts = self._config.timeouts
        deadline = None if timeouts.total is None else time.monotonic() + timeouts.total
        self.budget.record_attempt()
        retries = 0
        replayed = False
        redirects = 0
        redirect_url: URL | None = None
        while True:
            if self._pause_until:
                await self._wait_out_pause(deadline)
            cred: UserCredential | None = None
            token = ""
            if headers is not None:
                url, sent_headers = self.url(self._config.chat_url, route.path), headers
            elif (
                route.host is Host.CHAT
                and acting_as is not None
                and (cred := self.tokens.get(acting_as))
            ):
                token = await self.tokens.fresh_token(cred)
                url = self.url(self._config.chat_url, route.path)
                sent_headers = self._user_headers(
                    token, with_body=route.method != "GET"
                )
            else:
                url = self.url(self._config.base_url, route.path)
                sent_headers = self._key_headers(
                    acting_as, with_body=route.method != "GET"
                )
            if redirect_url is not None:
                url, params = redirect_url, None  # the Location carries its own query
            timeout = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise APITimeoutError(
                        f"{route.method} {route.path}: exceeded the total timeout of "
                        f"{timeouts.total:g}s",
                        sent=retries > 0,
                    )
                if remaining < timeouts.attempt:
                    timeout = client_timeout(timeouts, remaining)
            error: KommunicateError
            try:
                reply = await self._transport.send(
                    route.method,
                    url,
                    headers=sent_headers,
                    params=params,
                    data=body,
                    attempt_timeout=timeout,
                )
            except APIConnectionError as exc:
                exc.ambiguous = exc.sent and not route.idempotent
                error = exc
            else:
                status = reply.status
                if 200 <= status < 300 and not _is_html(reply.body):
                    if _log.isEnabledFor(logging.DEBUG):
                        _log.debug("%s %s -> %d", route.method, route.path, status)
                    return reply
                if 300 <= status < 400:
                    redirects += 1
                    redirect_url = self._redirect(route, url, reply, redirects)
                    continue
                if status == 401 and cred is not None and not replayed:
                    replayed = True
                    await self.tokens.replace_rejected(cred, token)
                    continue
                error = self._reply_error(reply, route)
            delay = self._retry_delay(error, route, retries, deadline)
            if delay is None:
                raise error
            _log.info(
                "%s %s failed (%s); retry %d in %.2fs",
                route.method,
                route.path,
                type(error).__name__,
                retries + 1,
                delay,
            )
            retries += 1
            if not isinstance(error, RateLimitError):
                await anyio.sleep(delay)
            # After a 429 the wait is the session-wide pause, at the top of the loop.

    # -- pieces ---------------------------------------------------------------------

    def url(self, base: str, path: str) -> URL:
        """The parsed URL for `base` + `path`, cached (yarl parsing is not free)."""
        key = (base, path)
        found = self._urls.get(key)
        if found is None:
            found = self._urls[key] = URL(base + path, encoded=False)
        return found

    def _key_headers(self, acting_as: str | None, *, with_body: bool) -> dict[str, str]:
        cache_key = (acting_as, with_body)
        found = self._header_cache.get(cache_key)
        if found is None:
            found = {"Api-Key": self._config.api_key, "User-Agent": _USER_AGENT}
            if with_body:
                found["Content-Type"] = _JSON
            if acting_as is not None:
                found["Of-User-Id"] = acting_as
            if len(self._header_cache) >= _HEADER_CACHE_LIMIT:
                self._header_cache.clear()
            self._header_cache[cache_key] = found
        return found

    def _user_headers(self, token: str, *, with_body: bool) -> dict[str, str]:
        headers = {
            "Application-Key": self._config.app_id or "",
            "X-Authorization": token,
            "User-Agent": _USER_AGENT,
        }
        if with_body:
            headers["Content-Type"] = _JSON
        return headers

    def public_headers(self) -> dict[str, str]:
        """Headers of an unauthenticated chat-host call (user registration)."""
        return {"Content-Type": _JSON, "User-Agent": _USER_AGENT}

    def _reply_error(self, reply: HttpReply, route: Route) -> APIError:
        body = reply.body
        if self._key_bytes in body:  # never echo a secret into an exception
            body = body.replace(self._key_bytes, b"[redacted]")
        retry_after = parse_retry_after(reply.retry_after, now=time.time())
        status = reply.status
        if 200 <= status < 300:  # an HTML page with a 2xx status
            status = 503
        error = error_from_body(status, body, retry_after=retry_after)
        error.ambiguous = not route.idempotent and isinstance(error, ServerError)
        return error

    def _redirect(self, route: Route, url: URL, reply: HttpReply, count: int) -> URL:
        """Where to follow a 3xx, or raise: credentials never leave the origin."""
        location = reply.location
        refused: str | None = None
        target = url
        if not location:
            refused = "a redirect without a Location"
        else:
            target = url.join(URL(location))
            if target.origin() != url.origin():
                refused = (
                    f"a redirect to another origin ({target.scheme}://{target.host})"
                )
            elif reply.status not in (307, 308) and route.method != "GET":
                refused = f"a {reply.status} redirect of a {route.method} request"
            elif count > _MAX_REDIRECTS:
                refused = f"more than {_MAX_REDIRECTS} redirects"
        if refused is not None:
            raise APIError(reply.status, None, f"refused to follow {refused}")
        return target

    def _retry_delay(
        self,
        error: KommunicateError,
        route: Route,
        retries: int,
        deadline: float | None,
    ) -> float | None:
        if retries >= self._config.max_retries or not is_retryable(
            error, idempotent=route.idempotent
        ):
            return None
        delay = self._backoff.delay(retries)
        if isinstance(error, RateLimitError):
            if error.retry_after is not None:
                if error.retry_after > MAX_RETRY_AFTER:
                    return None
                delay = (
                    error.retry_after + delay / 8
                )  # a little jitter against the herd
            self._pause_until = max(self._pause_until, time.monotonic() + delay)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        if not self.budget.try_spend():
            return None
        return delay

    async def _wait_out_pause(self, deadline: float | None) -> None:
        """A 429 anywhere in the session pauses every call until Retry-After passes."""
        now = time.monotonic()
        wait = self._pause_until - now
        if wait <= 0:
            self._pause_until = 0.0
            return
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - now))
        await anyio.sleep(wait)

    async def _refresh_token(self, cred: UserCredential) -> str:
        app_id = self._config.app_id or ""
        headers = {
            "Application-Key": app_id,
            "Device-Key": cred.device_key,
            # The Android SDK URL-encodes this header on refresh (reference §2.4).
            "Of-User-Id": quote(cred.user_id, safe=""),
            "Content-Type": _JSON,
            "User-Agent": _USER_AGENT,
        }
        body = encode(RefreshTokenBody(application_id=app_id, user_id=cred.user_id))
        token: Any = await self.call(REFRESH_TOKEN, str, body=body, headers=headers)
        if not isinstance(token, str) or token.count(".") != 2:
            raise ResponseValidationError("token refresh returned no JWT")
        return token


def _is_html(body: bytes) -> bool:
    # Cheap first-byte test: JSON never starts with "<".
    return body[:1] == b"<" or (body[:1].isspace() and body.lstrip()[:1] == b"<")
