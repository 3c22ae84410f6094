"""The single send's fast path keeps its semantics where it was trimmed for CPU
(benchmarks/README.md, "The single send under the raw loop again").

The transport awaits aiohttp's `ClientSession._request` directly (no wrapper per
request) unless a borrowed session's class overrides `request`; a reply read in
one chunk is checked against `max_response_bytes` without a second read.
"""

from __future__ import annotations

import warnings
from typing import Any

import aiohttp
import pytest

from kommunicate_async import KommunicateSession, ResponseValidationError
from kommunicate_async._pipeline.routing import Host
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

        def request(  # type: ignore[override]
            self, method: str, url: Any, **kwargs: Any
        ) -> Any:
            self.seen.append((method, str(url)))
            return super().request(method, url, **kwargs)


async def test_a_borrowed_session_that_overrides_request_sees_every_request(
    api: MockApi,
) -> None:
    api.add("POST", SEND, body=load("send_message_bare"))
    async with RecordingSession() as mine:
        mine.seen = []
        async with KommunicateSession(
            API_KEY, base_url=BASE_URL, session=mine, on_behalf_of="bot"
        ) as km:
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
    assert Host.CHAT != Host.APP
