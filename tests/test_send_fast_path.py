"""The single send's fast path keeps its semantics where it was trimmed for CPU
(benchmarks/README.md, "The single send under the raw loop again").

The transport awaits aiohttp's `ClientSession._request` directly (no wrapper per
request) unless a borrowed session's class overrides `request`; a reply read in
one chunk is checked against `max_response_bytes` without a second read.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any, cast

import aiohttp
import pytest

from kommunicate_async import KommunicateSession, ResponseValidationError
from kommunicate_async._pipeline.routing import Host
from kommunicate_async._pipeline.transport import _read_and_release, _take_whole
from tests.mockapi import API_KEY, BASE_URL, MockApi
from tests.payloads import load

SEND = "/rest/ws/message/v2/send"
INFO = "/rest/ws/group/info"
SENT_BODY = b'{"groupId":1,"message":"x","fromUserName":"bot"}'


# aiohttp discourages subclassing ClientSession (a DeprecationWarning), but an
# application may still hand us one.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)

    class RecordingSession(aiohttp.ClientSession):
        """An application's session whose `request` does something of its own."""

        seen: list[tuple[str, str]]

        def request(self, method: str, url: Any, **kwargs: Any) -> Any:
            self.seen.append((method, str(url)))
            return super().request(method, url, **kwargs)


async def test_a_borrowed_session_that_overrides_request_sees_every_request(
    api: MockApi,
) -> None:
    api.add("POST", SEND, body=load("send_message_bare"))
    mine = RecordingSession()
    mine.seen = []
    async with (
        mine,
        KommunicateSession(
            API_KEY, base_url=BASE_URL, session=mine, on_behalf_of="bot"
        ) as km,
    ):
        sent = await km.messages.send(1, "x")
    assert mine.seen == [("POST", BASE_URL + SEND)]
    assert sent.key == "5-d0f8a-1763985600123"
    assert api.only_call("POST", SEND).kwargs["data"] == SENT_BODY


async def test_a_plain_borrowed_session_sends_the_same_bytes(api: MockApi) -> None:
    api.add("POST", SEND, body=load("send_message_bare"))
    async with (
        aiohttp.ClientSession() as mine,
        KommunicateSession(
            API_KEY, base_url=BASE_URL, session=mine, on_behalf_of="bot"
        ) as km,
    ):
        await km.messages.send(1, "x")
    call = api.only_call("POST", SEND)
    assert call.kwargs["data"] == SENT_BODY
    assert call.kwargs["allow_redirects"] is False
    assert call.kwargs["headers"]["Api-Key"] == API_KEY


@pytest.mark.parametrize(("size", "fits"), [(1024, True), (1025, False)])
async def test_a_one_chunk_reply_is_capped_at_exactly_max_response_bytes(
    api: MockApi, size: int, fits: bool
) -> None:
    # A JSON string of `size` bytes in all, answered in one piece.
    body = b'"' + b"a" * (size - 2) + b'"'
    api.add("GET", INFO, params={"groupId": 5}, body=body)
    async with KommunicateSession(
        API_KEY, base_url=BASE_URL, max_response_bytes=1024
    ) as km:
        if fits:
            got = await km.request(
                "GET", INFO, params={"groupId": 5}, result_type=bytes
            )
            assert got == body
        else:
            with pytest.raises(ResponseValidationError, match="max_response_bytes"):
                await km.request("GET", INFO, params={"groupId": 5}, result_type=bytes)


def test_hosts_hash_by_identity_and_still_compare_by_identity() -> None:
    # `Targets.by_key` is keyed by routes, which hash their host: in C now.
    assert hash(Host.CHAT) == object.__hash__(Host.CHAT)
    assert Host("chat") is Host.CHAT
    assert {Host.CHAT: 1}[Host("chat")] == 1
    assert len({Host.CHAT, Host.APP, Host("chat")}) == 2


class _Protocol:
    """What aiohttp's StreamReader asks of its protocol (flow control)."""

    _reading_paused = False
    connected = True

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self, *, resume_parser: bool = True) -> None:  # noqa: ARG002
        self._reading_paused = False


class _Reply:
    """The part of `aiohttp.ClientResponse` the body readers use."""

    def __init__(self) -> None:
        self.content = aiohttp.StreamReader(
            _Protocol(),  # type: ignore[arg-type]
            2**16,
            loop=asyncio.get_running_loop(),
        )
        self.ended: list[str] = []

    def release(self) -> None:
        self.ended.append("release")

    def close(self) -> None:
        self.ended.append("close")


def _reader(reply: _Reply) -> aiohttp.ClientResponse:
    return cast("aiohttp.ClientResponse", reply)


@pytest.mark.parametrize(
    ("cap", "want", "ended"), [(3, b"abc", "release"), (2, None, "close")]
)
async def test_a_reply_that_has_all_arrived_is_taken_without_a_read(
    cap: int, want: bytes | None, ended: str
) -> None:
    reply = _Reply()
    reply.content.feed_data(b"abc")
    reply.content.feed_eof()
    assert reply.content.is_eof()
    assert _take_whole(_reader(reply), cap) == want
    assert reply.ended == [ended]  # over the cap: the connection is not reused


async def test_a_broken_reply_that_has_all_arrived_closes_the_connection() -> None:
    reply = _Reply()
    reply.content.feed_eof()
    reply.content.set_exception(aiohttp.ClientPayloadError("truncated"))
    with pytest.raises(aiohttp.ClientPayloadError):
        _take_whole(_reader(reply), 10)
    assert reply.ended == ["close"]


def _arrive(content: aiohttp.StreamReader, ticks: list[list[bytes | None]]) -> None:
    """Feed `content` one loop iteration per tick, once the reader waits (a chunk,
    or None: the end)."""
    loop = asyncio.get_running_loop()

    def tick(index: int) -> None:
        for item in ticks[index]:
            if item is None:
                content.feed_eof()
            else:
                content.feed_data(item)
        if index + 1 < len(ticks):
            loop.call_soon(tick, index + 1)

    loop.call_soon(tick, 0)


@pytest.mark.parametrize(
    ("ticks", "cap", "want"),
    [
        ([[b"abc", None]], 3, b"abc"),  # one chunk, the end seen with it
        ([[b"abc", None]], 2, None),
        ([[b"abc"], [None]], 3, b"abc"),  # the end seen on the next read
        ([[b"abc"], [None]], 2, None),
        ([[b"ab"], [b"cd"], [None]], 4, b"abcd"),  # several chunks: one buffer
        ([[b"ab"], [b"cd"], [None]], 3, None),
    ],
)
async def test_a_reply_still_arriving_is_read_to_its_end_within_the_cap(
    ticks: list[list[bytes | None]], cap: int, want: bytes | None
) -> None:
    reply = _Reply()
    _arrive(reply.content, ticks)
    assert await _read_and_release(_reader(reply), cap) == want
    assert reply.ended == ["release" if want is not None else "close"]


async def test_a_reply_that_breaks_while_read_closes_the_connection() -> None:
    reply = _Reply()
    asyncio.get_running_loop().call_soon(
        reply.content.set_exception, aiohttp.ClientPayloadError("reset")
    )
    with pytest.raises(aiohttp.ClientPayloadError):
        await _read_and_release(_reader(reply), 10)
    assert reply.ended == ["close"]
