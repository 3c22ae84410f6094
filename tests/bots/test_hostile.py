"""Hostile clients over real HTTP on loopback, through both adapters.

Raw sockets play the clients a framework would never send: headers with no body,
a body cut off before its Content-Length, a header sent twice, a gzip bomb. Each
test runs against the aiohttp adapter and the ASGI adapter (uvicorn) and expects
the same answer from both.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from kommunicate_async import ConfigurationError
from kommunicate_async.bots import BotApp, BotContext, BotRequest
from kommunicate_async.testing import serve_bot

if TYPE_CHECKING:
    from kommunicate_async.testing import RunningBot

SECRET = "dashboard-header-s3cret"
HEADER = ("X-Bot-Token", SECRET)
WEBHOOK_TOKEN = "webhook-t0ken"
_KEYS = itertools.count()


@pytest.fixture(params=["aiohttp", "asgi"])
def adapter(request: pytest.FixtureRequest) -> Any:
    return request.param


def make_bot(**kwargs: Any) -> tuple[BotApp, list[str]]:
    bot = BotApp(None, bot_header=HEADER, webhook_token=WEBHOOK_TOKEN, **kwargs)
    calls: list[str] = []

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> str:
        calls.append(request.text)
        return f"You said: {request.text}"

    @bot.on_token_check
    async def check(user_id: str, token: str) -> bool:
        calls.append(f"token:{user_id}")
        return token == "good"

    return bot, calls


def request_body(key: str = "m-1", text: str = "hi", **extra: Any) -> bytes:
    return msgspec.json.encode(
        {"key": key, "groupId": 7, "botId": "bot", "message": text, **extra}
    )


def port_of(server: RunningBot) -> int:
    return int(server.url.rsplit(":", 1)[1])


def head(
    path: str, length: int, *headers: tuple[str, str], encoding: str | None = None
) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        *(f"{name}: {value}" for name, value in headers),
    ]
    if encoding is not None:
        lines.append(f"Content-Encoding: {encoding}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def status_of(reader: asyncio.StreamReader, within: float = 5.0) -> int | None:
    """The status of the first response, or None if the server closed first."""
    line = await asyncio.wait_for(reader.readline(), within)
    if not line:
        return None
    return int(line.split()[1])


async def closed(reader: asyncio.StreamReader, within: float = 5.0) -> bool:
    """True once the server closed the connection (EOF), reading what is left."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def post_ok(url: str) -> tuple[int, float]:
    """A real request's status and how long it took."""
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url,
            data=request_body(f"real-{next(_KEYS)}", "real"),
            headers=dict([HEADER]),
        ) as reply,
    ):
        await reply.read()
        return reply.status, time.perf_counter() - started


async def test_unauthenticated_requests_get_401_from_their_headers_alone(
    adapter: Any,
) -> None:
    """Announcing 1 MiB and sending nothing: 401 at once, the connection closed."""
    bot, calls = make_bot()
    async with serve_bot(bot, adapter=adapter) as server:
        for path, headers in [
            ("/bot", ()),
            ("/bot", (("X-Bot-Token", "guess"),)),
            ("/webhook", (("Authentication", "Basic Z3Vlc3M="),)),
        ]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            writer.write(head(path, 1024 * 1024, *headers))
            await writer.drain()
            assert await status_of(reader) == 401
            assert await closed(reader)
            writer.close()
        status, _ = await post_ok(server.bot_url)
    assert status == 200 and calls == ["real"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([HEADER, ("X-Bot-Token", "wrong")], id="right-then-wrong"),
        pytest.param([("X-Bot-Token", "wrong"), HEADER], id="wrong-then-right"),
        pytest.param([HEADER, HEADER], id="right-twice"),
        pytest.param([("X-Bot-Token", SECRET + "\u00e9")], id="non-ascii"),
    ],
)
async def test_a_repeated_or_non_ascii_header_is_401_on_both_adapters(
    adapter: Any, headers: list[tuple[str, str]]
) -> None:
    bot, calls = make_bot()
    body = request_body()
    async with serve_bot(bot, adapter=adapter) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        raw = head("/bot", len(body)).removesuffix(b"\r\n")
        for name, value in headers:
            raw += f"{name}: {value}\r\n".encode()
        writer.write(raw + b"\r\n" + body)
        await writer.drain()
        assert await status_of(reader) == 401
        writer.close()
    assert calls == []


