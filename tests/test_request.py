"""km.request: the escape hatch through the same pipeline (issue #19), exact bytes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async import (
    APITimeoutError,
    ChatAuth,
    InvalidRequestError,
    KommunicateSession,
    NotFoundError,
    RawResponse,
    ServerError,
    Timeouts,
)
from kommunicate_async.models import User
from tests.mockapi import API_KEY, BASE_URL, CHAT_URL

if TYPE_CHECKING:
    from kommunicate_async.testing import FakeKommunicate
    from tests.mockapi import MockApi

APP_URL = "https://api.test"


async def test_services_host_sends_the_api_key_and_json(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", "/rest/ws/team/list", body=b'{"status":"success","response":[1]}')
    got = await km.request("post", "/rest/ws/team/list", json={"a": [1, "x"]})
    assert got == {"status": "success", "response": [1]}
    call = api.only_call("POST", "/rest/ws/team/list")
    assert call.kwargs["data"] == b'{"a":[1,"x"]}'
    assert call.kwargs["headers"]["Api-Key"] == API_KEY
    assert call.kwargs["headers"]["Of-User-Id"] == "bot"
    assert call.kwargs["headers"]["Content-Type"] == "application/json"


async def test_result_type_decodes_enveloped_or_bare(
    api: MockApi, km: KommunicateSession
) -> None:
    path = "/rest/ws/user/v3/filter"
    api.add(
        "GET",
        path,
        params={"q": "x"},
        body=b'{"status":"success","response":[{"userId":"u"}]}',
    )
    users = await km.request("GET", path, params={"q": "x"}, result_type=list[User])
    assert [u.user_id for u in users] == ["u"]


async def test_chat_host_uses_chat_auth_and_app_host_uses_app_url(api: MockApi) -> None:
    async with KommunicateSession(
        API_KEY,
        app_id="app-1",
        base_url=BASE_URL,
        chat_url=CHAT_URL,
        app_url=APP_URL,
        chat_auth=ChatAuth.admin("admin@x.io", "pw"),
    ) as km:
        api.add("GET", "/rest/ws/group/support", base=CHAT_URL, body=b'"ok"')
        assert await km.request("GET", "/rest/ws/group/support", host="chat") == "ok"
        chat = api.only_call("GET", "/rest/ws/group/support", base=CHAT_URL)
        assert chat.kwargs["headers"]["Apz-Token"] == "Basic YWRtaW5AeC5pbzpwdw=="
        assert "Api-Key" not in chat.kwargs["headers"]
        api.add("GET", "/rest/ws/settings/application/detail", base=APP_URL, body=b"{}")
        await km.request("GET", "/rest/ws/settings/application/detail", host="app")
        app = api.only_call("GET", "/rest/ws/settings/application/detail", base=APP_URL)
        assert app.kwargs["headers"]["Api-Key"] == API_KEY
        assert km.config.app_url == APP_URL


def test_app_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMMUNICATE_APP_URL", "https://api-eu.test/")
    km = KommunicateSession(API_KEY)
    assert km.config.app_url == "https://api-eu.test"
    monkeypatch.delenv("KOMMUNICATE_APP_URL")
    assert KommunicateSession(API_KEY).config.app_url == "https://api.kommunicate.io"


async def test_get_is_retried_and_post_is_not(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", "/rest/ws/x", status=503, body=b"{}")
    api.add("GET", "/rest/ws/x", body=b"[1]")
    assert await km.request("GET", "/rest/ws/x") == [1]
    assert len(api.calls("GET", "/rest/ws/x")) == 2
    api.add("POST", "/rest/ws/y", status=503, body=b"{}")
    with pytest.raises(ServerError) as caught:
        await km.request("POST", "/rest/ws/y")
    assert caught.value.ambiguous
    assert len(api.calls("POST", "/rest/ws/y")) == 1


async def test_the_whole_call_deadline_holds(api: MockApi) -> None:
    async with KommunicateSession(
        API_KEY, base_url=BASE_URL, timeout=Timeouts(total=0.0001), max_retries=5
    ) as km:
        api.add("GET", "/rest/ws/x", status=503, body=b"{}", repeat=True)
        with pytest.raises((APITimeoutError, ServerError)):
            await km.request("GET", "/rest/ws/x")
        assert len(api.calls("GET", "/rest/ws/x")) <= 1


async def test_errors_are_typed_and_redacted(
    api: MockApi, km: KommunicateSession, caplog: pytest.LogCaptureFixture
) -> None:
    api.add(
        "GET",
        "/rest/ws/z",
        params={"groupId": 9},
        body=b'{"status":"error","errorResponse":[{"errorCode":"AL-G-01","description":"group not found '
        + API_KEY.encode()
        + b'"}]}',
    )
    caplog.set_level(logging.DEBUG, logger="kommunicate_async")
    with pytest.raises(NotFoundError) as caught:
        await km.request("GET", "/rest/ws/z", params={"groupId": 9})
    assert str(caught.value).startswith("conversation 9 not found (GET /rest/ws/z")
    assert API_KEY not in str(caught.value)
    assert API_KEY not in caplog.text
    assert "GET /rest/ws/z -> 200" in caplog.text  # the DEBUG line


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "TRACE", "path": "/x"}, "method must be one of"),
        ({"method": "GET", "path": "x"}, "must start with one '/'"),
        ({"method": "GET", "path": "//evil.test/x"}, "must start with one '/'"),
        ({"method": "GET", "path": "/x?apiKey=1"}, "must not hold a query"),
        ({"method": "GET", "path": "/a/../b"}, "must not hold a query"),
        ({"method": "GET", "path": "/x\r\nX: y"}, "control characters"),
        ({"method": "GET", "path": "/x", "host": "evil"}, "host must be"),
        (
            {"method": "GET", "path": "/x", "params": {"a": 1.5}},
            "must be a str or an int",
        ),
        ({"method": "POST", "path": "/x", "json": {1j}}, "cannot be encoded"),
    ],
)
async def test_bad_requests_are_refused_before_sending(
    api: MockApi, km: KommunicateSession, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        await km.request(**kwargs)  # type: ignore[arg-type]
    assert api.count() == 0


async def test_raw_returns_status_headers_and_the_fakes_request_id(
    threaded_fake: FakeKommunicate,
) -> None:
    async with threaded_fake.session() as km:
        chat = await km.conversations.create(["user-1"])
        raw = await km.request(
            "GET",
            "/rest/ws/group/v2/info",
            host="chat",
            params={"groupId": chat.id},
            raw=True,
        )
    assert isinstance(raw, RawResponse)
    assert raw.status == 200
    assert raw.request_id is not None and len(raw.request_id) == 32
    assert raw.headers["X-Kong-Request-Id"] == raw.request_id
    assert isinstance(raw.parsed, dict) and raw.parsed["response"]["id"] == chat.id
    assert msgspec.json.decode(raw.body) == raw.parsed
