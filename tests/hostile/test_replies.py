"""Hostile replies: only documented errors come out, and memory stays bounded."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from hypothesis import given, settings, strategies as st

from kommunicate_async import (
    APIError,
    KommunicateError,
    NotFoundError,
    ResponseValidationError,
    ServerError,
)
from tests.hostile.conftest import HostileServer, session_for

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from tests.mockapi import MockApi

INFO = "/rest/ws/group/info"
SEND = "/rest/ws/message/v2/send"
ROOT = Path(__file__).resolve().parents[2]


async def endless(request: web.Request) -> web.StreamResponse:
    """A reply that never ends (chunked), 1 MiB at a time."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    block = b" " * (1 << 20)
    try:
        await response.write(b'{"status":"success","response":"')
        for _ in range(4096):  # up to 4 GiB, if anyone kept reading
            await response.write(block)
    except (ConnectionError, RuntimeError):
        pass
    return response


def _bomb_blocks() -> tuple[bytes, bytes, bytes]:
    # Gzip of zeros, 1 MiB per ~1 KB block; after the first, every block is the
    # same bytes, so the server sends 10 GiB (inflated) without compressing it.
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"0" * (1 << 20)
    head = packer.compress(b'{"a":"')
    first = packer.compress(zeros) + packer.flush(zlib.Z_SYNC_FLUSH)
    repeat = packer.compress(zeros) + packer.flush(zlib.Z_SYNC_FLUSH)
    return head, first, repeat


BOMB = _bomb_blocks()


async def gzip_bomb(request: web.Request) -> web.StreamResponse:
    """Gzip of endless zeros: ~1000x expansion (10 MB -> 10 GB)."""
    response = web.StreamResponse(
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    await response.prepare(request)
    head, first, repeat = BOMB
    try:
        await response.write(head + first)
        for _ in range(10_240):  # 10 GiB once inflated
            await response.write(repeat)
    except (ConnectionError, RuntimeError):
        pass
    return response


@pytest.mark.parametrize("handler", [endless, gzip_bomb], ids=["endless", "gzip-bomb"])
async def test_a_huge_reply_stops_at_the_cap(
    hostile: HostileServer, handler: Any
) -> None:
    hostile.on("GET", INFO, handler)
    async with session_for(hostile, max_response_bytes=1 << 20) as km:
        with pytest.raises(ResponseValidationError, match="max_response_bytes"):
            await km.conversations.get(5)


async def test_an_oversized_send_reply_is_ambiguous(hostile: HostileServer) -> None:
    hostile.on("POST", SEND, endless)
    async with session_for(hostile, max_response_bytes=1 << 20) as km:
        with pytest.raises(ResponseValidationError) as caught:
            await km.messages.send(5, "hi")
    assert caught.value.ambiguous  # the server acted on it before its reply grew
    assert hostile.count("POST", SEND) == 1  # never retried blindly


_RSS_PROBE = """
import asyncio, sys
from kommunicate_async import KommunicateSession, ResponseValidationError, Timeouts

def peak_mb():
    # VmHWM: this program's own peak. ru_maxrss would include the parent's RSS at
    # fork time (Linux keeps it across exec).
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024

async def main():
    km = KommunicateSession("k", base_url=sys.argv[1], chat_url=sys.argv[1],
                            timeout=Timeouts(connect=2, attempt=60, total=60))
    async with km:
        print("before_mb", peak_mb())
        try:
            await km.conversations.get(5)
        except ResponseValidationError as exc:
            print("capped:", "max_response_bytes" in str(exc))

asyncio.run(main())
print("rss_mb", peak_mb())
"""


@pytest.mark.slow
@pytest.mark.parametrize("handler", [endless, gzip_bomb], ids=["2GB", "gzip-bomb"])
async def test_memory_stays_under_100_mb(hostile: HostileServer, handler: Any) -> None:
    # The client in its own process, so its peak RSS is its own.
    hostile.on("GET", INFO, handler)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(_RSS_PROBE),
        hostile.url,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    lines = out.decode().split()
    assert "capped:" in lines and lines[lines.index("capped:") + 1] == "True"
    before = int(lines[lines.index("before_mb") + 1])
    rss = int(lines[lines.index("rss_mb") + 1])
    assert rss - before < 40, f"the reply cost {rss - before} MB"
    assert rss < 100, f"peak RSS {rss} MB (before the call: {before} MB)"


def nested(levels: int) -> bytes:
    return b'{"status":"error","errorResponse":' + b"[" * levels + b"]" * levels + b"}"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, nested(100_000)),
        (200, nested(100_000)),
        (200, b"[" * 200_000),
        (200, b'{"status":"success","response":{"id":1}} trailing'),
        (400, b'{"status":"error"} garbage'),
        (200, b'{"id": 1e999999}'),
        (200, b"\xff\xfe\x00"),
        (200, b'{"id":1,"metadata":{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}}"),
    ],
)
async def test_malformed_bodies_raise_documented_errors(
    hostile: HostileServer, status: int, body: bytes
) -> None:
    # Before: RecursionError, msgspec.DecodeError ("trailing characters").
    async def reply(_: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type="application/json")

    hostile.on("GET", INFO, reply)
    hostile.on("POST", SEND, reply)
    async with session_for(hostile, max_retries=0) as km:
        with pytest.raises(KommunicateError) as caught:
            await km.conversations.get(5)
        assert isinstance(caught.value, ResponseValidationError | APIError)
        with pytest.raises(KommunicateError) as sent:
            await km.messages.send(5, "hi")
        assert isinstance(sent.value, ResponseValidationError | APIError)


