"""A canary secret never shows: not in an error's text, repr, traceback (with its
causes), a log record at DEBUG (ours or aiohttp's), a batch result or a checkpoint,
whatever the status of the reply that echoed it."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import traceback
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from aiohttp import web

from kommunicate_async import (
    APIConnectionError,
    ChatAuth,
    KommunicateError,
    OutgoingMessage,
)
from tests.hostile.conftest import CANARY_KEY, HostileServer, session_for

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

INFO = "/rest/ws/group/info"
SEND = "/rest/ws/message/v2/send"
REGISTER = "/rest/ws/register/client"
PASSWORD = 'canary-PW-"quoted"/slash'
DEVICE_KEY = "dk-canary-DEVICE-91"
CHAT_PASSWORD = "canary-CHATPW-44"


def jwt(tag: str) -> str:
    now_ms = int(time.time() * 1000)
    claims = base64.urlsafe_b64encode(
        b'{"validUpto":60,"createdAtTime":%d}' % now_ms
    ).decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{claims.rstrip('=')}.{tag}"


TOKEN = jwt("canary-JWT-sig-55")
CANARIES = (CANARY_KEY, PASSWORD, DEVICE_KEY, TOKEN, CHAT_PASSWORD, "canary")


def every_text(error: BaseException) -> str:
    """Everything an error can show: str, repr, args, attributes, a formatted
    traceback with its chain, and the same for every cause and context."""
    parts: list[str] = []
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        exc = stack.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        parts += [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
        parts += traceback.format_exception(exc)
        stack += [exc.__cause__, exc.__context__]
    return "\n".join(parts)


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{canary!r} leaked"
    assert "canary" not in text.lower()


def echo(status: int, *, envelope: bool) -> Any:
    """A handler that echoes the request's headers and body back."""

    async def handler(request: web.Request) -> web.Response:
        said = " ".join(f"{k}={v}" for k, v in request.headers.items())
        said += " " + (await request.text())
        if envelope:
            body = msgspec.json.encode(
                {"status": "error", "errorResponse": [{"description": said}]}
            )
        else:
            body = f"unreadable {said}".encode()
        return web.Response(status=status, body=body, content_type="application/json")

    return handler


@pytest.fixture
async def logs(
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # the root logger: ours, aiohttp's, asyncio's
    yield caplog
    for record in caplog.records:
        assert_clean(record.getMessage() + repr(record.args) + str(record.exc_text))


@pytest.mark.parametrize("status", [200, 400, 401, 500, 503])
@pytest.mark.parametrize("envelope", [True, False], ids=["envelope", "unreadable"])
async def test_echoed_secrets_are_cut_from_every_error(
    hostile: HostileServer,
    logs: pytest.LogCaptureFixture,  # noqa: ARG001 - checked at teardown
    status: int,
    envelope: bool,
) -> None:
    # Before: only non-2xx bodies were redacted, and only the API key.
    hostile.on("GET", INFO, echo(status, envelope=envelope))
    hostile.on("POST", SEND, echo(status, envelope=envelope))

    async def register(_: web.Request) -> web.Response:
        return web.json_response(
            {"message": "REGISTERED", "authToken": TOKEN, "deviceKey": DEVICE_KEY}
        )

    hostile.on("POST", REGISTER, register)
    last = ""
    async with session_for(hostile, max_retries=0) as km:
        await km.users.login("u-1", password=PASSWORD)
        for call in (
            lambda: km.conversations.get(5),
            lambda: km.conversations.get(5, on_behalf_of="u-1"),  # the user's JWT
            lambda: km.messages.send(5, f"my password is {PASSWORD}"),
        ):
            with pytest.raises(KommunicateError) as caught:
                await call()
            assert_clean(every_text(caught.value))
            last = str(caught.value)
        if envelope and status < 500:  # the echo is still there, secrets cut out
            assert "Api-Key=[redacted]" in last


async def test_login_reply_that_echoes_the_password(hostile: HostileServer) -> None:
    async def register(request: web.Request) -> web.Response:
        body = msgspec.json.decode(await request.read())
        return web.json_response({"message": f"bad {body['password']}"})

    hostile.on("POST", REGISTER, register)
    async with session_for(hostile) as km:
        with pytest.raises(KommunicateError) as caught:
            await km.users.login("u-1", password=PASSWORD)
    assert_clean(every_text(caught.value))


async def test_chat_auth_credentials_are_secrets(
    hostile: HostileServer,
    logs: pytest.LogCaptureFixture,  # noqa: ARG001
) -> None:
    hostile.on("GET", INFO, echo(401, envelope=True))
    auth = ChatAuth.bot("bot-7", CHAT_PASSWORD)
    assert CHAT_PASSWORD not in repr(auth)
    async with session_for(hostile, chat_auth=auth, max_retries=0) as km:
        assert_clean(repr(km) + repr(km.config))
        with pytest.raises(KommunicateError) as caught:
            await km.conversations.get(5)
    assert_clean(every_text(caught.value))


async def _bad_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 abc bogus\r\nX: y\r\n\r\n")  # not HTTP: aiohttp rejects it
    await writer.drain()
    writer.close()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.transport.abort()


@pytest.mark.parametrize("server", [_bad_http, _reset], ids=["bad-http", "reset"])
async def test_transport_failures_carry_no_request_headers(
    server: Any,
    logs: pytest.LogCaptureFixture,  # noqa: ARG001
) -> None:
    # Before: __cause__ was aiohttp's ClientResponseError, whose request_info
    # (in its repr) held {'Api-Key': ...}.
    listener = await asyncio.start_server(server, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    stub = HostileServer()
    stub.url = f"http://127.0.0.1:{port}"
    try:
        async with session_for(stub, max_retries=0) as km:
            with pytest.raises(APIConnectionError) as caught:
                await km.conversations.get(5)
    finally:
        listener.close()
        await listener.wait_closed()
    assert_clean(every_text(caught.value))
    assert caught.value.__cause__ is not None  # the cause is kept, as text
    assert caught.value.__context__ is None or caught.value.__suppress_context__


async def test_batch_results_and_checkpoint_hold_no_secret(
    hostile: HostileServer, tmp_path: Path
) -> None:
    hostile.on("POST", SEND, echo(400, envelope=True))
    checkpoint = tmp_path / "run.jsonl"
    items = [OutgoingMessage(5, f"m{i}") for i in range(5)]
    async with session_for(hostile, max_retries=0) as km:
        report = await km.messages.send_many(items, checkpoint=checkpoint)
    assert report.failed == 5
    assert_clean(
        repr(report) + "".join(every_text(r.error) for r in report.problems if r.error)
    )
    assert_clean(checkpoint.read_text())
