"""km.messages: exact send bytes, no blind retries, and gap-free history paging."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from unittest.mock import Mock

import msgspec
import pytest
from aiohttp import ClientConnectorError, ServerDisconnectedError
from aioresponses import CallbackResult

from kommunicate_async import (
    APIConnectionError,
    Conversation,
    InvalidRequestError,
    KommunicateSession,
    RateLimitError,
    ResponseValidationError,
    SentMessage,
    ServerError,
)
from tests.mockapi import API_KEY, MockApi, MockedResponse
from tests.payloads import load

if TYPE_CHECKING:
    from yarl import URL

SEND = "/rest/ws/message/v2/send"
LIST = "/rest/ws/message/list"


async def test_send_posts_exact_bytes(api: MockApi, km: KommunicateSession) -> None:
    api.add("POST", SEND, body=load("send_message_bare"))
    sent = await km.messages.send(42, "hi", sender="agent@acme.io")
    assert sent == SentMessage(key="5-d0f8a-1763985600123", created_at=1763985600123)
    call = api.only_call("POST", SEND)
    assert (
        call.kwargs["data"]
        == b'{"groupId":42,"message":"hi","fromUserName":"agent@acme.io"}'
    )
    assert call.kwargs["headers"]["Api-Key"] == API_KEY
    assert "Of-User-Id" not in call.kwargs["headers"]  # P2: the sender is in the body


@pytest.mark.parametrize(
    ("ref", "target"),
    [
        pytest.param("order-991", b'"clientGroupId":"order-991"', id="client-id"),
        pytest.param(Conversation(id=7), b'"groupId":7', id="conversation"),
    ],
)
async def test_send_targets_and_default_sender(
    api: MockApi, km: KommunicateSession, ref: Any, target: bytes
) -> None:
    api.add("POST", SEND, body=b'{"status":"success","response":{"messageKey":"k"}}')
    sent = await km.messages.send(ref, "hello")
    assert sent.key == "k" and sent.created_at is None
    assert api.only_call("POST", SEND).kwargs["data"] == (
        b"{" + target + b',"message":"hello","fromUserName":"bot"}'
    )


async def test_send_stringifies_metadata(api: MockApi, km: KommunicateSession) -> None:
    api.add("POST", SEND, body=load("send_message_bare"))
    await km.messages.send(
        1,
        "Pick one",
        sender="bot",
        metadata={
            "contentType": "300",
            "templateId": "6",
            "payload": [{"title": "Yes"}],
            "skipBot": True,
        },
    )
    assert api.only_call("POST", SEND).kwargs["data"] == (
        b'{"groupId":1,"message":"Pick one","fromUserName":"bot","metadata":{"contentType":"300",'
        b'"templateId":"6","payload":"[{\\"title\\":\\"Yes\\"}]","skipBot":"true"}}'
    )


@pytest.mark.parametrize(
    ("ref", "text", "kwargs"),
    [
        pytest.param(1, "", {}, id="empty-text"),
        pytest.param(1, "  \n", {}, id="blank-text"),
        pytest.param(1, None, {}, id="none-text"),
        pytest.param(True, "x", {}, id="bool-ref"),
        pytest.param(1.0, "x", {}, id="float-ref"),
        pytest.param(1, "x", {"sender": "a\nb"}, id="crlf-sender"),
        pytest.param(1, "x", {"metadata": {"k": float("nan")}}, id="nan-meta"),
        pytest.param(1, "x", {"metadata": "k=v"}, id="str-meta"),
    ],
)
async def test_bad_send_sends_nothing(
    api: MockApi, km: KommunicateSession, ref: Any, text: Any, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRequestError):
        await km.messages.send(ref, text, **kwargs)
    assert api.count() == 0


async def test_a_5xx_send_is_ambiguous_and_not_retried(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add(
        "POST",
        SEND,
        status=500,
        body=b'{"status":"error","errorResponse":[{"description":"boom"}]}',
    )
    with pytest.raises(ServerError) as info:
        await km.messages.send(1, "x")
    assert info.value.ambiguous is True
    assert len(api.calls("POST", SEND)) == 1


async def test_a_disconnect_after_sending_is_ambiguous(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, exception=ServerDisconnectedError())
    with pytest.raises(APIConnectionError) as info:
        await km.messages.send(1, "x")
    assert info.value.ambiguous is True and info.value.sent is True
    assert len(api.calls("POST", SEND)) == 1


async def test_a_refused_connection_is_retried_even_for_a_send(
    api: MockApi, km: KommunicateSession
) -> None:
    refused = ClientConnectorError(connection_key(), OSError(111, "Connection refused"))
    api.add("POST", SEND, exception=refused)
    api.add("POST", SEND, body=load("send_message_bare"))
    sent = await km.messages.send(1, "x")
    assert sent.key.startswith("5-")
    assert len(api.calls("POST", SEND)) == 2


async def test_a_429_send_is_retried_after_retry_after(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, status=429, headers={"Retry-After": "0"})
    api.add("POST", SEND, body=load("send_message_bare"))
    assert (await km.messages.send(1, "x")).key.startswith("5-")
    assert len(api.calls("POST", SEND)) == 2


async def test_429_gives_up_after_max_retries(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, status=429, headers={"Retry-After": "0"}, repeat=True)
    with pytest.raises(RateLimitError) as info:
        await km.messages.send(1, "x")
    assert info.value.retry_after == 0.0 and info.value.ambiguous is False
    assert len(api.calls("POST", SEND)) == 3  # max_retries=2


async def test_unreadable_success_reply_is_ambiguous(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, body=b'{"messageKey":"5-tru')  # truncated JSON
    with pytest.raises(ResponseValidationError) as info:
        await km.messages.send(1, "x")
    assert info.value.ambiguous is True


async def test_success_envelope_without_key_is_ambiguous(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, body=b'{"status":"success","response":null}')
    with pytest.raises(ResponseValidationError) as info:
        await km.messages.send(1, "x")
    assert info.value.ambiguous is True


def connection_key() -> Any:
    """A stand-in for aiohttp's ConnectionKey, which ClientConnectorError formats."""
    return Mock(host="services.test", port=443, ssl=True)


