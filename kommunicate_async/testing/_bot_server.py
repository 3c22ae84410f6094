"""Serving a `BotApp` on 127.0.0.1 for tests: its aiohttp app or its ASGI app."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from ..bots import BotApp

__all__ = ["RunningBot", "serve_asgi", "serve_bot"]


@dataclass(frozen=True, slots=True)
class RunningBot:
    """A bot app listening on loopback."""

    url: str
    """http://127.0.0.1:PORT"""

    @property
    def bot_url(self) -> str:
        """The custom-bot URL (`/bot`): `FakeKommunicate.deliver_bot_message`."""
        return f"{self.url}/bot"

    @property
    def webhook_url(self) -> str:
        """The message-webhook URL (`/webhook`): `FakeKommunicate.deliver_webhook`."""
        return f"{self.url}/webhook"

    @property
    def token_url(self) -> str:
        """The Access Token URL (`/token`), for `@bot.on_token_check`."""
        return f"{self.url}/token"


@asynccontextmanager
async def serve_bot(
    bot: BotApp, *, adapter: Literal["aiohttp", "asgi"] = "aiohttp"
) -> AsyncGenerator[RunningBot]:
    """Serve `bot` (paths /bot, /webhook, /token) until the block ends; shutting
    down drains its late answers, as a real server's shutdown would."""
    if adapter == "aiohttp":
        runner = web.AppRunner(
            bot.aiohttp_app(token_path="/token"), access_log=None, handle_signals=False
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield RunningBot(f"http://127.0.0.1:{runner.addresses[0][1]}")
        finally:
            await runner.cleanup()
        return
    async with serve_asgi(bot.asgi(token_path="/token")) as url:
        yield RunningBot(url)


@asynccontextmanager
async def serve_asgi(app: Callable[..., Any]) -> AsyncGenerator[str]:
    """Serve any ASGI app on 127.0.0.1 with uvicorn (lifespan on) until the block
    ends; yields its base URL."""
    import uvicorn  # the test extra brings it

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