@pytest.mark.parametrize(
    "location",
    [
        "file:///etc/passwd",
        "data:text/plain,hi",
        "http://[::1",
        "http://127.0.0.1:99999/x",
        "javascript:alert(1)",
        "http://user:pw@evil.example/",
    ],
)
async def test_unusable_redirects_are_api_errors(
    api: MockApi, km: KommunicateSession, location: str
) -> None:
    api.add(
        "GET", INFO, params={"groupId": 5}, status=302, headers={"Location": location}
    )
    with pytest.raises(APIError, match="refused to follow"):
        await km.conversations.get(5)


async def test_group_not_found_code_is_not_found(
    api: MockApi, km: KommunicateSession
) -> None:
    # Second audit, item 4: the Web SDK reads "AL-G-01" as "group not found".
    api.add(
        "GET",
        INFO,
        params={"clientGroupId": "x"},
        body=b'{"status":"error","errorResponse":[{"errorCode":"AL-G-01","description":"no group"}]}',
    )
    with pytest.raises(NotFoundError) as caught:
        await km.conversations.get("x")
    assert caught.value.code == "AL-G-01"


# -- fuzzing: whatever comes back, only documented errors come out ------------------

json_bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "status",
                    "response",
                    "errorResponse",
                    "id",
                    "metadata",
                    "message",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


async def _one_reply(body: bytes, status: int) -> BaseException | None:
    from aioresponses import aioresponses

    from kommunicate_async import KommunicateSession, Timeouts
    from tests.mockapi import BASE_URL, MockApi

    with aioresponses() as mocked:
        api = MockApi(mocked)
        for path in (INFO, SEND):
            method = "GET" if path == INFO else "POST"
            api.add(
                method,
                path,
                params={"groupId": 5} if path == INFO else None,
                status=status,
                body=body,
                repeat=True,
            )
        km = KommunicateSession(
            "k-fuzz",
            base_url=BASE_URL,
            max_retries=0,
            timeout=Timeouts(connect=1, attempt=1, total=2),
        )
        async with km:
            for call in (km.conversations.get(5), km.messages.send(5, "hi")):
                try:
                    await call
                except KommunicateError:
                    pass
                except BaseException as exc:
                    return exc
    return None


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(
    body=json_bodies.map(lambda v: __import__("msgspec").json.encode(v))
    | st.binary(max_size=64),
    status=st.sampled_from([200, 201, 204, 400, 401, 404, 409, 429, 500, 503]),
)
def test_fuzzed_replies_raise_only_documented_errors(body: bytes, status: int) -> None:
    assert asyncio.run(_one_reply(body, status)) is None


async def test_a_5xx_html_page_is_a_server_error(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add(
        "GET",
        INFO,
        params={"groupId": 5},
        status=502,
        body=b"<html>bad</html>",
        repeat=True,
    )
    with pytest.raises(ServerError):
        await km.conversations.get(5)
