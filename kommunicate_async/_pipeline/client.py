"""The call pipeline: one typed entry point in small layers.

    call()            a cached target and one `_attempt`; on success, the decode.
                      Anything else goes on to
    _retrying()       the retry loop: a pure decision (`plan_retry`) per failure,
    _exchange()       the 429 pause, then `_target` (host and credentials), then
    _follow()         redirects within the origin and one token-refresh replay,
    _attempt()        the one copy of a transport attempt, within the `Deadline`.

Layers hand each other values: a `Target` in, an outcome (reply or connection
error) out; the `Exchange` keeps only what crosses attempts.
A method that makes several requests (a clientGroupId lookup, then the change)
passes one `Deadline` to each, so the session's total timeout covers them all.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Final, Literal, TypeVar, cast, overload
from urllib.parse import quote

import anyio
import msgspec

from .._codec import encode
from .._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    KommunicateError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    api_error,
)
from .._explain import explain, request_id_of
from .._logging import log
from .._telemetry import active as telemetry
from .._validate import check_encodable
from ..models.auth import RefreshTokenBody
from .call_state import Deadline, Exchange, Pause, Target
from .headroom import Headroom, for_bots
from .reply import (
    JSON_START,
    REPLY_DECODERS,
    NoResult,
    ReplyDecoder,
    error_from_body,
    excerpt,
    is_html,
    reply_decoder,
)
from .retry import (
    MAX_RETRY_AFTER,
    Backoff,
    RetryBudget,
    is_retryable,
    parse_retry_after,
)
from .routing import (
    ACCEPT,
    JSON,
    USER_AGENT,
    Host,
    Route,
    Targets,
    chat_hint,
    redirect_target,
)
from .tokens import TokenStore, UserCredential, check_credential
from .transport import HttpReply

if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping

    from .._config import SessionConfig
    from .._telemetry._live import CallTrace, Telemetry
    from .transport import HttpTransport, Upload

    Sent = tuple[HttpReply | APIConnectionError, Target]
    """An attempt's outcome and the target it went to."""

__all__ = ["ApiClient", "Deadline", "Host", "Route"]

T = TypeVar("T")

_log: Final = log
_DEBUG: Final = logging.DEBUG

_USER_HOSTS: Final = (Host.CHAT, Host.APP)
"""Hosts where a logged-in user's JWT replaces the session's credentials."""

REFRESH_TOKEN: Final = Route(
    "POST", "/rest/ws/register/refresh/token", Host.CHAT_PUBLIC
)