# -- history paging --------------------------------------------------------------------


class HistoryServer:
    """A message/list that pages by endTime (inclusive or exclusive) and startIndex."""

    def __init__(
        self, times: list[int], *, inclusive: bool, max_page: int | None = None
    ) -> None:
        # unique keys; several messages share a millisecond on purpose
        self.rows = [(f"k{i:03d}", t) for i, t in enumerate(times)]
        self.inclusive = inclusive
        self.max_page = max_page
        self.requests: list[dict[str, str]] = []

    def __call__(self, url: URL, **_: Any) -> CallbackResult:
        query = dict(url.query)
        self.requests.append(query)
        end = int(query["endTime"]) if "endTime" in query else None
        size = int(query["pageSize"])
        if self.max_page is not None:
            size = min(size, self.max_page)
        start = int(query.get("startIndex", "0"))
        rows = [
            (key, t)
            for key, t in self.rows
            if end is None or (t <= end if self.inclusive else t < end)
        ]
        rows.sort(key=lambda row: (-row[1], row[0]))
        page = [
            {"key": key, "message": key, "createdAtTime": t, "contactIds": "u"}
            for key, t in rows[start : start + size]
        ]
        body = msgspec.json.encode({"message": page})
        return CallbackResult(body=body, response_class=MockedResponse)


# Ten messages; five share one millisecond so page boundaries fall inside a tie.
TIMES = [100, 101, 102, 102, 102, 102, 102, 103, 104, 105]


