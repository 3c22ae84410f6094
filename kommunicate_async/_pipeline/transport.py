"""The only aiohttp importer (testing/ aside): one pooled session, one attempt.

`HttpTransport.send()` makes exactly one HTTP attempt and either returns the reply or
raises `APIConnectionError` / `APITimeoutError`, marked `sent=False` only when the
request certainly never left this process (the connection could not be opened).
Retries, auth and decoding live above it, in `client.py`.
"""

from __future__ import annotations

import asyncio
import io
import logging
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final, NoReturn

import aiohttp
import anyio
import msgspec
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .._config import DEFAULT_MAX_RESPONSE_BYTES
from .._errors import (
    APIConnectionError,
    APITimeoutError,
    EventLoopError,
    KommunicateError,
    ResponseValidationError,
    SessionClosedError,
)
from .._secrets import Secrets
from .watchdog import Watch, Watchdog

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Mapping

    from .._config import Timeouts

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "URL",
    "ClientSession",
    "HttpReply",
    "HttpTransport",
    "Upload",
    "env_proxy",
    "frozen_headers",
    "session_timeout",
]

ClientSession = aiohttp.ClientSession
_PLAIN_REQUEST: Final = (
    ClientSession.request if hasattr(ClientSession, "_request") else None
)
"""`ClientSession.request`, whose coroutine (`_request`) the transport awaits
directly; None if an aiohttp release drops that name (then `request()` it is)."""

_log: Final = logging.getLogger("kommunicate_async")
_CLOSE_GRACE: Final = 5.0
_LARGE_BODY: Final = 1 << 20
"""aiohttp warns (ResourceWarning) when handed raw bytes longer than this."""
"""Seconds `aclose()` may spend closing the pool, even under an outer cancel."""


class TransportFailure(Exception):
    """What aiohttp raised, kept as text only (the `__cause__` of our errors).

    aiohttp's exception objects hold the request they failed on, headers and all
    (`Api-Key`, `X-Authorization`): chaining them would put a secret one `repr` or
    one traceback away. This keeps their type and message, redacted.
    """


class HttpReply(msgspec.Struct, frozen=True, gc=False):
    """What one attempt brought back.

    A frozen msgspec Struct: built in C, cheaper than a NamedTuple's Python-level
    constructor on the send path.
    """

    status: int
    body: bytes
    retry_after: str | None = None
    location: str | None = None
    headers: CIMultiDictProxy[str] | None = None
    """The reply's headers (aiohttp's view, not copied): request ids, raw views."""


