"""User JWTs as the chat server issues them: `createdAtTime` ms + `validUpto` min."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

import msgspec

__all__ = ["TokenIssuer"]


class _Claims(msgspec.Struct, rename="camel"):
    user_id: str
    created_at_time: int
    valid_upto: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Signs and checks user tokens with a per-server secret."""

    def __init__(self, *, valid_minutes: float) -> None:
        self.valid_minutes = valid_minutes
        self._secret = secrets.token_bytes(32)

    def issue(self, user_id: str, *, now_ms: int) -> str:
        """A signed JWT for `user_id`, valid for `valid_minutes` from `now_ms`."""
        header = _b64(b'{"alg":"HS256","typ":"JWT"}')
        claims = _Claims(
            user_id=user_id, created_at_time=now_ms, valid_upto=self.valid_minutes
        )
        payload = _b64(msgspec.json.encode(claims))
        signature = hmac.new(
            self._secret, f"{header}.{payload}".encode(), hashlib.sha256
        )
        return f"{header}.{payload}.{_b64(signature.digest())}"

    def verify(self, token: str, *, now_ms: int) -> tuple[str | None, str]:
        """(user_id, "") for a valid token, else (None, why it was refused)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None, "malformed token"
        expected = hmac.new(
            self._secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256
        )
        try:
            if not hmac.compare_digest(_unb64(parts[2]), expected.digest()):
                return None, "bad token signature"
            claims = msgspec.json.decode(_unb64(parts[1]), type=_Claims)
        except (binascii.Error, ValueError, msgspec.DecodeError):
            return None, "malformed token"
        if (now_ms - claims.created_at_time) / 60_000 >= claims.valid_upto:
            return None, "token expired"
        return claims.user_id, ""
