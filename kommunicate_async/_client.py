"""The call pipeline: pick host and auth, send, retry, refresh tokens, decode.

Every resource method ends in `ApiClient.call()`. The hot path (a message send)
costs a cached URL, a cached header dict, one transport attempt and one typed
decode; everything else (retries, redirects, token refresh) is off that path.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Final, TypeVar
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
from ._http import URL, HttpReply, HttpTransport, Upload, client_timeout
from ._reply import REPLY_DECODERS, error_from_body, reply_decoder
from ._retry import (
    MAX_RETRY_AFTER,
    Backoff,
    RetryBudget,
    is_retryable,
    parse_retry_after,
)
from ._routing import JSON, USER_AGENT, Host, Route, Targets, redirect_target
from .models.auth import RefreshTokenBody

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._config import SessionConfig

__all__ = ["ApiClient", "Host", "Route"]

T = TypeVar("T")

_log: Final = logging.getLogger("kommunicate_async")
_JSON_START: Final = (b"{", b"[", b'"')


REFRESH_TOKEN: Final = Route(
    "POST", "/rest/ws/register/refresh/token", Host.CHAT_PUBLIC
)


class ApiClient:
    """Sends requests for one session; shared by all of its resources."""

    __slots__ = (
        "_backoff",
        "_config",
        "_key_bytes",
        "_pause_until",
        "_trim_first",
        "_transport",
        "budget",
        "targets",
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
        total, attempt = config.timeouts.total, config.timeouts.attempt
        self._trim_first = total is not None and total < attempt
        self.targets = Targets(config)
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
        body: bytes | Upload | None = None,
        acting_as: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Any:
        """Send `route` with retries; decode the first 2xx reply as `result_type`.

        `max_retries` overrides the session's for this call (the batch sender passes
        0 and retries at its own level, where it can reconcile first). Raises the
        last error.
        """
        timeouts = self._config.timeouts
        retry_limit = self._config.max_retries if max_retries is None else max_retries
        deadline = None if timeouts.total is None else time.monotonic() + timeouts.total
        # The first attempt needs no deadline arithmetic unless the whole-call budget
        # is shorter than one attempt: the common case stays cheap.
        check_deadline = self._trim_first
        targets = self.targets
        self.budget.record_attempt()
        retries = 0
        replayed = False
        redirects = 0
        redirect_url: URL | None = None
        while True:
            if self._pause_until:
                await self._wait_out_pause(deadline)
                check_deadline = True
            url: str | URL
            cred: UserCredential | None = None
            token = ""
            if headers is not None:
                url, sent_headers = (
                    targets.url(self._config.chat_url, route.path),
                    headers,
                )
            elif (
                route.host is Host.CHAT
                and acting_as is not None
                and (cred := self.tokens.get(acting_as))
            ):
                token = await self.tokens.fresh_token(cred)
                url = targets.url(self._config.chat_url, route.path)
                sent_headers = targets.user_headers(
                    token, with_body=route.method != "GET"
                )
            else:
                url, sent_headers = targets.by_key.get(
                    (route, acting_as)
                ) or targets.key_target(route, acting_as)
            if redirect_url is not None:
                url, params = redirect_url, None  # the Location carries its own query
            timeout = None
            if deadline is not None and check_deadline:
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
                    route.method, url, sent_headers, params, body, timeout
                )
            except APIConnectionError as exc:
                exc.ambiguous = exc.sent and not route.idempotent
                error = exc
            else:
                status, reply_body = reply[0], reply[1]
                if 200 <= status < 300 and (
                    reply_body[:1] in _JSON_START or not _is_html(reply_body)
                ):
                    # Successes are not logged: at batch rates that is the whole log.
                    decoder = REPLY_DECODERS.get(result_type) or reply_decoder(
                        result_type
                    )
                    try:
                        return decoder.decode(reply_body, status)
                    except ResponseValidationError as exc:
                        # A 2xx we cannot read still means the server acted on it.
                        exc.ambiguous = not route.idempotent
                        raise
                if 300 <= status < 400:
                    redirects += 1
                    redirect_url = redirect_target(route, url, reply, redirects)
                    continue
                if status == 401 and cred is not None and not replayed:
                    replayed = True
                    await self.tokens.replace_rejected(cred, token)
                    continue
                error = self._reply_error(reply, route)
            delay = self.plan_retry(
                error,
                retryable=is_retryable(error, idempotent=route.idempotent),
                retries_done=retries,
                max_retries=retry_limit,
                deadline=deadline,
            )
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
            check_deadline = True
            if not isinstance(error, RateLimitError):
                await anyio.sleep(delay)
            # After a 429 the wait is the session-wide pause, at the top of the loop.

    # -- pieces ---------------------------------------------------------------------

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

    def plan_retry(
        self,
        error: KommunicateError,
        *,
        retryable: bool,
        retries_done: int,
        max_retries: int,
        deadline: float | None = None,
    ) -> float | None:
        """Seconds to wait before retrying after `error`, or None to give up.

        Gives up when `retryable` is False, retries are used up, the wait would pass
        `deadline` (monotonic), a Retry-After is too long, or the session's retry
        budget is spent. A 429 pauses the whole session for its wait.
        """
        if retries_done >= max_retries or not retryable:
            return None
        delay = self._backoff.delay(retries_done)
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

    async def wait_before_retry(self, error: KommunicateError, delay: float) -> None:
        """Sleep `delay`, or after a 429 wait out the session-wide pause."""
        if isinstance(error, RateLimitError):
            await self._wait_out_pause(None)
        else:
            await anyio.sleep(delay)

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
            "Content-Type": JSON,
            "User-Agent": USER_AGENT,
        }
        body = encode(RefreshTokenBody(application_id=app_id, user_id=cred.user_id))
        token: Any = await self.call(REFRESH_TOKEN, str, body=body, headers=headers)
        if not isinstance(token, str) or token.count(".") != 2:
            raise ResponseValidationError("token refresh returned no JWT")
        return token


def _is_html(body: bytes) -> bool:
    # Cheap first-byte test: JSON never starts with "<".
    return body[:1] == b"<" or (body[:1].isspace() and body.lstrip()[:1] == b"<")
