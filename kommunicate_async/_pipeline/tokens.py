"""Per-user JWTs: expiry from the token, proactive refresh, one refresh at a time.

Kommunicate user tokens carry their expiry inside the JWT payload as `createdAtTime`
(epoch ms) + `validUpto` (minutes) (docs/wire.md#users); standard `exp` is a fallback.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import anyio
import msgspec

from .._codec import decode
from .._errors import APITimeoutError, KommunicateError, ResponseValidationError
from .._secrets import Secrets

if TYPE_CHECKING:
    from .call_state import Deadline

__all__ = [
    "REFRESH_BACKOFF",
    "TokenStore",
    "UserCredential",
    "check_credential",
    "token_expiry",
]

REFRESH_BACKOFF: Final = 1.0
"""Seconds a failed token refresh stays the answer before the next one is tried."""
_HEADER_SAFE: Final = re.compile(r"[\x21-\x7e]+")

_MAX_MARGIN: Final = 60.0
"""Refresh at most this many seconds before expiry…"""
_MARGIN_SHARE: Final = 0.1
"""…and never more than this share of the token's lifetime (short-lived test tokens)."""


class _Claims(msgspec.Struct, rename="camel"):
    created_at_time: int | float | str | None = None
    valid_upto: int | float | str | None = None
    exp: int | float | None = msgspec.field(default=None, name="exp")


