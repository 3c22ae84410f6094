"""Exact-request helpers for the issue #22 endpoints (repeated query keys kept)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kommunicate_async import KommunicateSession, Timeouts
from tests.mockapi import API_KEY, BASE_URL, CHAT_URL

if TYPE_CHECKING:
    from aioresponses.core import RequestCall

    from tests.mockapi import MockApi

APP_URL = "https://api.test"
UA = "kommunicate-async/"


def mocked_session(**kwargs: Any) -> KommunicateSession:
    """A session on the mocked hosts, the app server included."""
    options: dict[str, Any] = {
        "app_id": "app-1",
        "base_url": BASE_URL,
        "chat_url": CHAT_URL,
        "app_url": APP_URL,
        "timeout": Timeouts(connect=1, attempt=2, total=5),
        "max_retries": 0,
        **kwargs,
    }
    return KommunicateSession(API_KEY, **options)


def only(api: MockApi, method: str, url: str) -> RequestCall:
    """The one call of `method` to `url` (host, path and the sorted query)."""
    calls = [
        c
        for (m, u), cs in api.mocked.requests.items()
        for c in cs
        if m == method and str(u) == url
    ]
    assert len(calls) == 1, f"{method} {url}: {len(calls)} calls; made: {api.made()}"
    return calls[0]


def query(call: RequestCall) -> list[tuple[str, str]]:
    """The query in the order sent, values as text."""
    params = call.kwargs.get("params") or {}
    return [(k, str(v)) for k, v in params.items()]


def headers(call: RequestCall) -> dict[str, str]:
    """The headers sent, without the version in User-Agent."""
    found = dict(call.kwargs["headers"])
    assert found.pop("User-Agent").startswith(UA)
    return found


KEY_GET = {"Api-Key": API_KEY, "Accept": "application/json"}
KEY_BODY = {**KEY_GET, "Content-Type": "application/json"}
