"""The ASGI adapter: `BotApp.asgi()` as a plain ASGI application.

Mount it in FastAPI or Starlette (`app.mount("/kommunicate", bot.asgi())`) or serve
it with any ASGI server. It speaks the `http` and `lifespan` scopes only.

Headers first: a request refused from its headers (401, 415, 413, 503) is answered
with `Connection: close` before a byte of its body is received. A body that does not
arrive within `body_timeout` is answered 408 and its connection closed; a body cut
off before its Content-Length (the client went away) runs no handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from ._payloads import MAX_BODY

if TYPE_CHECKING:
    from ._app import BotApp, BotResponse, Kind

__all__ = ["AsgiBotApp"]

Scope: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send: TypeAlias = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_TEXT: Final = b"text/plain"
_CLOSE: Final = ((b"connection", b"close"),)
_TOO_LARGE: Final = object()
_GONE: Final = object()


class AsgiBotApp:
    """`BotApp` over ASGI: POST `paths` (path -> kind); 404/405/413 otherwise."""

    def __init__(self, bot: BotApp, paths: dict[str, Kind]) -> None:
        bot.check_ready()
        self.bot = bot
        self.paths = paths
        self._auth: dict[Kind, bytes | None] = {}
        for kind in paths.values():
            name = bot.auth_header(kind)
            self._auth[kind] = None if name is None else name.encode("latin-1")

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
        refused, length = self._refuse(kind, scope)
        if refused is not None:
            await _respond(
                send,
                refused.status,
                refused.body,
                refused.content_type.encode(),
                _CLOSE,
            )
            return
        body = await _receive_body(receive, send, self.bot.body_timeout, length)
        if body is None:
            return  # answered already (408, 413), or the client is gone
        reply = await self.bot.answer(kind, body)
        await _respond(send, reply.status, reply.body, reply.content_type.encode())

    def _refuse(
        self, kind: Kind, scope: Scope
    ) -> tuple[BotResponse | None, bytes | None]:
        """The bot's verdict on the request's headers (None: go on), and its
        Content-Length; one pass over the headers picks out the three it needs."""
        auth_name = self._auth.get(kind)
        auth_values: list[bytes] | None = None if auth_name is None else []
        encodings: list[bytes] = []
        length: bytes | None = None
        for name, value in scope.get("headers", ()):
            if name == auth_name and auth_values is not None:
                auth_values.append(value)
            elif name == b"content-encoding":
                encodings.append(value)
            elif name == b"content-length":
                length = value
        refused = self.bot.refuse_values(
            kind,
            auth_values,
            b",".join(encodings).decode("latin-1") if encodings else None,
            None if length is None else length.decode("latin-1"),
        )
        return refused, length

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


async def _receive_body(
    receive: Receive, send: Send, body_timeout: float, length: bytes | None
) -> bytes | None:
    """The body, or None once it is answered (408 past `body_timeout`, 413 past
    MAX_BODY, both closing the connection) or cut off (no one to answer)."""
    try:
        async with asyncio.timeout(body_timeout):
            body = await _read_body(receive, length)
    except TimeoutError:
        await _respond(send, 408, b"request body timed out", _TEXT, _CLOSE)
        return None
    if body is _GONE:
        return None  # cut off before its Content-Length: nobody to answer, no handler
    if not isinstance(body, bytes):
        await _respond(send, 413, b"request body too large", _TEXT, _CLOSE)
        return None
    return body


async def _read_body(receive: Receive, length: bytes | None) -> object:
    """The whole body; `_TOO_LARGE` past MAX_BODY (reading stops there: bounded
    memory); `_GONE` when the client disconnects or stops short of `length`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _GONE
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return _TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if length is not None and size != int(length):
        return _GONE  # the server saw the connection end before Content-Length
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