class ApiClient:
    """Sends requests for one session; shared by all of its resources."""

    __slots__ = (
        "_backoff",
        "_config",
        "_first_attempt",
        "_pause",
        "_transport",
        "budget",
        "headroom",
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
        self._pause = Pause()
        self.headroom = Headroom()
        """What replies' rate-limit headers say is left (docs/guides/rate-limits.md)."""
        attempt, total = config.timeouts.attempt, config.timeouts.total
        self._first_attempt = attempt if total is None else min(attempt, total)
        self.targets = Targets(config)
        secrets = transport.secrets
        secrets.add(config.api_key)
        if config.app_token is not None:
            secrets.add(config.app_token)
        if config.chat_auth is not None:
            for secret in config.chat_auth.secrets():
                secrets.add(secret)
        self.tokens = TokenStore(self._refresh_token, secrets=secrets)

    @property
    def config(self) -> SessionConfig:
        """The session's resolved configuration."""
        return self._config

    @property
    def transport(self) -> HttpTransport:
        """The HTTP transport (pool owner)."""
        return self._transport

    def with_config(self, config: SessionConfig) -> ApiClient:
        """A client with other timeouts/retries sharing this one's pool, tokens,
        retry budget and 429 pause (what `KommunicateSession.with_options` uses)."""
        view = ApiClient(
            config, self._transport, budget=self.budget, backoff=self._backoff
        )
        view.tokens = self.tokens
        view.targets = self.targets
        view._pause = self._pause
        view.headroom = self.headroom
        return view

    def deadline(self) -> Deadline:
        """A new whole-call budget from the session's `Timeouts.total`."""
        return Deadline(self._config.timeouts.total)

    @overload
    async def call(
        self,
        route: Route,
        result_type: type[T],
        *,
        empty: Literal[False] = False,
        params: Mapping[str, str | int] | None = None,
        body: bytes | Upload | None = None,
        acting_as: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        deadline: Deadline | None = None,
        first_attempt: bool = True,
    ) -> T: ...

    @overload
    async def call(
        self,
        route: Route,
        result_type: type[T],
        *,
        empty: Literal[True],
        params: Mapping[str, str | int] | None = None,
        body: bytes | Upload | None = None,
        acting_as: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        deadline: Deadline | None = None,
        first_attempt: bool = True,
    ) -> T | None: ...

    async def call(
        self,
        route: Route,
        result_type: type[T],
        *,
        empty: bool = False,
        params: Mapping[str, str | int] | None = None,
        body: bytes | Upload | None = None,
        acting_as: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        deadline: Deadline | None = None,
        first_attempt: bool = True,
    ) -> T | None:
        """Send `route`; decode the first 2xx reply as `result_type`.

        A success with no result (an empty body, an envelope without `response`)
        raises `ResponseValidationError` (ambiguous for a non-idempotent route:
        the server acted); with `empty=True`, where that is normal, it is None
        (`NoResult` calls always are). `max_retries` overrides
        the session's for this call (the batch retries at its own level);
        `deadline` shares one budget between the calls of one method;
        `first_attempt=False` for a call that is itself paid for by the retry
        budget (a batch's reconcile read): it then adds nothing to the budget.
        """
        try:
            if first_attempt:  # checks and bookkeeping before any attempt
                self.budget.record_attempt()
            if params is not None:
                _check_params(params)
            traced = telemetry()  # None (two dict lookups) unless OTel is set up
            if not self._plain(route, acting_as, headers, deadline, traced):
                exchange = Exchange(
                    route, params, body, acting_as, headers, deadline or self.deadline()
                )
                limit = self._limit(max_retries)
                return await self._layers(traced, exchange, result_type, limit, empty)
            # The common case: a cached target, one attempt, one decode; the call's
            # state is built only if that attempt fails (5k instructions less per
            # send than building it first, benchmarks/README.md).
            started = time.monotonic()
            target = self.targets.by_key.get(
                (route, acting_as)
            ) or self.targets.key_target(route, acting_as)
            outcome = await self._attempt(
                route, target, params, body, self._first_attempt, 1, acting_as, None
            )
            if type(outcome) is HttpReply and _succeeded(outcome):
                return self._decode(route, result_type, outcome, empty)
            total = self._config.timeouts.total
            exchange = Exchange(
                route, params, body, acting_as, None, Deadline(total, started=started)
            )
            return await self._retrying(
                exchange,
                result_type,
                self._limit(max_retries),
                empty,
                (outcome, target),
            )
        except APIError as exc:  # say which call, about what, and what to do
            self._explain_call(exc, route, params, body, acting_as, headers)
            raise

    def _limit(self, max_retries: int | None) -> int:
        """The call's retry limit (asked for only once an attempt failed)."""
        return self._config.max_retries if max_retries is None else max_retries

    def _explain_call(
        self,
        exc: APIError,
        route: Route,
        params: Mapping[str, str | int] | None,
        body: bytes | Upload | None,
        acting_as: str | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        """`explain` `exc` for `call`; sync and off the success path, so the fast
        path keeps its one coroutine frame."""
        explain(
            exc,
            method=route.method,
            path=route.path,
            params=params,
            body=body,
            by_key=headers is None
            and not (
                route.host is Host.CHAT
                and (acting_as in self.tokens or self._config.chat_auth)
            ),
        )

    def _plain(
        self,
        route: Route,
        acting_as: str | None,
        headers: Mapping[str, str] | None,
        deadline: Deadline | None,
        traced: Telemetry | None,
    ) -> bool:
        """An `Api-Key` call with no shared deadline and no 429 pause in force, not
        traced: the fast path's case."""
        return not (
            traced is not None
            or deadline is not None
            or self._pause.until
            or self.headroom.hot
            or headers is not None
            or (route.host in _USER_HOSTS and acting_as in self.tokens)
        )

    # -- the layers -----------------------------------------------------------------

    def _layers(
        self,
        traced: Telemetry | None,
        exchange: Exchange,
        result_type: type[T],
        limit: int,
        empty: bool,
    ) -> Awaitable[T | None]:
        """`_retrying` from the start, inside the call's span when traced (no
        coroutine frame of its own: it hands back the one to await)."""
        if traced is None:
            return self._retrying(exchange, result_type, limit, empty, None)
        return traced.call(self._retrying, exchange, result_type, limit, empty)

    async def _retrying(
        self,
        exchange: Exchange,
        result_type: type[T],
        limit: int,
        empty: bool,
        first: Sent | None,
    ) -> T | None:
        """Exchanges until a success, or the last error once retrying must stop;
        `first`: the fast path's attempt, already made."""
        route = exchange.route
        sent = first
        while True:
            if sent is None:
                sent = await self._exchange(exchange)
            outcome, target = sent
            if isinstance(outcome, HttpReply):
                outcome, target = await self._follow(exchange, target, outcome)
            if isinstance(outcome, HttpReply):
                if _succeeded(outcome):
                    return self._decode(route, result_type, outcome, empty)
                error: KommunicateError = self._reply_error(
                    outcome,
                    route,
                    by_key=target.cred is None and exchange.headers is None,
                )
            else:
                error = outcome
            delay = self.plan_retry(
                error,
                retryable=is_retryable(error, idempotent=route.idempotent),
                retries_done=exchange.retries,
                max_retries=limit,
                deadline=exchange.deadline.at,
            )
            if delay is None:
                raise self._given_up(exchange, error)
            if exchange.trace is not None:
                exchange.trace.retrying(error, delay)
            _log.info(
                "%s %s failed (%s); retry %d in %.2fs",
                route.method,
                route.path,
                type(error).__name__,
                exchange.retries + 1,
                delay,
            )
            exchange.retries += 1
            if isinstance(error, RateLimitError):  # waited out atop `_exchange`,
                self._hold_for_429(error, delay)  # within this call's deadline
            else:
                await anyio.sleep(delay)
            sent = None

    def _given_up(
        self, exchange: Exchange, error: KommunicateError
    ) -> KommunicateError:
        """`error`, to raise now that retrying stops (logged if worth a look)."""
        self._hold_for_429(error, None)  # quiet asked for, even if we stop
        if exchange.retries or not isinstance(error, APIError):
            route = exchange.route
            _log.warning(
                "%s %s gave up after %d attempt(s): %s",
                route.method,
                route.path,
                exchange.retries + 1,
                type(error).__name__,
            )
        return error

    async def _exchange(self, exchange: Exchange) -> Sent:
        """Wait out a 429 pause, pick host and credentials, make one attempt."""
        if self._pause.until:
            await self._wait_out_pause(exchange.deadline.at)
        if self.headroom.hot:
            await self._wait_for_headroom(exchange.deadline.at)
        target = await self._target(exchange)
        return await self._attempt_within(exchange, target), target

    async def _target(self, exchange: Exchange) -> Target:
        """The URL and headers: given ones, a logged-in user's JWT, or the Api-Key;
        the redirect's Location once there was one."""
        route, acting_as, targets = exchange.route, exchange.acting_as, self.targets
        if exchange.headers is not None:
            target = Target(
                targets.url(targets.base_of(route), route.path), exchange.headers
            )
        elif (
            route.host in _USER_HOSTS
            and acting_as is not None
            and (cred := self.tokens.get(acting_as))
        ):
            token = await self.tokens.fresh_token(cred, exchange.deadline)
            target = Target(
                targets.url(targets.base_of(route), route.path),
                targets.user_headers(token, with_body=route.method != "GET"),
                cred,
                token,
            )
        else:
            target = targets.key_target(route, acting_as)
        if exchange.redirected is not None:
            return target._replace(url=exchange.redirected)
        return target

    async def _follow(
        self, exchange: Exchange, target: Target, reply: HttpReply
    ) -> Sent:
        """Follow same-origin redirects and replay once after a rejected token."""
        redirects = 0
        while True:
            if 300 <= reply.status < 400:
                redirects += 1
                exchange.redirected = redirect_target(
                    exchange.route, target.url, reply, redirects
                )
                target = target._replace(url=exchange.redirected)
            elif reply.status == 401 and target.cred and not exchange.replayed:
                exchange.replayed = True
                await self.tokens.replace_rejected(
                    target.cred, target.token, exchange.deadline
                )
                target = await self._target(exchange)
            else:
                return reply, target
            outcome = await self._attempt_within(exchange, target)
            if not isinstance(outcome, HttpReply):
                return outcome, target
            reply = outcome

    def _attempt_within(
        self, exchange: Exchange, target: Target
    ) -> Awaitable[HttpReply | APIConnectionError]:
        """`_attempt` with what is left of the call's deadline (no coroutine frame
        of its own); none left raises `APITimeoutError`."""
        route = exchange.route
        timeout = exchange.deadline.attempt_timeout(self._config.timeouts.attempt)
        if timeout <= 0:
            raise APITimeoutError(
                f"{route.method} {route.path}: exceeded the total timeout of "
                f"{exchange.deadline.total:g}s",
                sent=exchange.retries > 0,
            )
        return self._attempt(
            route,
            target,
            exchange.query(),
            exchange.body,
            timeout,
            exchange.retries + 1,
            exchange.acting_as,
            exchange.trace,
        )

    async def _attempt(
        self,
        route: Route,
        target: Target,
        params: Mapping[str, str | int] | None,
        body: bytes | Upload | None,
        seconds: float,
        number: int,
        acting_as: str | None,
        trace: CallTrace | None,
    ) -> HttpReply | APIConnectionError:
        """One transport attempt of at most `seconds`, the only one: the
        fast path and the retry loop both come here. A connection error is
        returned; `number` counts the call's attempts (for the log)."""
        started = time.monotonic()
        reply: HttpReply | APIConnectionError
        room = self.headroom
        sequence = room.sent  # which request a reply's rate-limit headers answer
        room.sent = sequence + 1
        try:
            reply = await self._transport.send(
                route.method, target.url, target.headers, params, body, seconds
            )
        except APIConnectionError as exc:
            reply = _unanswered(exc, route)
        except ResponseValidationError as exc:  # over the size cap: it was sent
            if trace is not None:  # an attempt the server answered, all the same
                trace.attempted(exc, target.url)
            raise _oversized(exc, route) from None
        if type(reply) is HttpReply and reply.headers is not None:
            room.observe(reply.headers, sequence, started)
        if _log.isEnabledFor(_DEBUG):
            _debug(route, reply, number, started, acting_as)
        if trace is not None:
            trace.attempted(reply, target.url)
        return reply

    def _decode(
        self, route: Route, result_type: type[T], reply: HttpReply, empty: bool
    ) -> T | None:
        if result_type is HttpReply:  # the raw view (`km.request(raw=True)`)
            return cast("T", reply)
        decoder = REPLY_DECODERS.get(result_type) or reply_decoder(result_type)
        failure: APIError | ResponseValidationError
        try:
            result: T | None = decoder.decode(reply.body, reply.status)
        except (APIError, ResponseValidationError) as exc:
            failure = exc
        except ConfigurationError:  # an AES body: says no secret, names no body
            raise
        except (msgspec.MsgspecError, RecursionError, ValueError, TypeError) as exc:
            # Whatever a hostile body trips deep inside a decoder: trailing
            # garbage, nesting past msgspec's limit, a number no type can hold.
            failure = ResponseValidationError(
                f"{route.method} {route.path}: unreadable reply "
                f"({type(exc).__name__}): {self._excerpt(reply.body)!r}",
                status=reply.status,
            )
        else:
            if result is not None or _may_be_empty(result_type, empty):
                return result
            failure = ResponseValidationError(
                f"{route.method} {route.path}: a success reply with no result",
                status=reply.status,
            )
        # Raised here, outside the `except`: the unredacted first error must not
        # ride along as `__context__`.
        raise self._decode_failure(failure, decoder, reply, route)

    def _decode_failure(
        self,
        exc: APIError | ResponseValidationError,
        decoder: ReplyDecoder[object],
        reply: HttpReply,
        route: Route,
    ) -> KommunicateError:
        """The error `_decode` raises: redacted, an API error tagged with the reply's
        request id."""
        error = self._redacted(exc, decoder, reply, route)
        if isinstance(error, APIError):
            error.request_id = request_id_of(reply.headers)
        return error

    def _redacted(
        self,
        exc: APIError | ResponseValidationError,
        decoder: ReplyDecoder[object],
        reply: HttpReply,
        route: Route,
    ) -> KommunicateError:
        """`exc`, or the same error rebuilt from the body with its secrets cut out."""
        secrets = self._transport.secrets
        error: KommunicateError = exc
        if secrets.found_in(reply.body):
            try:
                decoder.decode(secrets.redact_bytes(reply.body), reply.status)
            except KommunicateError as rebuilt:
                error = rebuilt
            except Exception:
                error = ResponseValidationError(
                    "unreadable reply (it echoed a secret, cut out here)",
                    status=reply.status,
                )
            else:  # redacting made it readable: still not a result to trust
                error = ResponseValidationError(
                    "unreadable reply (it echoed a secret)", status=reply.status
                )
        secrets.scrub(error)
        if isinstance(error, ResponseValidationError):
            # A 2xx we cannot read still means the server acted on it.
            error.ambiguous = not route.idempotent
        return error

    def _excerpt(self, body: bytes) -> str:
        return excerpt(self._transport.secrets.redact_bytes(body[:1024]))

    def _reply_error(
        self, reply: HttpReply, route: Route, *, by_key: bool = True
    ) -> APIError:
        """The error a failed reply means; `by_key`: sent with the session's own
        credentials (not a user's token, not a call's own headers)."""
        # never echo a secret into an exception, whatever the status
        body = self._transport.secrets.redact_bytes(reply.body)
        retry_after = parse_retry_after(reply.retry_after, now=time.time())
        status = reply.status
        if 200 <= status < 300:  # an HTML page with a 2xx status
            status = 503
        try:
            error = error_from_body(status, body, retry_after=retry_after)
        except (RecursionError, ValueError, TypeError, msgspec.MsgspecError):
            error = api_error(
                status, None, "unreadable error body", retry_after=retry_after
            )
        if (
            by_key
            and route.host is Host.CHAT
            and status in (401, 404)
            and not error.code
        ):  # a chat-host path the configured host may not serve (docs/wire.md#hosts)
            error = type(error)(
                status, None, f"{error.description}; {chat_hint(self._config)}"
            )
        self._transport.secrets.scrub(error)
        error.ambiguous = not route.idempotent and isinstance(error, ServerError)
        error.request_id = request_id_of(reply.headers)
        return error

    # -- retry decisions (the batch sender uses these too) -------------------------

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
        budget is spent. Pure: pausing the session after a 429 is the caller's
        part (`wait_before_retry`, or the retry loop when it gives up).
        """
        if retries_done >= max_retries or not retryable:
            return None
        delay = self._backoff.delay(retries_done)
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > MAX_RETRY_AFTER:
                return None
            delay = error.retry_after + delay / 8  # a little jitter against the herd
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        if not self.budget.try_spend():
            return None
        return delay

    def pause(self, seconds: float) -> None:
        """Hold every call of the session for `seconds` (after a 429)."""
        pause = self._pause
        pause.until = max(pause.until, time.monotonic() + seconds)
        if (traced := telemetry()) is not None:
            traced.paused(seconds)

    async def wait_before_retry(self, error: KommunicateError, delay: float) -> None:
        """Sleep `delay`; after a 429, pause the whole session for it and wait
        that pause out (other calls may have lengthened it)."""
        if isinstance(error, RateLimitError):
            self._hold_for_429(error, delay)
            await self._wait_out_pause(None)
        else:
            await anyio.sleep(delay)

    def _hold_for_429(self, error: KommunicateError, delay: float | None) -> None:
        """The one place a 429 pauses the session: for the planned wait, or, when
        the call gives up (Retry-After past its deadline), for what the server
        asked, up to `MAX_RETRY_AFTER`: the next call must not knock at once."""
        if not isinstance(error, RateLimitError):
            return
        seconds = delay if delay is not None else error.retry_after
        if seconds:
            self.pause(min(seconds, MAX_RETRY_AFTER))

    async def _wait_for_headroom(self, deadline: float | None) -> None:
        """Little left of the server's window: wait for the next one (within the
        call's deadline), before a 429 says so."""
        wait = self.headroom.hold(bots=for_bots())
        if wait <= 0:
            return
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - time.monotonic()))
        _log.debug("rate-limit headers: little left, waiting %.2fs", wait)
        await anyio.sleep(wait)

    async def _wait_out_pause(self, deadline: float | None) -> None:
        """A 429 anywhere in the session pauses every call until Retry-After passes."""
        now = time.monotonic()
        wait = self._pause.until - now
        if wait <= 0:
            self._pause.until = 0.0
            return
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - now))
        await anyio.sleep(wait)

    async def _refresh_token(self, cred: UserCredential) -> str:
        app_id = self._config.app_id or ""
        headers = {
            "Application-Key": app_id,
            "Device-Key": cred.device_key,
            # The Android SDK URL-encodes this header on refresh (docs/wire.md#users).
            "Of-User-Id": quote(cred.user_id, safe=""),
            "Content-Type": JSON,
            "Accept": ACCEPT,
            "User-Agent": USER_AGENT,
        }
        body = encode(RefreshTokenBody(application_id=app_id, user_id=cred.user_id))
        token = await self.call(REFRESH_TOKEN, str, body=body, headers=headers)
        if token.count(".") != 2:
            raise ResponseValidationError("token refresh returned no JWT")
        return check_credential(token, "the refreshed token")


