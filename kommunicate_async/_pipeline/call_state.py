"""What one call carries between the layers of `client.py`: its deadline, its
request and what crosses attempts (`Exchange`), one attempt's `Target`, and the
session's 429 pause."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._telemetry._live import CallTrace
    from .routing import Route
    from .tokens import UserCredential
    from .transport import URL, Upload

__all__ = ["Deadline", "Exchange", "Pause", "Target"]


class Deadline:
    """The whole-call time budget (`Timeouts.total`), shared by its requests."""

    __slots__ = ("at", "total")

    def __init__(self, total: float | None, *, started: float | None = None) -> None:
        self.total = total
        if total is None:
            self.at = None
        else:
            self.at = (time.monotonic() if started is None else started) + total

    def remaining(self) -> float | None:
        """Seconds left (None: no budget)."""
        return None if self.at is None else self.at - time.monotonic()

    def attempt_timeout(self, attempt: float) -> float:
        """The timeout of the next attempt: `attempt`, cut to what is left."""
        left = self.remaining()
        return attempt if left is None or left >= attempt else left


class Pause:
    """When a 429's wait ends (monotonic); shared by a session and its views."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        self.until = 0.0


class Target(NamedTuple):
    """Where one attempt goes and with what: built for each attempt (`_target`),
    handed to `_attempt`, and not kept: a retry picks its target afresh."""

    url: str | URL
    headers: Mapping[str, str]
    cred: UserCredential | None = None
    """The logged-in user whose JWT `headers` carry (None: the session's own
    credentials or the call's own headers)."""
    token: str = ""
    """That JWT, to replace once if the server rejects it."""


class Exchange:
    """What one call carries from attempt to attempt.

    The request itself (route, query, body, acting user, the call's own headers)
    and its `Deadline`, then what earlier attempts decided for later ones: how many
    retries were made, whether a rejected token was replayed, where a redirect
    pointed (later attempts go there), and the telemetry record. Per-attempt values
    (URL, headers, credential) travel as a `Target`, replies as return values.
    """

    __slots__ = (
        "acting_as",
        "body",
        "deadline",
        "headers",
        "params",
        "redirected",
        "replayed",
        "retries",
        "route",
        "trace",
    )

    def __init__(
        self,
        route: Route,
        params: Mapping[str, str | int] | None,
        body: bytes | Upload | None,
        acting_as: str | None,
        headers: Mapping[str, str] | None,
        deadline: Deadline,
    ) -> None:
        self.route = route
        self.params = params
        self.body = body
        self.acting_as = acting_as
        self.headers = headers
        self.deadline = deadline
        self.retries = 0
        self.replayed = False
        self.redirected: URL | None = None
        self.trace: CallTrace | None = None
        """The call's telemetry record, when OpenTelemetry is on (`_telemetry`)."""

    def query(self) -> Mapping[str, str | int] | None:
        """The query to send: none once redirected (the Location carries its own)."""
        return self.params if self.redirected is None else None
