"""What one call carries between the layers of `client.py`: its deadline, its
request and where it stands, and the session's 429 pause."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._telemetry._live import CallTrace
    from .routing import Route
    from .tokens import UserCredential
    from .transport import URL, Upload

__all__ = ["Deadline", "Exchange", "Pause"]


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


class Exchange:
    """One call's request and where it stands (target, credentials, retries)."""

    __slots__ = (
        "acting_as",
        "body",
        "cred",
        "deadline",
        "headers",
        "params",
        "redirected",
        "replayed",
        "retries",
        "route",
        "sent_headers",
        "token",
        "trace",
        "url",
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
        self.cred: UserCredential | None = None
        self.token = ""
        self.url: str | URL = ""
        self.sent_headers: Mapping[str, str] = {}
        self.trace: CallTrace | None = None
        """The call's telemetry record, when OpenTelemetry is on (`_telemetry`)."""
