"""The exception tree. Every failure a caller can see is one of these::

    KommunicateError
    ├── ConfigurationError            (also ValueError) missing/invalid key, app id, URL
    ├── InvalidRequestError           (also ValueError) bad input, raised before any I/O
    ├── InvalidPayloadError           (also ValueError) an unusable bot/webhook request
    ├── SessionClosedError            (also RuntimeError) the session was closed
    ├── EventLoopError                (also RuntimeError) one session, two live loops
    ├── CheckpointError               a checkpoint in use, unreadable or unwritable
    ├── BatchStoppedError             a batch stopped early (`reason`: what stopped it)
    ├── CoordinationError             a shared rate limit or checkpoint (Redis) failed
    ├── ResponseValidationError       a reply we cannot decode (not JSON, wrong shape)
    ├── APIConnectionError            the request got no HTTP answer
    │   └── APITimeoutError
    └── APIError(status, code, description)
        ├── AuthenticationError       401, AL-UN-01, bad credentials
        ├── PermissionDeniedError     403
        ├── NotFoundError             404, unknown conversation or user
        ├── ConflictError             409, "group already exists"
        ├── ConversationClosedError   a send refused: "CONVERSATION_CLOSED"
        ├── AgentBusyError            a send refused: "BUSY_WITH_OTHER"
        ├── UploadRefusedError        an upload refused ("MALICIOUS_CONTENT")
        ├── RateLimitError            429 (retry_after seconds, when the server said)
        └── ServerError               5xx

`ambiguous` is True when a non-idempotent request (a message send) may have been
processed by the server even though it failed: the request bytes left this process
and no definite answer came back. Such a send must be reconciled or reported as
"possibly sent"; it is never retried blindly.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "APIConnectionError",
    "APIError",
    "AgentBusyError",
    "APITimeoutError",
    "AuthenticationError",
    "BatchStoppedError",
    "CheckpointError",
    "ConfigurationError",
    "ConflictError",
    "ConversationClosedError",
    "CoordinationError",
    "EventLoopError",
    "InvalidPayloadError",
    "InvalidRequestError",
    "KommunicateError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "SessionClosedError",
    "UploadRefusedError",
    "api_error",
]


class KommunicateError(Exception):
    """Base of every error this library raises."""

    ambiguous: bool = False
    """True when the request may have been processed although it failed."""


class ConfigurationError(KommunicateError, ValueError):
    """The session is missing configuration (API key, app id) or has a bad value."""


class InvalidRequestError(KommunicateError, ValueError):
    """Bad input, detected before anything was sent."""


class InvalidPayloadError(KommunicateError, ValueError):
    """A request Kommunicate (or someone pretending to be it) sent us is unusable:
    not JSON, not an object, missing `key` or `groupId`, too large or too deep."""


class SessionClosedError(KommunicateError, RuntimeError):
    """The session was closed with `aclose()` and cannot send requests any more."""


class EventLoopError(KommunicateError, RuntimeError):
    """The session's pool belongs to another event loop that is still running.

    A session follows its event loop: after that loop closes (the end of an
    `asyncio.run()`), the next call opens a new pool on the new loop. Two loops
    alive at once (two threads) need two sessions.
    """


class CheckpointError(KommunicateError):
    """A batch checkpoint cannot be used: another run holds it (the message names
    its pid), it is not a regular file, or reading or writing it failed (a full
    disk). Raised before any send when found at the start."""


class CoordinationError(KommunicateError):
    """The state a campaign's workers share (a Redis rate limit, pause or
    checkpoint) cannot be reached or read. A batch stops on it: without the shared
    limit or checkpoint, going on could break the rate or send twice."""


class BatchStoppedError(KommunicateError):
    """A batch stopped before its input ended, after every item already sent got
    its result.

    Attributes:
        reason: what stopped it (also `__cause__`): an `AuthenticationError`,
            `PermissionDeniedError`, `ConfigurationError`, an unknown host, or a
            `CheckpointError` (a full disk).
        next_index: the first input position never taken; it and every later
            item were not attempted (a rerun with the same checkpoint resumes).
        report: the `BatchReport` of what was done (set by `send_many`).
    """

    def __init__(self, reason: KommunicateError, *, next_index: int) -> None:
        super().__init__(
            f"batch stopped: {type(reason).__name__}: {reason} (items from input "
            f"position {next_index} on were not attempted; a rerun resumes them)"
        )
        self.reason = reason
        self.next_index = next_index
        self.report: object = None


class ResponseValidationError(KommunicateError):
    """The server answered, but the body is not the JSON shape we expect."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class APIConnectionError(KommunicateError):
    """No HTTP answer: DNS, connect, TLS, reset, disconnect or a truncated body.

    Attributes:
        sent: False only when the request certainly never reached the server
            (connect failed), so re-sending it cannot duplicate anything.
    """

    def __init__(
        self, message: str, *, sent: bool = True, host_unknown: bool = False
    ) -> None:
        super().__init__(message)
        self.sent = sent
        self.host_unknown = host_unknown
        """True when the host name did not resolve (a configuration error)."""