def _check_params(params: Mapping[str, str | int]) -> None:
    """Query values must survive the trip: yarl silently drops what UTF-8 cannot
    encode, and "vip\\udc00-42" would name another conversation, "vip-42"."""
    for name, value in params.items():
        if type(value) is str and not value.isascii():
            check_encodable(value, name)


def _may_be_empty(result_type: object, empty: bool) -> bool:
    """Whether a success with no result is one: asked for (`empty=True`), or a
    `NoResult` call, which is empty by nature."""
    return empty or result_type is NoResult


def _succeeded(reply: HttpReply) -> bool:
    """A 2xx that is not an HTML page (a proxy's "success"); a body that starts
    as JSON does needs no `is_html` call (every success comes here)."""
    body = reply.body
    return 200 <= reply.status < 300 and (body[:1] in JSON_START or not is_html(body))


def _unanswered(exc: APIConnectionError, route: Route) -> APIConnectionError:
    """A connection failure, ambiguous when a non-idempotent request left."""
    exc.ambiguous = exc.sent and not route.idempotent
    return exc


def _oversized(exc: ResponseValidationError, route: Route) -> ResponseValidationError:
    """A reply over the size cap: the request was sent and maybe acted on."""
    exc.ambiguous = not route.idempotent
    return exc


def _debug(
    route: Route,
    outcome: HttpReply | APIConnectionError,
    attempt: int,
    started: float,
    acting: str | None,
) -> None:
    status = outcome.status if isinstance(outcome, HttpReply) else None
    _log.debug(
        "%s %s -> %s (attempt %d, %.1f ms%s)",
        route.method,
        route.path,
        "no answer" if status is None else status,
        attempt,
        (time.monotonic() - started) * 1000,
        f", as {acting}" if acting else "",
    )
