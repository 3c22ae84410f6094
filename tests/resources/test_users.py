"""km.users: details (P4), update (P5), login and user tokens (A24, A26)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import msgspec
import pytest

from kommunicate_async import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    KommunicateSession,
    NotFoundError,
    ResponseValidationError,
    User,
)
from tests.mockapi import API_KEY, BASE_URL, CHAT_URL, MockApi
from tests.payloads import load
from tests.tokens import make_jwt

DETAIL = "/rest/ws/user/v2/detail"
UPDATE = "/rest/ws/user/update"
REGISTER = "/rest/ws/register/client"
REFRESH = "/rest/ws/register/refresh/token"
READ = "/rest/ws/message/read/conversation"
INFO = "/rest/ws/group/info"
SEND = "/rest/ws/message/v2/send"


def registration(
    token: str, *, message: str = "REGISTERED.WITHOUTREGISTRATIONID"
) -> bytes:
    reply = msgspec.json.decode(load("register_client"))
    reply.update(authToken=token, message=message)
    return msgspec.json.encode(reply)


async def test_get_and_get_many(api: MockApi, km: KommunicateSession) -> None:
    api.add("POST", DETAIL, body=load("user_detail"), repeat=True)
    user = await km.users.get("user-1")
    assert (user.display_name, user.email, user.unread_count, user.metadata) == (
        "User One",
        "one@example.com",
        4,
        {"plan": "gold"},
    )
    assert user.name == "User One" and user.role_type == 3
    many = await km.users.get_many(["user-1", "agent@acme.io"])
    assert [u.user_id for u in many] == ["user-1", "agent@acme.io"]
    bodies = [c.kwargs["data"] for c in api.calls("POST", DETAIL)]
    assert bodies == [
        b'{"userIdList":["user-1"]}',
        b'{"userIdList":["user-1","agent@acme.io"]}',
    ]


async def test_get_unknown_user(api: MockApi, km: KommunicateSession) -> None:
    api.add("POST", DETAIL, body=b"[]")
    with pytest.raises(NotFoundError):
        await km.users.get("ghost")


async def test_update_sends_only_given_fields_acting_as_the_user(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", UPDATE, body=b'{"status":"success","response":"success"}')
    await km.users.update(
        "user-1", display_name="Uno", metadata={"tier": 2, "tags": ["a"]}
    )
    call = api.only_call("POST", UPDATE)
    assert (
        call.kwargs["data"]
        == b'{"displayName":"Uno","metadata":{"tier":"2","tags":"[\\"a\\"]"}}'
    )
    assert call.kwargs["headers"]["Of-User-Id"] == "user-1"
    assert call.kwargs["headers"]["Api-Key"] == API_KEY


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"email": ""}, {"display_name": "a\nb"}, {"metadata": {"x": float("inf")}}],
)
async def test_bad_update_sends_nothing(
    api: MockApi, km: KommunicateSession, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRequestError):
        await km.users.update("user-1", **kwargs)
    assert api.count() == 0


async def test_login_registers_on_the_chat_host_without_credentials(
    api: MockApi, km: KommunicateSession
) -> None:
    token = make_jwt(valid_minutes=30)
    api.add("POST", REGISTER, base=CHAT_URL, body=registration(token))
    result = await km.users.login("user-1", password="pw")
    call = api.only_call("POST", REGISTER, base=CHAT_URL)
    assert call.kwargs["data"] == (
        b'{"userId":"user-1","applicationId":"app-1","deviceType":1,'
        b'"authenticationTypeId":1,"appVersionCode":113,"enableEncryption":false,'
        b'"password":"pw"}'
    )
    assert "Api-Key" not in call.kwargs["headers"]
    assert result.user_id == "user-1"
    assert result.registration == "REGISTERED.WITHOUTREGISTRATIONID"
    assert (
        result.expires_at is not None and 1700 < result.expires_at - time.time() <= 1800
    )
    assert token not in repr(result) and "dk-0a1b2c" not in repr(km)


@pytest.mark.parametrize(
    "word", ["PASSWORD_INVALID", "PASSWORD_REQUIRED", "INVALID_APPLICATIONID"]
)
async def test_login_refusals(api: MockApi, km: KommunicateSession, word: str) -> None:
    api.add(
        "POST", REGISTER, base=CHAT_URL, body=b'{"message":"' + word.encode() + b'"}'
    )
    with pytest.raises(AuthenticationError, match=word):
        await km.users.login("user-1", password="bad")


async def test_login_odd_replies(api: MockApi, km: KommunicateSession) -> None:
    api.add("POST", REGISTER, base=CHAT_URL, body=b'{"message":"INVALID_PARAMETER"}')
    with pytest.raises(APIError, match="INVALID_PARAMETER"):
        await km.users.login("user-1")
    api.add("POST", REGISTER, base=CHAT_URL, body=b'{"message":"UPDATED"}')
    with pytest.raises(ResponseValidationError, match="authToken"):
        await km.users.login("user-1")


async def test_login_needs_an_app_id(api: MockApi) -> None:
    async with KommunicateSession(API_KEY, base_url=BASE_URL, chat_url=CHAT_URL) as km:
        with pytest.raises(ConfigurationError, match="KOMMUNICATE_APP_ID"):
            await km.users.login("user-1")
    assert api.count() == 0


async def test_logged_in_user_calls_the_chat_host_with_their_token(
    api: MockApi, km: KommunicateSession
) -> None:
    token = make_jwt()
    api.add("POST", REGISTER, base=CHAT_URL, body=registration(token))
    await km.users.login("user-1")
    api.add(
        "GET", READ, params={"groupId": 5}, base=CHAT_URL, body=b'{"status":"success"}'
    )
    await km.unread.mark_read(5, "user-1")
    headers = api.only_call("GET", READ, params={"groupId": 5}, base=CHAT_URL).kwargs[
        "headers"
    ]
    assert headers["X-Authorization"] == token
    assert headers["Application-Key"] == "app-1"
    assert "Api-Key" not in headers and "Of-User-Id" not in headers
    # Platform calls (a send) keep using the API key on the platform host.
    api.add("POST", SEND, body=load("send_message_bare"))
    await km.messages.send(5, "hi", sender="user-1")
    assert api.only_call("POST", SEND).kwargs["headers"]["Api-Key"] == API_KEY
    # After logout the user's calls fall back to Api-Key + Of-User-Id.
    km.users.logout("user-1")
    api.add("GET", READ, params={"groupId": 5}, body=b"")
    await km.unread.mark_read(5, "user-1")
    assert (
        api.only_call("GET", READ, params={"groupId": 5}).kwargs["headers"][
            "Of-User-Id"
        ]
        == "user-1"
    )


async def test_expiring_token_is_refreshed_before_the_call(
    api: MockApi, km: KommunicateSession
) -> None:
    stale = make_jwt(valid_minutes=1, created_ms=time.time() * 1000 - 59_000)
    fresh = make_jwt(valid_minutes=30)
    api.add("POST", REGISTER, base=CHAT_URL, body=registration(stale))
    await km.users.login("agent+1@acme.io")
    api.add(
        "POST",
        REFRESH,
        base=CHAT_URL,
        body=b'{"status":"success","generatedAt":1,"response":"'
        + fresh.encode()
        + b'"}',
    )
    api.add("GET", INFO, params={"groupId": 5}, base=CHAT_URL, body=load("group_info"))
    await km.conversations.get(5, on_behalf_of="agent+1@acme.io")
    refresh = api.only_call("POST", REFRESH, base=CHAT_URL)
    assert (
        refresh.kwargs["data"]
        == b'{"applicationId":"app-1","userId":"agent+1@acme.io"}'
    )
    assert refresh.kwargs["headers"]["Device-Key"] == "dk-0a1b2c"
    assert refresh.kwargs["headers"]["Application-Key"] == "app-1"
    assert refresh.kwargs["headers"]["Of-User-Id"] == quote("agent+1@acme.io", safe="")
    info = api.only_call("GET", INFO, params={"groupId": 5}, base=CHAT_URL)
    assert info.kwargs["headers"]["X-Authorization"] == fresh


async def test_a_401_refreshes_once_and_replays(
    api: MockApi, km: KommunicateSession
) -> None:
    first, second = make_jwt(), make_jwt(valid_minutes=60)
    api.add("POST", REGISTER, base=CHAT_URL, body=registration(first))
    await km.users.login("user-1")
    api.add("GET", READ, params={"groupId": 5}, base=CHAT_URL, status=401)
    api.add(
        "POST",
        REFRESH,
        base=CHAT_URL,
        body=b'{"status":"success","response":"' + second.encode() + b'"}',
    )
    api.add("GET", READ, params={"groupId": 5}, base=CHAT_URL, body=b"success")
    await km.unread.mark_read(5, "user-1")
    calls = api.calls("GET", READ, params={"groupId": 5}, base=CHAT_URL)
    assert [c.kwargs["headers"]["X-Authorization"] for c in calls] == [first, second]


async def test_a_second_401_is_an_authentication_error(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", REGISTER, base=CHAT_URL, body=registration(make_jwt()))
    await km.users.login("user-1")
    api.add("GET", READ, params={"groupId": 5}, base=CHAT_URL, status=401, repeat=True)
    api.add(
        "POST", REFRESH, base=CHAT_URL, body=b'{"status":"success","response":"a.b.c"}'
    )
    with pytest.raises(AuthenticationError):
        await km.unread.mark_read(5, "user-1")
    assert len(api.calls("POST", REFRESH, base=CHAT_URL)) == 1


async def test_refresh_without_a_jwt_is_a_validation_error(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", REGISTER, base=CHAT_URL, body=registration(make_jwt()))
    await km.users.login("user-1")
    api.add("GET", READ, params={"groupId": 5}, base=CHAT_URL, status=401)
    api.add(
        "POST", REFRESH, base=CHAT_URL, body=b'{"status":"success","response":"nope"}'
    )
    with pytest.raises(ResponseValidationError, match="JWT"):
        await km.unread.mark_read(5, "user-1")


def test_user_model_defaults() -> None:
    assert User(user_id="u").name is None
    assert User(user_id="u", user_name="n").name == "n"
