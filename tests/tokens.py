"""Unsigned test JWTs with Kommunicate's expiry claims."""

from __future__ import annotations

import base64
import time

import msgspec


def make_jwt(
    *, valid_minutes: float = 30, created_ms: float | None = None, **claims: object
) -> str:
    created = int(time.time() * 1000) if created_ms is None else int(created_ms)

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    payload = {"createdAtTime": created, "validUpto": valid_minutes, **claims}
    return ".".join(
        [part(b'{"alg":"none"}'), part(msgspec.json.encode(payload)), "sig"]
    )
