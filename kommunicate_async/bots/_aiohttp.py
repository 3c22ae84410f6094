"""The aiohttp adapter: `BotApp.aiohttp_app()` as an `aiohttp.web.Application`.

Headers first: a request refused from its headers (401, 415, 413, 503) is answered
and its connection closed without reading a byte of its body. A body that does not
arrive within `body_timeout`, or is cut off before its Content-Length, closes the
connection quietly (no handler, no traceback).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ._payloads import MAX_BODY

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._app import BotApp, BotResponse, Kind

__all__ = ["build_aiohttp_app"]

_CUT_OFF: Final = (ConnectionError, HttpProcessingError, asyncio.IncompleteReadError)
"""What reading a body raises when its client goes away mid-body."""


def build_aiohttp_app(bot: BotApp, paths: dict[str, Kind]) -> web.Application:
    """An application serving `paths` (path -> kind); it drains `bot` on shutdown."""
    bot.check_ready()
    # aiohttp answers 413 past client_max_size, before the body is read into memory.
    app = web.Application(client_max_size=MAX_BODY)

    def route(kind: Kind) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        auth_name = bot.auth_header(kind)

        async def serve(request: web.Request) -> web.StreamResponse:
            headers = request.headers
            encoding = headers.getall("Content-Encoding", None)
            refused = bot.refuse_values(
                kind,
                None
                if auth_name is None
                else [
                    v.encode("utf-8", "surrogateescape")
                    for v in headers.getall(auth_name, ())
                ],
                None if encoding is None else ",".join(encoding),
                headers.get("Content-Length"),
            )
            if refused is not None:
                return await _answer_and_close(request, refused)
            body = await _read(request, bot.body_timeout)
            if body is None:
                return web.Response(status=408)  # never written: the client is gone
            reply = await bot.answer(kind, body)
            return web.Response(
                status=reply.status, body=reply.body, content_type=reply.content_type
            )

        return serve

    for path, kind in paths.items():
        app.router.add_post(path, route(kind))

    async def drain(_: web.Application) -> None:
        await bot.aclose()

    app.on_shutdown.append(drain)
    return app


async def _read(request: web.Request, within: float) -> bytes | None:
    """The whole body, or None (connection closed) when it does not all arrive."""
    try:
        if request.content.is_eof():  # all in already (the usual case): no timer
            return await request.read()
        async with asyncio.timeout(within):
            return await request.read()
    except (TimeoutError, *_CUT_OFF):
        request.protocol.force_close()
        return None


async def _answer_and_close(
    request: web.Request, reply: BotResponse
) -> web.StreamResponse:
    """Send `reply`, then close the connection: the unread body is never read (nor
    inflated, nor drained for aiohttp's lingering time)."""
    response = web.Response(
        status=reply.status, body=reply.body, content_type=reply.content_type
    )
    response.force_close()
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        pass  # the client left first: nothing more to tell it
    request.protocol.force_close()  # the written bytes are flushed, then it closes
    return response