@dataclass(frozen=True, slots=True)
class Upload:
    """A multipart body with one file part (`file`), streamed from `source`.

    `source` is bytes, an open binary file (read in aiohttp's executor) or an
    async iterator of byte chunks; the part's Content-Type is `content_type`.
    """

    name: str
    content_type: str
    source: bytes | BinaryIO | AsyncIterator[bytes]

    def form(self) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field(
            "file", self.source, filename=self.name, content_type=self.content_type
        )
        return form


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, HTTP_PROXY, NO_PROXY,
    any case), as curl reads them; None for a direct connection."""
    parts = URL(url)
    if parts.host is None or urllib.request.proxy_bypass(parts.host):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


def _without_content_type(headers: Mapping[str, str]) -> dict[str, str]:
    # aiohttp writes the multipart Content-Type (with its boundary) itself.
    return {k: v for k, v in headers.items() if k.lower() != "content-type"}


def _mapped(
    exc: BaseException, watch: Watch, what: str, url: str | URL, secrets: Secrets
) -> tuple[BaseException, BaseException | None]:
    """(the error one attempt's failure means, its cause); an outside cancel and
    anything unknown stay what they are."""
    if isinstance(exc, asyncio.CancelledError):
        if watch.fired and watch.task.uncancel() == 0:  # our timeout, nobody else's
            return APITimeoutError(f"{what}: timed out"), None
        return exc, None
    cause = TransportFailure(secrets.redact(f"{type(exc).__name__}: {exc}"))
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(f"{what}: connect timed out", sent=False), cause
    if isinstance(exc, TimeoutError):  # a borrowed session's own timeouts
        return APITimeoutError(f"{what}: timed out"), cause
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNS, refused, TLS: not sent
        reason = secrets.redact(str(exc.os_error))
        error = APIConnectionError(
            f"{what}: cannot connect to {URL(url).host}: {reason}",
            sent=False,
            host_unknown=isinstance(exc, aiohttp.ClientConnectorDNSError),
        )
        return error, cause
    own = _own_error(exc)
    if own is not None:  # raised by our own upload stream (a size cap)
        return own, None
    # reset, disconnect, truncated body: the server may have acted on it
    return APIConnectionError(f"{what}: {cause}"), cause


def _payload(
    data: bytes | Upload | None, headers: Mapping[str, str]
) -> tuple[bytes | io.BytesIO | aiohttp.FormData | None, Mapping[str, str]]:
    """What aiohttp gets as `data`, and the headers to send with it."""
    if isinstance(data, Upload):
        return data.form(), _without_content_type(headers)
    if data is not None and len(data) > _LARGE_BODY:
        # aiohttp warns on raw bytes past 1 MiB (an error under
        # `-W error::ResourceWarning`); a stream of the same bytes does not.
        # A new stream per attempt: a retry re-reads from the start.
        return io.BytesIO(data), headers
    return data, headers


def frozen_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """Headers as aiohttp keeps them (a read-only CIMultiDict), built once and
    reused: aiohttp then skips a conversion per request (benchmarks/README.md)."""
    return CIMultiDictProxy(CIMultiDict(headers))


def _own_error(exc: BaseException) -> KommunicateError | None:
    """Our error, raised inside a request body stream, that aiohttp wrapped."""
    seen: BaseException | None = exc
    for _ in range(8):  # a short, bounded walk down the cause chain
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if isinstance(seen, KommunicateError):
            return seen
    return None


def _path(url: str | URL) -> str:
    return URL(url).path if isinstance(url, str) else url.path


def session_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    """aiohttp's own timeout: only the connect phase (the watchdog does the rest).

    `sock_connect`, not `connect`: aiohttp's `connect` also counts the wait for a
    free pooled connection, which is queueing, not a dead host.
    """
    return aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect)


async def _read_rest(
    content: aiohttp.StreamReader, first: bytes, cap: int
) -> bytes | None:
    """The whole body after its `first` chunk, or None once it passes `cap` bytes
    (what `read()` does, with a bound: aiohttp decompresses chunk by chunk, so a
    bomb stops at the cap too).

    Longer bodies grow one buffer rather than a list of chunks, so the peak stays
    near the body's size.
    """
    chunk = await content.readany()
    if not chunk:
        return first if len(first) <= cap else None
    buffer = bytearray(first)
    while chunk:
        if len(buffer) + len(chunk) > cap:
            return None
        buffer += chunk
        chunk = await content.readany()
    return bytes(buffer)


async def _read_and_release(resp: aiohttp.ClientResponse, cap: int) -> bytes | None:
    """The capped body; the connection back to the pool, or closed if not reusable.

    A one-chunk body (nearly every reply) is taken as is once the stream says it
    is at its end: no second `readany()` coroutine to learn that (benchmarks/README.md).
    """
    content = resp.content
    try:
        first = await content.readany()
        if content.at_eof():
            body = first if len(first) <= cap else None
        else:
            body = await _read_rest(content, first, cap)
    except BaseException:
        resp.close()  # a half-read connection is not reusable
        raise
    if body is None:
        resp.close()
    else:
        resp.release()
    return body


def _take_whole(resp: aiohttp.ClientResponse, cap: int) -> bytes | None:
    """`_read_and_release` for a reply that has all arrived (the parser saw its
    end while reading the headers): no coroutine, no `await` (benchmarks/README.md)."""
    try:
        body = resp.content.read_nowait()
    except BaseException:
        resp.close()
        raise
    if len(body) > cap:
        resp.close()
        return None
    resp.release()
    return body


async def _close_at_loop_end(
    transport: HttpTransport, session: aiohttp.ClientSession
) -> AsyncGenerator[None, None]:
    """Parked on the loop that opened the pool: asyncio.run(), anyio.run() and
    pytest's loops close async generators before the loop itself, so the pool is
    closed on its own loop (no ResourceWarning) and the next loop opens a new one."""
    try:
        yield
    finally:
        if transport.owns(session):
            transport.forget(session)
        if not session.closed:
            with anyio.move_on_after(_CLOSE_GRACE, shield=True):
                await session.close()


class Slots:
    """At most `max_connections` attempts in flight; the rest wait in a strict
    first-come-first-served queue (a freed slot goes to the oldest waiter, never
    back to the task that freed it, unlike aiohttp's pool)."""

    __slots__ = ("free", "waiters")

    def __init__(self, size: int) -> None:
        self.free = size
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def wait(self) -> None:
        """Queue for a slot (the caller saw none free)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot while being cancelled: pass it on
            else:
                self.waiters.remove(future)
            raise

    def release(self) -> None:
        """Hand the slot to the oldest waiter, or put it back."""
        waiters = self.waiters
        while waiters:
            future = waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.free += 1


class HttpTransport:
    """Owns (or borrows) one `aiohttp.ClientSession` with one pooled connector."""

    __slots__ = (
        "_attempt",
        "_closed",
        "_loop",
        "_loop_hook",
        "_max_bytes",
        "_max_connections",
        "_owns_session",
        "_proxy",
        "_session",
        "_slots",
        "_timeout",
        "_watchdog",
        "secrets",
    )

    def __init__(
        self,
        *,
        timeouts: Timeouts,
        max_connections: int,
        session: aiohttp.ClientSession | None = None,
        proxy: str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        secrets: Secrets | None = None,
    ) -> None:
        self._session = session
        self._proxy = proxy
        self._owns_session = session is None
        self._max_connections = max_connections
        self._max_bytes = max_response_bytes
        self._closed = False
        self._timeout = session_timeout(timeouts)
        self._attempt = timeouts.attempt
        self._watchdog = Watchdog()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_hook: AsyncGenerator[None, None] | None = None
        self._slots = Slots(max_connections)
        self.secrets = secrets or Secrets()
        """What error texts must never show (shared with the client)."""

    def owns(self, session: aiohttp.ClientSession) -> bool:
        """Whether `session` is the pool this transport opened and still uses."""
        return self._owns_session and self._session is session

    def forget(self, session: aiohttp.ClientSession) -> None:
        """Drop `session` (being closed with its loop); the next call opens anew."""
        if self._session is session:
            self._session, self._loop, self._loop_hook = None, None, None

    @property
    def closed(self) -> bool:
        """True once `aclose()` has been called."""
        return self._closed

    def open(self) -> aiohttp.ClientSession:
        """The session, created on first use: only then is an event loop running.

        A pool left behind by a closed event loop is replaced; one whose loop is
        still alive (another thread's) raises `EventLoopError`.
        """
        if self._closed:
            raise SessionClosedError(
                "this KommunicateSession is closed; create a new one"
            )
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is not None and self._loop is not loop:
            self._leave_loop(session, self._loop)
            session = self._session
        if session is None:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=self._timeout,
                # We never follow redirects blindly (see client.py); nothing to
                # auto-decompress we did not ask for; no cookies are part of the API.
                cookie_jar=aiohttp.DummyCookieJar(),
                # HTTPS_PROXY / NO_PROXY, read once (aiohttp's trust_env=True reads
                # netrc in a thread on every request: 5x the cost of a send).
                proxy=self._proxy,
            )
            self._park_close_hook(session)
        elif session.closed:
            raise SessionClosedError(
                "the aiohttp ClientSession passed as session= is closed"
            )
        if self._loop is not loop:  # waiters of a dead loop never wake
            self._slots = Slots(self._max_connections)
        self._loop = loop
        return session

    def _leave_loop(
        self, session: aiohttp.ClientSession, old: asyncio.AbstractEventLoop
    ) -> None:
        if not old.is_closed():
            raise EventLoopError(
                "this KommunicateSession is in use on another event loop that is "
                "still running (another thread?): create one session per event loop"
            )
        if not self._owns_session:
            raise EventLoopError(
                "the aiohttp ClientSession passed as session= belongs to an event "
                "loop that is closed: pass one made on the running loop"
            )
        # Normally closed already by the loop-end hook; a loop closed without
        # shutting its async generators down leaves dead sockets: drop them.
        hook, self._loop_hook = self._loop_hook, None
        if hook is not None:
            _log.debug("the previous event loop closed; opening a new pool")
        connector = session.connector
        if connector is not None:
            connector._close()  # pyright: ignore[reportPrivateUsage]
        session._connector = None  # pyright: ignore[reportPrivateUsage]
        self._session, self._loop = None, None

    def _park_close_hook(self, session: aiohttp.ClientSession) -> None:
        hook = _close_at_loop_end(self, session)
        step = hook.asend(None)  # registers the generator with the running loop
        try:
            step.send(None)
        except StopIteration:
            pass
        self._loop_hook = hook

    async def send(
        self,
        method: str,
        url: str | URL,
        headers: Mapping[str, str],
        params: Mapping[str, str | int] | None = None,
        data: bytes | Upload | None = None,
        attempt_seconds: float | None = None,
    ) -> HttpReply:
        """One HTTP attempt of at most `attempt_seconds` (the session's attempt
        timeout by default). Never follows redirects; the caller decides."""
        session = self._pool()
        form, headers = _payload(data, headers)
        limit = self._attempt if attempt_seconds is None else attempt_seconds
        slots = self._slots
        if slots.free and not slots.waiters:
            slots.free -= 1  # the common case: no await, no future
        else:
            await self._queue_for_connection(limit, method, url)
        # The attempt's clock starts only now: waiting for a connection is not an
        # attempt (a timeout there is `sent=False`, never ambiguous).
        watch = self._watchdog.watch(limit)
        failure: BaseException | None = None
        body: bytes | None = None
        resp: aiohttp.ClientResponse | None = None
        try:
            # `await` + `content.read()` + `release()` rather than `async with` and
            # `read()`: part of the 11k instructions a request this, cached headers and
            # URLs saved (benchmarks/README.md).
            # `_request`, the coroutine `request()` wraps, unless a subclass
            # overrides `request`: no wrapper object, kwargs dict or `__await__`
            # per request (benchmarks/README.md).
            request = (
                session._request  # pyright: ignore[reportPrivateUsage]
                if type(session).request is _PLAIN_REQUEST
                else session.request
            )
            resp = await request(
                method,
                url,
                params=params,
                data=form,
                headers=headers,
                allow_redirects=False,
            )
            if resp.content.is_eof():  # all of it is in (nearly always): no await
                body = _take_whole(resp, self._max_bytes)
            else:
                body = await _read_and_release(resp, self._max_bytes)
        except (asyncio.CancelledError, TimeoutError, aiohttp.ClientError) as exc:
            failure = exc
        finally:
            self._watchdog.unwatch(watch)
            if slots.waiters:
                slots.release()
            else:  # nobody waits: the slot goes back without a call
                slots.free += 1
        if failure is not None:
            # Raised outside the `except`: aiohttp's exception (and the request
            # headers it holds) must not ride along as `__context__` either.
            self._raise(failure, watch, method, url)
        assert resp is not None
        return self._reply_of(resp, body, method, url)

    def _reply_of(
        self,
        resp: aiohttp.ClientResponse,
        body: bytes | None,
        method: str,
        url: str | URL,
    ) -> HttpReply:
        """The attempt's reply; `body` None means it passed the size cap."""
        status = resp.status
        if body is None:
            raise ResponseValidationError(
                f"{method} {_path(url)}: reply larger than max_response_bytes "
                f"({self._max_bytes} bytes); not read further",
                status=status,
            )
        found = resp.headers
        if 200 <= status < 300:  # only errors and redirects read the headers
            return HttpReply(status, body, None, None, found)
        return HttpReply(
            status, body, found.get("Retry-After"), found.get("Location"), found
        )

    def _raise(
        self, failure: BaseException, watch: Watch, method: str, url: str | URL
    ) -> NoReturn:
        """Raise what an attempt's failure means (or the failure itself)."""
        error, cause = _mapped(
            failure, watch, f"{method} {_path(url)}", url, self.secrets
        )
        if error is failure:
            raise failure
        raise error from cause

    def _pool(self) -> aiohttp.ClientSession:
        """The session, as is when usable (open, on the running loop), else what
        `open()` makes of it."""
        session = self._session
        if (
            session is None
            or self._closed
            or session.closed
            or self._loop is not asyncio.get_running_loop()
        ):
            return self.open()
        return session

    async def _queue_for_connection(
        self, limit: float, method: str, url: str | URL
    ) -> None:
        """Wait, first come first served, for one of `max_connections` slots.

        aiohttp's own pool is not fair (a task that frees a connection takes it
        straight back), and its wait would count against the attempt: this queue
        keeps sends in flight at most the pool's size, so aiohttp always has a
        connection to hand out. A wait past `limit` fails `sent=False`.
        """
        watch = self._watchdog.watch(limit)
        try:
            await self._slots.wait()
        except asyncio.CancelledError:
            if watch.fired and watch.task.uncancel() == 0:  # our timeout
                failure = APITimeoutError(
                    f"{method} {_path(url)}: no free connection within {limit:g}s "
                    f"(max_connections={self._max_connections}); not sent",
                    sent=False,
                )
            else:
                raise
        else:
            return
        finally:
            self._watchdog.unwatch(watch)
        raise failure

    async def aclose(self) -> None:
        """Close the pool we own; idempotent; a borrowed session is left open."""
        self._closed = True
        session, self._session = self._session, None
        hook, self._loop_hook = self._loop_hook, None
        on_its_loop = self._loop is None or self._loop is asyncio.get_running_loop()
        self._loop = None
        if hook is not None and on_its_loop:
            await hook.aclose()  # its `finally` closes the pool
        if session is not None and self._owns_session and not session.closed:
            with anyio.move_on_after(_CLOSE_GRACE, shield=True):
                await session.close()
