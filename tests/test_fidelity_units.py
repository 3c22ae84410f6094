"""Unit edges of issue #19's helpers: upload replies, km.request input, explain()."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kommunicate_async import (
    AgentBusyError,
    APIError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ResponseValidationError,
)
from kommunicate_async._errors import api_error
from kommunicate_async._explain import explain, request_id_of
from kommunicate_async._pipeline.reply import NoResult
from kommunicate_async.resources._upload import file_meta_from_reply, plain_url

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from tests.mockapi import MockApi


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        (b"https://x/y.png", ResponseValidationError, "not JSON"),
        (
            b'{"status":"error","errorResponse":[{"description":"group not found"}]}',
            NotFoundError,
            "group not found",
        ),
        (b'{"errorCode":"FILE_TOO_BIG"}', APIError, "refused \\(FILE_TOO_BIG\\)"),
        (b'{"fileMeta":"x"}', ResponseValidationError, "no fileMeta"),
        (b"[1]", ResponseValidationError, "no fileMeta"),
    ],
)
def test_upload_reply_edges(body: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        file_meta_from_reply(body)


def test_enveloped_meta_and_json_string_urls() -> None:
    meta = file_meta_from_reply(b'{"status":"success","response":{"blobKey":"b"}}')
    assert meta == {"blobKey": "b"}
    assert plain_url(b'"https://s3.test/a"', "file/url") == "https://s3.test/a"
    with pytest.raises(ResponseValidationError):
        plain_url(b"https://a b", "file/url")


def test_request_id_headers() -> None:
    assert request_id_of(None) is None
    assert request_id_of({"X-Request-Id": "r-1"}) == "r-1"
    assert request_id_of({"X-Kong-Request-Id": "k", "X-Request-Id": "r"}) == "k"
    assert request_id_of({"X-Request-Id": "bad\nid"}) is None


def test_explain_wordings() -> None:
    busy = api_error(200, "BUSY_WITH_OTHER", "BUSY_WITH_OTHER")
    assert isinstance(busy, AgentBusyError)
    explain(busy, method="POST", path="/rest/ws/message/send", body=b'{"groupId":5}')
    assert str(busy) == (
        "the agent is busy with another conversation (POST /rest/ws/message/send, "
        "BUSY_WITH_OTHER): nothing was sent"
    )
    denied = api_error(403, None, "forbidden")
    assert isinstance(denied, PermissionDeniedError)
    explain(denied, method="GET", path="/p", params={"userId": "u" * 100})
    assert denied.subject == "user " + "u" * 80 + "…"
    assert str(denied).startswith("permission denied (GET /p, HTTP 403, forbidden)")
    explain(denied, method="GET", path="/other")  # explained once, kept
    assert denied.path == "/p"
    other = api_error(400, None, "bad")
    explain(other, method="GET", path="/q", body=b"not json")
    assert str(other) == "the request failed (GET /q, HTTP 400, bad)"
    user_token = api_error(401, "AL-UN-01", "expired")
    explain(user_token, method="GET", path="/q", by_key=False)
    assert str(user_token).startswith("the credentials were refused")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": 5, "path": "/x"}, "method must be a str"),
        ({"method": "GET", "path": "/x", "params": [("a", 1)]}, "mapping"),
        ({"method": "GET", "path": "/x", "params": {"a": True}}, "mapping"),
    ],
)
async def test_request_input_edges(
    api: MockApi, km: KommunicateSession, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        await km.request(**kwargs)  # type: ignore[arg-type]
    assert api.count() == 0


async def test_request_plain_text_empty_and_typed_raw(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", "/rest/ws/t", body=b"https://signed.test/x")
    assert await km.request("GET", "/rest/ws/t") == "https://signed.test/x"
    api.add("DELETE", "/rest/ws/t", body=b"")
    assert await km.request("DELETE", "/rest/ws/t", result_type=NoResult) is None
    api.add("GET", "/rest/ws/n", body=b'{"status":"success","response":[1,2]}')
    raw = await km.request("GET", "/rest/ws/n", result_type=list[int], raw=True)
    assert raw.parsed == [1, 2] and raw.status == 200 and raw.request_id is None
    api.add("PUT", "/rest/ws/n", body=b'{"status":"success","response":[3]}')
    assert await km.request("PUT", "/rest/ws/n", result_type=list[int]) == [3]