class APITimeoutError(APIConnectionError):
    """The request (or the whole call, retries included) ran out of time."""


class APIError(KommunicateError):
    """The server answered with an error (an HTTP error or a `status: "error"` body).

    Attributes:
        status: HTTP status code (200 for an error envelope inside a 200 reply).
        code: Applozic error code such as ``AL-UN-01``, when the body had one.
        description: the server's description, or a short excerpt of the body.
        method: the HTTP method of the call ("POST"), when it came from one.
        path: the call's path ("/rest/ws/message/v2/send"), never with a query.
        subject: what the call was about ("conversation 123", "user u-1"), when known.
        request_id: the reply's request id (Kong's `X-Kong-Request-Id`, or
            `X-Request-Id`): quote it to Kommunicate support.
        hint: what to do about it, when there is something to do.

    The message leads with what happened in words and the hint; the status is in
    the message only when it is not 200.
    """

    method: str | None = None
    path: str | None = None
    subject: str | None = None
    request_id: str | None = None
    hint: str | None = None

    def __init__(self, status: int, code: str | None, description: str) -> None:
        super().__init__(_message(status, code, description))
        self.status = status
        self.code = code
        self.description = description


class AuthenticationError(APIError):
    """The API key or user token was rejected."""


class PermissionDeniedError(APIError):
    """The credentials are valid but may not do this."""


class NotFoundError(APIError):
    """The conversation, user or message does not exist."""


class ConflictError(APIError):
    """The object already exists (a duplicate `clientGroupId` on create)."""


class ConversationClosedError(APIError):
    """The conversation is closed (resolved): `message/send` answered the bare
    string "CONVERSATION_CLOSED". Nothing was sent; reopen it (or start a new
    one) and send again. Never ambiguous."""


class AgentBusyError(APIError):
    """`message/send` answered the bare string "BUSY_WITH_OTHER": the agent is
    busy with another conversation. Nothing was sent. Never ambiguous."""


class UploadRefusedError(APIError):
    """The upload was refused, e.g. `{"errorCode": "MALICIOUS_CONTENT"}`: the
    file was judged unsafe. Nothing was stored; `code` says why."""


class RateLimitError(APIError):
    """HTTP 429. `retry_after` is the server's wait in seconds, when it gave one."""

    def __init__(
        self,
        status: int,
        code: str | None,
        description: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, code, description)
        self.retry_after = retry_after


class ServerError(APIError):
    """HTTP 5xx (or an HTML error page where JSON was expected)."""


def _message(status: int, code: str | None, description: str) -> str:
    head = f"HTTP {status}" + (f" {code}" if code else "")
    return f"{head}: {description}" if description else head


_BY_STATUS: Final[dict[int, type[APIError]]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
}
_BY_CODE: Final[dict[str, type[APIError]]] = {
    "AL-UN-01": AuthenticationError,
    "UNAUTHORIZED_REQUEST": AuthenticationError,
    "UN_AUTHORIZED": AuthenticationError,
    # "Group not found" (the Web SDK's kommunicate.js, docs/wire.md#errors)
    "AL-G-01": NotFoundError,
    # Bare-string refusals of message/send (WEB mck-sidebox-1.0.js L5738-5800)
    "CONVERSATION_CLOSED": ConversationClosedError,
    "BUSY_WITH_OTHER": AgentBusyError,
    # The upload's refusal (WEB mck-sidebox-1.0.js L13211)
    "MALICIOUS_CONTENT": UploadRefusedError,
}
# Descriptions match lower-cased and stripped. UNCERTAIN (docs/wire.md#errors): only
# "group already exists" is attested; the not-found wordings are the Applozic ones seen
# in SDK code, kept tolerant because the Platform API's exact text is undocumented.
_BY_TEXT: Final[dict[str, type[APIError]]] = {
    "group already exists": ConflictError,
    "unauthorized user": AuthenticationError,
    "unauthorized request": AuthenticationError,
    "invalid api key": AuthenticationError,
    # Kong key-auth's own 401 bodies on services.kommunicate.io (Kong/kong
    # kong/plugins/key-auth/handler.lua): no Applozic code, the same error.
    "invalid authentication credentials": AuthenticationError,
    "no api key found in request": AuthenticationError,
}
_NOT_FOUND_HINTS: Final = (
    "not found",
    "does not exist",
    "doesn't exist",
    "no such",
    "invalid group",
    "invalid clientgroupid",
    "invalid userid",
)


def api_error(
    status: int,
    code: str | None,
    description: str,
    *,
    retry_after: float | None = None,
) -> APIError:
    """Build the most specific `APIError` for a failed reply.

    Works the same for an HTTP error and for a 200 reply whose body says
    ``"status": "error"``: the Applozic code wins, then the description, then the
    HTTP status.
    """
    if status == 429:
        return RateLimitError(status, code, description, retry_after=retry_after)
    text = description.strip().lower()
    cls = _BY_CODE.get(code or "") or _BY_TEXT.get(text) or _BY_STATUS.get(status)
    if cls is None and any(hint in text for hint in _NOT_FOUND_HINTS):
        cls = NotFoundError
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    return cls(status, code, description)