@pytest.mark.parametrize("inclusive", [True, False], ids=["inclusive", "exclusive"])
@pytest.mark.parametrize("page_size", [1, 2, 3, 4, 50])
async def test_list_yields_every_message_once_newest_first(
    api: MockApi, km: KommunicateSession, inclusive: bool, page_size: int
) -> None:
    # UNCERTAIN (docs/wire.md#messages): whether endTime is inclusive; both must work.
    server = HistoryServer(TIMES, inclusive=inclusive)
    api.mocked.get(
        re.compile(r"https://services\.test/rest/ws/message/list\?.*"),
        callback=server,
        repeat=True,
    )
    got = [m async for m in km.messages.list(9, page_size=page_size)]
    assert sorted(m.key for m in got) == sorted(key for key, _ in server.rows)
    assert len({m.key for m in got}) == len(got) == 10
    assert [m.created_at for m in got] == sorted(TIMES, reverse=True)
    assert all(q["groupId"] == "9" for q in server.requests)


async def test_list_survives_a_server_that_caps_the_page(
    api: MockApi, km: KommunicateSession
) -> None:
    server = HistoryServer(TIMES, inclusive=False, max_page=2)
    api.mocked.get(
        re.compile(r"https://services\.test/rest/ws/message/list\?.*"),
        callback=server,
        repeat=True,
    )
    got = [m.key async for m in km.messages.list(9, page_size=5)]
    assert len(got) == len(set(got)) == 10


async def test_list_decodes_the_recorded_page(
    api: MockApi, km: KommunicateSession
) -> None:
    params = {"groupId": 12345678, "pageSize": 50, "startIndex": 0}
    api.add("GET", LIST, params=params, body=load("message_list"))
    end = {**params, "endTime": 1763985600101}
    api.add("GET", LIST, params=end, body=b'{"message":[]}')
    messages = [m async for m in km.messages.list(12345678)]
    assert [(m.key, m.text, m.sender) for m in messages] == [
        ("5-b", "second", "user-1"),
        ("5-a", "first", "bot"),
    ]
    assert messages[0].metadata == {"skipBot": "true"}
    assert messages[0].client_conversation_id == "order-991"
    headers = api.only_call("GET", LIST, params=params).kwargs["headers"]
    assert headers == {
        "Api-Key": API_KEY,
        "Of-User-Id": "bot",
        "Accept": "application/json",
        "User-Agent": headers["User-Agent"],
    }


async def test_list_of_an_empty_conversation(
    api: MockApi, km: KommunicateSession
) -> None:
    params = {"groupId": 3, "pageSize": 10, "startIndex": 0}
    api.add(
        "GET",
        LIST,
        params=params,
        body=b'{"status":"success","response":{"message":[]}}',
    )
    assert [m async for m in km.messages.list(3, page_size=10)] == []


async def test_list_refuses_bad_page_size(api: MockApi, km: KommunicateSession) -> None:
    with pytest.raises(InvalidRequestError):
        [m async for m in km.messages.list(3, page_size=0)]
    assert api.count() == 0


async def test_sender_is_to_and_the_viewer_for_sent_messages(
    api: MockApi, km: KommunicateSession
) -> None:
    """Third audit item 7: the Web SDK's getMessageFeed sets from = type == 4 ? to :
    <the viewing user>; the widget and the iOS transcript read the author from `to`.
    UNCERTAIN: `contactIds` only as a fallback."""
    params = {"groupId": 7, "pageSize": 50, "startIndex": 0}
    page = (
        b'{"message":[{"key":"k3","createdAtTime":3,"type":5,"to":"user-9",'
        b'"contactIds":"user-9","message":"mine"},'
        b'{"key":"k2","createdAtTime":2,"type":4,"to":"agent@x","contactIds":"user-9",'
        b'"message":"theirs"},{"key":"k1","createdAtTime":1,"contactIds":"c"}]}'
    )
    api.add("GET", LIST, params=params, body=page)
    for end in (1, 2, 3):  # the cursor's next page: nothing more
        api.add("GET", LIST, params={**params, "endTime": end}, body=b'{"message":[]}')
    got = [m async for m in km.messages.list(7, on_behalf_of="agent@y")]
    assert [m.sender for m in got] == ["agent@y", "agent@x", "c"]