def _number(value: int | float | str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def token_expiry(token: str, *, now: float) -> tuple[float | None, float | None]:
    """(expires_at, lifetime) in epoch seconds / seconds, or (None, None) if unknown.

    The expiry is anchored on our own clock when the server's disagrees: the token
    never counts as valid for longer than its lifetime from `now` (receipt time).
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None, None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = decode(base64.urlsafe_b64decode(payload), _Claims)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        return None, None
    created_ms = _number(claims.created_at_time)
    valid_min = _number(claims.valid_upto)
    if created_ms is not None and valid_min is not None:
        lifetime = valid_min * 60.0
        return min(created_ms / 1000.0 + lifetime, now + lifetime), lifetime
    if claims.exp is not None:
        return float(claims.exp), max(0.0, float(claims.exp) - now)
    return None, None


def check_credential(value: object, what: str) -> str:
    """A token or device key from a reply, usable as a header value; the value
    itself never goes into the error (it is a secret)."""
    if (
        not isinstance(value, str)
        or not value
        or not value.isascii()
        or not _HEADER_SAFE.fullmatch(value)
    ):
        raise ResponseValidationError(
            f"{what} in the reply is not a valid header value "
            "(empty, or with control or non-ASCII characters)",
            status=200,
        )
    return value


@dataclass(slots=True)
class UserCredential:
    """One logged-in user. Secrets are kept out of the repr."""

    user_id: str
    device_key: str = field(repr=False)
    token: str = field(repr=False)
    expires_at: float | None = None
    lifetime: float | None = None
    refreshing: asyncio.Task[str] | None = field(default=None, repr=False)
    """The refresh in flight, shared by every caller waiting for it."""
    failure: tuple[float, KommunicateError] | None = field(default=None, repr=False)
    """(until, error): a failed refresh, answered to callers until `until`."""

    def set_token(self, token: str, *, now: float) -> None:
        """Store a new token and the expiry read from it."""
        self.token = token
        self.expires_at, self.lifetime = token_expiry(token, now=now)

    def is_fresh(self, now: float) -> bool:
        """True while the token is not within its refresh margin of expiry."""
        if self.expires_at is None:
            return (
                True  # the SDKs: a token without claims is valid (docs/wire.md#users)
            )
        margin = min(_MAX_MARGIN, (self.lifetime or 0.0) * _MARGIN_SHARE)
        return now < self.expires_at - margin


Refresher = Callable[[UserCredential], Awaitable[str]]


def _copy(error: KommunicateError) -> KommunicateError:
    """A fresh instance of `error` for another caller (its own traceback)."""
    twin = type(error).__new__(type(error), *error.args)
    twin.__dict__.update(vars(error))
    return twin


def _retrieve(task: asyncio.Task[str]) -> None:
    # Every waiter may have given up (their deadlines): read the outcome anyway,
    # so asyncio never logs "exception was never retrieved".
    if not task.cancelled():
        task.exception()


class TokenStore:
    """Tokens by user id, refreshed through `refresher` (one HTTP call per refresh).

    However many callers find a token stale (or rejected) at once, one refresh
    runs, in a task of its own so that no caller's timeout or cancel cuts it off
    for the others; each caller waits for it within its own deadline. A failed
    refresh is the answer of every caller waiting on it, and of those arriving in
    the next `REFRESH_BACKOFF` seconds: an outage of the refresh endpoint costs
    one request per back-off, not one per caller.
    """

    __slots__ = ("_by_user", "_clock", "_refresher", "_secrets", "refresh_count")

    def __init__(
        self,
        refresher: Refresher,
        *,
        clock: Callable[[], float] = time.time,
        secrets: Secrets | None = None,
    ) -> None:
        self._by_user: dict[str, UserCredential] = {}
        self._refresher = refresher
        self._clock = clock
        self._secrets = secrets or Secrets()
        self.refresh_count = 0

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._by_user

    def __len__(self) -> int:
        return len(self._by_user)

    def put(self, user_id: str, *, device_key: str, token: str) -> UserCredential:
        """Store (or replace) a user's credential after a login."""
        check_credential(token, "the token")
        check_credential(device_key, "the device key")
        old = self._by_user.get(user_id)
        if old is not None:
            self._secrets.retire(old.token)
            self._secrets.retire(old.device_key)
        self._secrets.add(token)
        self._secrets.add(device_key)
        cred = UserCredential(user_id=user_id, device_key=device_key, token="")
        cred.set_token(token, now=self._clock())
        self._by_user[user_id] = cred
        return cred

    def get(self, user_id: str) -> UserCredential | None:
        """The stored credential, or None if the user never logged in."""
        return self._by_user.get(user_id)

    def forget(self, user_id: str) -> None:
        """Drop a user's credential (their calls fall back to Api-Key)."""
        cred = self._by_user.pop(user_id, None)
        if cred is not None:
            self._secrets.retire(cred.token)
            self._secrets.retire(cred.device_key)

    async def fresh_token(
        self, cred: UserCredential, deadline: Deadline | None = None
    ) -> str:
        """A token that is not about to expire, refreshing first if it is."""
        if cred.is_fresh(self._clock()):
            return cred.token
        return await self._shared_refresh(cred, deadline)

    async def replace_rejected(
        self, cred: UserCredential, rejected: str, deadline: Deadline | None = None
    ) -> str:
        """After a 401 with `rejected`: refresh once, however many callers saw it."""
        if cred.token != rejected and cred.refreshing is None:
            return cred.token  # someone else has replaced it already
        return await self._shared_refresh(cred, deadline)

    async def _shared_refresh(
        self, cred: UserCredential, deadline: Deadline | None
    ) -> str:
        failure = cred.failure
        if failure is not None and time.monotonic() < failure[0]:
            raise _copy(failure[1])
        task = cred.refreshing
        loop = asyncio.get_running_loop()
        if task is None or task.get_loop() is not loop:
            task = cred.refreshing = loop.create_task(self._refresh(cred))
            task.add_done_callback(_retrieve)
        left = None if deadline is None else deadline.remaining()
        try:
            with anyio.fail_after(left):
                return await asyncio.shield(task)
        except TimeoutError:
            raise APITimeoutError(
                f"waiting for the token refresh of {cred.user_id!r}: exceeded the "
                f"total timeout of {deadline.total if deadline else 0:g}s",
                sent=False,
            ) from None
        except KommunicateError as exc:
            raise _copy(exc) from None

    async def _refresh(self, cred: UserCredential) -> str:
        try:
            token = await self._refresher(cred)
        except KommunicateError as exc:
            cred.failure = (time.monotonic() + REFRESH_BACKOFF, exc)
            raise
        finally:
            cred.refreshing = None
        cred.failure = None
        self.refresh_count += 1
        self._secrets.retire(cred.token)
        self._secrets.add(token)
        cred.set_token(token, now=self._clock())
        return token
