"""Per-user JWTs: expiry from the token, proactive refresh, one refresh at a time.

Kommunicate user tokens carry their expiry inside the JWT payload as `createdAtTime`
(epoch ms) + `validUpto` (minutes) (docs/wire.md#users); standard `exp` is a fallback.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import anyio
import msgspec

from ._codec import decode

__all__ = ["TokenStore", "UserCredential", "token_expiry"]

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


@dataclass(slots=True)
class UserCredential:
    """One logged-in user. Secrets are kept out of the repr."""

    user_id: str
    device_key: str = field(repr=False)
    token: str = field(repr=False)
    expires_at: float | None = None
    lifetime: float | None = None
    lock: anyio.Lock = field(default_factory=anyio.Lock, repr=False)

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


class TokenStore:
    """Tokens by user id, refreshed through `refresher` (one HTTP call per refresh)."""

    __slots__ = ("_by_user", "_clock", "_refresher", "refresh_count")

    def __init__(
        self, refresher: Refresher, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._by_user: dict[str, UserCredential] = {}
        self._refresher = refresher
        self._clock = clock
        self.refresh_count = 0

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._by_user

    def __len__(self) -> int:
        return len(self._by_user)

    def put(self, user_id: str, *, device_key: str, token: str) -> UserCredential:
        """Store (or replace) a user's credential after a login."""
        cred = UserCredential(user_id=user_id, device_key=device_key, token="")
        cred.set_token(token, now=self._clock())
        self._by_user[user_id] = cred
        return cred

    def get(self, user_id: str) -> UserCredential | None:
        """The stored credential, or None if the user never logged in."""
        return self._by_user.get(user_id)

    def forget(self, user_id: str) -> None:
        """Drop a user's credential (their calls fall back to Api-Key)."""
        self._by_user.pop(user_id, None)

    async def fresh_token(self, cred: UserCredential) -> str:
        """A token that is not about to expire, refreshing first if it is."""
        if cred.is_fresh(self._clock()):
            return cred.token
        async with cred.lock:
            # Whoever held the lock before us may have refreshed already.
            if not cred.is_fresh(self._clock()):
                await self._refresh(cred)
            return cred.token

    async def replace_rejected(self, cred: UserCredential, rejected: str) -> str:
        """After a 401 with `rejected`: refresh once, however many callers saw it."""
        async with cred.lock:
            if cred.token == rejected:
                await self._refresh(cred)
            return cred.token

    async def _refresh(self, cred: UserCredential) -> None:
        token = await self._refresher(cred)
        self.refresh_count += 1
        cred.set_token(token, now=self._clock())
