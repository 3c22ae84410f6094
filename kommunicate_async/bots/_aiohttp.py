"""The aiohttp adapter: `BotApp.aiohttp_app()` as an `aiohttp.web.Application`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ._payloads import MAX_BODY

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._app import BotApp, Kind

__all__ = ["build_aiohttp_app"]


def build_aiohttp_app(bot: BotApp, paths: dict[str, Kind]) -> web.Application:
    """An application serving `paths` (path -> kind); it drains `bot` on shutdown."""
    bot.check_ready()
    # aiohttp answers 413 past client_max_size, before the body is read into memory.
    app = web.Application(client_max_size=MAX_BODY)

    def route(kind: Kind) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def serve(request: web.Request) -> web.Response:
            reply = await bot.handle(kind, request.headers, await request.read())
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
