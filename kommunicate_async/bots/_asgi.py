"""The ASGI adapter: `BotApp.asgi()` as a plain ASGI application.

Mount it in FastAPI or Starlette (`app.mount("/kommunicate", bot.asgi())`) or serve
it with any ASGI server. It speaks the `http` and `lifespan` scopes only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from ._payloads import MAX_BODY

if TYPE_CHECKING:
    from ._app import BotApp, Kind

__all__ = ["AsgiBotApp"]

Scope: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send: TypeAlias = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_TEXT: Final = b"text/plain"


class AsgiBotApp:
    """`BotApp` over ASGI: POST `paths` (path -> kind); 404/405/413 otherwise."""

    def __init__(self, bot: BotApp, paths: dict[str, Kind]) -> None:
        bot.check_ready()
        self.bot = bot
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets are not part of the contract
        kind = self.paths.get(_local_path(scope))
        if kind is None:
            await _respond(send, 404, b"not found", _TEXT)
            return
        if scope.get("method") != "POST":
            await _respond(send, 405, b"method not allowed", _TEXT)
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, b"request body too large", _TEXT)
            return
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope.get("headers", ())
        }
        reply = await self.bot.handle(kind, headers, body)
        await _respond(send, reply.status, reply.body, reply.content_type.encode())

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.bot.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _local_path(scope: Scope) -> str:
    """The path inside a mount: ASGI servers and routers differ on `root_path`."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None past MAX_BODY (reading stops there: bounded memory)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