def test_a_token_that_is_not_visible_ascii_is_refused_when_built() -> None:
    for bad in ("s3cret\u00e9", "tab\tinside", " padded", "line\nbreak"):
        with pytest.raises(ConfigurationError, match="visible ASCII"):
            BotApp(None, bot_header=("X-Bot-Token", bad))
        with pytest.raises(ConfigurationError, match="visible ASCII"):
            BotApp(None, webhook_token=bad)
    with pytest.raises(ConfigurationError, match="HTTP token"):
        BotApp(None, bot_header=("X Bot", "v"))
    BotApp(None, bot_header=("X-Bot-Token", "Bearer abc"))  # inner spaces are fine


async def test_a_body_that_never_finishes_is_closed_after_body_timeout(
    adapter: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot, calls = make_bot(body_timeout=0.3)
    body = request_body()
    async with serve_bot(bot, adapter=adapter) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(head("/bot", len(body), HEADER) + body[:10])
        await writer.drain()
        started = time.perf_counter()
        assert await closed(reader, within=5)
        waited = time.perf_counter() - started
        writer.close()
        status, _ = await post_ok(server.bot_url)
    assert 0.2 < waited < 3
    assert status == 200 and calls == ["real"]  # the cut-off one never ran
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


async def test_a_request_cut_off_before_its_content_length_runs_no_handler(
    adapter: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot, calls = make_bot()
    body = request_body(text="cut off")
    async with serve_bot(bot, adapter=adapter) as server:
        for path in ("/bot", "/token"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            payload = body if path == "/bot" else b'{"userId":"u","token":"good"}'
            writer.write(head(path, len(payload) + 50, HEADER) + payload)
            await writer.drain()
            writer.write_eof()  # the client stops sending: 50 bytes never come
            await closed(reader)
            writer.close()
        await asyncio.sleep(0.2)
        status, _ = await post_ok(server.bot_url)
    assert status == 200 and calls == ["real"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_compressed_bodies_are_415_before_any_inflating(adapter: Any) -> None:
    """One policy on both adapters: Content-Encoding other than identity is 415."""
    bot, calls = make_bot()
    packed = gzip.compress(request_body())
    async with (
        serve_bot(bot, adapter=adapter) as server,
        aiohttp.ClientSession() as http,
    ):
        for encoding in ("gzip", "deflate", "GZIP", "x-gzip", "identity, gzip"):
            async with http.post(
                server.bot_url,
                data=packed,
                headers={HEADER[0]: HEADER[1], "Content-Encoding": encoding},
            ) as reply:
                assert reply.status == 415, encoding
        async with http.post(
            server.bot_url,
            data=request_body("plain"),
            headers={HEADER[0]: HEADER[1], "Content-Encoding": "identity"},
        ) as reply:
            assert reply.status == 200
    assert calls == ["hi"]


@pytest.mark.slow
async def test_a_gzip_bomb_never_delays_another_request(adapter: Any) -> None:
    """1 MiB of gzip that inflates to ~1 GiB, sent as fast as the socket takes it,
    while real requests keep arriving: none waits more than 0.1 s."""
    bot, calls = make_bot()
    member = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    bomb = member * 16  # one gzip stream of 16 members: ~1 MiB inflating to 1 GiB
    async with serve_bot(bot, adapter=adapter) as server:
        await post_ok(server.bot_url)  # warm up: the first request pays for imports
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(head("/bot", len(bomb), HEADER, encoding="gzip"))
        writer.write(bomb)
        delays: list[float] = []
        for _ in range(10):
            status, took = await post_ok(server.bot_url)
            assert status == 200
            delays.append(took)
        try:  # 415, unless the close of the unread bomb resets the socket first
            assert await status_of(reader) in (415, None)
        except ConnectionResetError:
            pass
        writer.close()
    assert max(delays) < 1.0, delays  # the bomb stalled others for 2-3.5 s
    assert calls == ["real"] * 11


@pytest.mark.slow
def test_100_silent_unauthenticated_clients_hold_no_memory(adapter: Any) -> None:
    """In a child process (its own RSS): 100 clients announce 1 MiB and send
    nothing; each gets 401, RSS grows under 10 MB, a real request takes < 50 ms."""
    import subprocess
    import sys

    script = _MEMORY_SCRIPT.replace("ADAPTER", adapter)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = msgspec.json.decode(done.stdout.strip().splitlines()[-1])
    assert result["statuses"] == [401] * 100
    assert result["growth_mb"] < 10, result
    assert result["real_ms"] < 50, result


_MEMORY_SCRIPT = r"""
import asyncio, json, os
import aiohttp
from kommunicate_async.bots import BotApp
from kommunicate_async.testing import serve_bot

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

async def main():
    bot = BotApp(None, bot_header=("X-Bot-Token", "s3cret"))

    @bot.on_message
    async def answer(request, ctx):
        return "ok"

    async with serve_bot(bot, adapter="ADAPTER") as server:
        port = int(server.url.rsplit(":", 1)[1])
        body = b'{"key":"k","groupId":1,"message":"hi"}'
        async with aiohttp.ClientSession() as http:
            async with http.post(server.bot_url, data=body,
                                 headers={"X-Bot-Token": "s3cret"}) as r:
                await r.read()
        before = rss_mb()
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(100)]
        head = (b"POST /bot HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1048576\r\n\r\n")
        for _, w in conns:
            w.write(head)
        statuses = []
        for r, _ in conns:
            line = await asyncio.wait_for(r.readline(), 10)
            statuses.append(int(line.split()[1]))
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with aiohttp.ClientSession() as http:
            async with http.post(server.bot_url, data=b'{"key":"k2","groupId":1}',
                                 headers={"X-Bot-Token": "s3cret"}) as r:
                await r.read()
                assert r.status == 200
        real_ms = (loop.time() - started) * 1000
        growth = rss_mb() - before
        for _, w in conns:
            w.close()
    print(json.dumps({"statuses": statuses, "growth_mb": growth, "real_ms": real_ms}))

asyncio.run(main())
"""


async def test_no_body_ever_gets_a_500(adapter: Any) -> None:
    """Unicode digits, deep members, wrong types: 400 on every path, never 500."""
    bot, calls = make_bot()
    webhook_auth = "Basic d2ViaG9vay10MGtlbg=="  # base64("webhook-t0ken")
    bodies: list[tuple[str, bytes]] = [
        ("/bot", b'{"key":"k","groupId":"\xc2\xb2"}'),
        ("/bot", '{"key":"k","groupId":"١٢٣"}'.encode()),
        ("/bot", b'{"key":"k","groupId":1,"contentType":"\xc2\xb3"}'),
        ("/bot", b'{"key":"k","groupId":"' + b"9" * 5000 + b'"}'),
        ("/webhook", b'{"key":"k","groupId":1,"timeStamp":"\xc2\xb3"}'),
        ("/webhook", b'{"key":"k","groupId":1,"file":{"size":"\xc2\xb3"}}'),
        (
            "/token",
            b'{"userId":"u","token":"t","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        ),
        ("/token", b'{"userId":"u","token":"t","x":' + b"[" * 40 + b"]" * 40 + b"}"),
        ("/token", b'{"userId":1,"token":"t"}'),
        ("/token", b"[]"),
    ]
    async with (
        serve_bot(bot, adapter=adapter) as server,
        aiohttp.ClientSession() as http,
    ):
        statuses = []
        for path, body in bodies:
            headers = {HEADER[0]: HEADER[1], "Authentication": webhook_auth}
            async with http.post(
                server.url + path, data=body, headers=headers
            ) as reply:
                statuses.append(reply.status)
    assert statuses == [400] * len(bodies)
    assert calls == []


async def test_the_framework_free_core_refuses_from_headers_too() -> None:
    bot, calls = make_bot()
    auth = {HEADER[0]: HEADER[1]}

    async def status(**headers: str) -> int:
        return (await bot.handle("bot", auth | headers, request_body())).status

    assert await status(**{"Content-Encoding": "gzip"}) == 415
    assert await status(**{"content-length": str(2 * 1024 * 1024)}) == 413
    assert await status(**{"Content-Length": "1e3"}) == 400
    assert await status(**{"x-bot-token": SECRET}) == 401  # the header twice
    assert await status() == 200 and calls == ["hi"]
    for bad in ({"body_timeout": 0}, {"body_timeout": "5"}, {"event_sender": "x"}):
        with pytest.raises(ConfigurationError):
            BotApp(None, **bad)
