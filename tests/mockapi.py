"""aioresponses with the aiohttp 3.14 shim, and helpers to assert exact requests.

aioresponses 0.7.9 builds `ClientResponse` without `stream_writer`, which aiohttp
3.14 made required (pnuckowski/aioresponses#289). `MockedResponse` adds it only
where the installed aiohttp wants it; delete the shim once aioresponses ships a fix.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from unittest.mock import Mock

from aiohttp import ClientResponse
from aioresponses.compat import normalize_url
from yarl import URL

if TYPE_CHECKING:
    from aioresponses import aioresponses
    from aioresponses.core import RequestCall

_NEEDS_STREAM_WRITER = (
    "stream_writer" in inspect.signature(ClientResponse.__init__).parameters
)

BASE_URL = "https://services.test"
CHAT_URL = "https://chat.test"
API_KEY = "test-key-3f9a"


class MockedResponse(ClientResponse):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", Mock())
        super().__init__(*args, **kwargs)


@dataclass
class MockApi:
    """Canned replies by method + path (+ query), and the calls that were made."""

    mocked: aioresponses
    base_url: str = BASE_URL

    def url(
        self, path: str, params: dict[str, Any] | None = None, base: str | None = None
    ) -> URL:
        url = URL((base or self.base_url) + path)
        if params:
            url = url.with_query({k: str(v) for k, v in params.items()})
        return normalize_url(url)

    def add(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        status: int = 200,
        body: bytes | str = b"",
        base: str | None = None,
        repeat: bool | int = False,
        **kw: Any,
    ) -> None:
        self.mocked.add(
            self.url(path, params, base),
            method=method,
            status=status,
            body=body,
            response_class=MockedResponse,
            repeat=repeat,
            **kw,
        )

    def calls(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        base: str | None = None,
    ) -> list[RequestCall]:
        return list(
            self.mocked.requests.get((method, self.url(path, params, base)), [])
        )

    def only_call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        base: str | None = None,
    ) -> RequestCall:
        calls = self.calls(method, path, params=params, base=base)
        assert len(calls) == 1, (
            f"{method} {path}: {len(calls)} calls; made: {self.made()}"
        )
        return calls[0]

    def made(self) -> list[tuple[str, str]]:
        """Every (method, URL) requested, in order of first request."""
        return [(m, str(u)) for (m, u) in self.mocked.requests]

    def count(self) -> int:
        return sum(len(v) for v in self.mocked.requests.values())
