"""A hostile server on 127.0.0.1: each test installs the handlers it needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from kommunicate_async import KommunicateSession, Retries, Timeouts

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

Handler = "Callable[[web.Request], Awaitable[web.StreamResponse]]"

CANARY_KEY = "canary-KEY-7d1e0c5b"
APP_ID = "app-hostile"


class HostileServer:
    """An aiohttp app whose routes the test supplies; records every request."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.requests: list[web.Request] = []
        self.handlers: dict[
            tuple[str, str], Callable[[web.Request], Awaitable[web.StreamResponse]]
        ] = {}
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.url = ""
        self._runner: web.AppRunner | None = None

    def on(
        self,
        method: str,
        path: str,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> None:
        self.handlers[(method, path)] = handler

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if (r.method, r.path) == (method, path))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        handler = self.handlers.get((request.method, request.path))
        if handler is None:
            return web.json_response({"status": "error"}, status=404)
        return await handler(request)

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.app, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    server = HostileServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def session_for(
    server: HostileServer, *, total: float = 5.0, attempt: float = 2.0, **kw: object
) -> KommunicateSession:
    """A session on the hostile server (both hosts), with fast retries."""
    options: dict[str, object] = {
        "app_id": APP_ID,
        "base_url": server.url,
        "chat_url": server.url,
        "timeout": Timeouts(connect=1, attempt=attempt, total=total),
        "retries": Retries(backoff_base=0.0),
        **kw,
    }
    return KommunicateSession(CANARY_KEY, **options)  # type: ignore[arg-type]
