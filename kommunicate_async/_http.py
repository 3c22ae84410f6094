"""The only aiohttp importer (testing/ aside): one pooled session, one attempt.

`HttpTransport.send()` makes exactly one HTTP attempt and either returns the reply or
raises `APIConnectionError` / `APITimeoutError`, marked `sent=False` only when the
request certainly never left this process (the connection could not be opened).
Retries, auth and decoding live above it, in `_client.py`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final, NamedTuple

import aiohttp
import anyio
from yarl import URL

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    KommunicateError,
    SessionClosedError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping

    from ._config import Timeouts

__all__ = ["URL", "ClientSession", "HttpReply", "HttpTransport", "Upload"]

ClientSession = aiohttp.ClientSession

_log: Final = logging.getLogger("kommunicate_async")
_CLOSE_GRACE: Final = 5.0
"""Seconds `aclose()` may spend closing the pool, even under an outer cancel."""


class HttpReply(NamedTuple):
    """What one attempt brought back."""

    status: int
    body: bytes
    retry_after: str | None
    location: str | None


# Builds an HttpReply without running NamedTuple's Python-level __new__.
_new_reply: Callable[[type[HttpReply], tuple[int, bytes, None, None]], HttpReply]
_new_reply = tuple.__new__  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType, reportAttributeAccessIssue, reportAssignmentType]


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


def client_timeout(
    timeouts: Timeouts, attempt: float | None = None
) -> aiohttp.ClientTimeout:
    """aiohttp's timeout for one attempt.

    `sock_connect`, not `connect`: aiohttp's `connect` also counts the wait for a
    free pooled connection, which is queueing, not a dead host.
    """
    limit = timeouts.attempt if attempt is None else attempt
    return aiohttp.ClientTimeout(total=limit, sock_connect=min(timeouts.connect, limit))


class HttpTransport:
    """Owns (or borrows) one `aiohttp.ClientSession` with one pooled connector."""

    __slots__ = (
        "_closed",
        "_max_connections",
        "_owns_session",
        "_session",
        "default_timeout",
    )

    def __init__(
        self,
        *,
        timeouts: Timeouts,
        max_connections: int,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._closed = False
        self.default_timeout = client_timeout(timeouts)

    @property
    def closed(self) -> bool:
        """True once `aclose()` has been called."""
        return self._closed

    def open(self) -> aiohttp.ClientSession:
        """The session, created on first use: only then is an event loop running."""
        if self._closed:
            raise SessionClosedError(
                "this KommunicateSession is closed; create a new one"
            )
        session = self._session
        if session is None:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=self.default_timeout,
                # We never follow redirects blindly (see _client.py); nothing to
                # auto-decompress we did not ask for; no cookies are part of the API.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        elif session.closed:
            raise SessionClosedError(
                "the aiohttp ClientSession passed as session= is closed"
            )
        return session

    async def send(
        self,
        method: str,
        url: str | URL,
        headers: Mapping[str, str],
        params: Mapping[str, str | int] | None = None,
        data: bytes | Upload | None = None,
        attempt_timeout: aiohttp.ClientTimeout | None = None,
    ) -> HttpReply:
        """One HTTP attempt. Never follows redirects; the caller decides."""
        session = self._session
        if session is None or self._closed or session.closed:
            session = self.open()
        if isinstance(data, Upload):  # aiohttp writes the multipart Content-Type
            headers = {k: v for k, v in headers.items() if k != "Content-Type"}
            form: bytes | aiohttp.FormData | None = data.form()
        else:
            form = data
        # Only pass `timeout=` when it differs from the session's own: aiohttp's
        # keyword handling is measurable at tens of thousands of requests a second.
        if attempt_timeout is None and self._owns_session:
            request = session.request(
                method,
                url,
                params=params,
                data=form,
                headers=headers,
                allow_redirects=False,
            )
        else:
            request = session.request(
                method,
                url,
                params=params,
                data=form,
                headers=headers,
                timeout=attempt_timeout or self.default_timeout,
                allow_redirects=False,
            )
        try:
            async with request as resp:
                body = await resp.read()
                status = resp.status
                if 200 <= status < 300:
                    # tuple.__new__: the NamedTuple constructor is Python code.
                    return _new_reply(HttpReply, (status, body, None, None))
                found = resp.headers  # only errors and redirects need these
                return HttpReply(
                    status, body, found.get("Retry-After"), found.get("Location")
                )
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(
                f"{method} {_path(url)}: connect timed out", sent=False
            ) from exc
        # sock_read (a ServerTimeoutError) and the total timer (a bare TimeoutError)
        except TimeoutError as exc:
            raise APITimeoutError(f"{method} {_path(url)}: timed out") from exc
        # DNS, refused, TLS: the request never left this process
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(
                f"{method} {_path(url)}: cannot connect to {URL(url).host}: "
                f"{exc.os_error}",
                sent=False,
            ) from exc
        # reset, disconnect, truncated body: the server may have acted on it
        except aiohttp.ClientError as exc:
            own = _own_error(exc)
            if own is not None:  # raised by our own upload stream (a size cap)
                raise own from None
            raise APIConnectionError(
                f"{method} {_path(url)}: {type(exc).__name__}: {exc}"
            ) from exc
        # CancelledError is a BaseException: it passes through untouched.

    async def aclose(self) -> None:
        """Close the pool we own; idempotent; a borrowed session is left open."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            with anyio.move_on_after(_CLOSE_GRACE, shield=True):
                await session.close()
