"""The second audit's wire fixes, as exact bytes (docs/wire.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async import (
    AuthenticationError,
    AuthenticationType,
    ChatAuth,
    ConfigurationError,
    InvalidRequestError,
    KommunicateSession,
    NotFoundError,
)
from kommunicate_async.models import Conversation, Message, User
from tests.mockapi import API_KEY, BASE_URL, CHAT_URL
from tests.tokens import make_jwt

if TYPE_CHECKING:
    from tests.mockapi import MockApi

REGISTER = "/rest/ws/register/client"
INFO = "/rest/ws/group/info"
LIST = "/rest/ws/message/list"
UA = "kommunicate-async/0.1.0"


def registration(token: str, **extra: object) -> bytes:
    return msgspec.json.encode(
        {"message": "REGISTERED", "authToken": token, "deviceKey": "dk-1", **extra}
    )


async def test_login_sends_the_application_key_and_the_auth_type(
    api: MockApi, km: KommunicateSession
) -> None:
    # Second audit, item 7: Android and iOS send Application-Key on register/client;
    # Access Token URL apps log in with authenticationTypeId 0.
    api.add(
        "POST", REGISTER, base=CHAT_URL, body=registration(make_jwt(valid_minutes=30))
    )
    await km.users.login(
        "user-1", password="access-token", authentication_type=AuthenticationType.CLIENT
    )
    call = api.only_call("POST", REGISTER, base=CHAT_URL)
    assert call.kwargs["data"] == (
        b'{"userId":"user-1","applicationId":"app-1","deviceType":1,'
        b'"authenticationTypeId":0,"appVersionCode":113,"enableEncryption":false,'
        b'"password":"access-token"}'
    )
    assert call.kwargs["headers"] == {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": UA,
        "Application-Key": "app-1",
    }


@pytest.mark.parametrize("bad", [3, -1, True, "1"])
async def test_login_refuses_unknown_auth_types(
    api: MockApi, km: KommunicateSession, bad: object
) -> None:
    with pytest.raises(InvalidRequestError, match="authentication_type"):
        await km.users.login("user-1", authentication_type=bad)  # type: ignore[arg-type]
    assert api.count() == 0


@pytest.mark.parametrize(
    "extra", [{"encryptionKey": "AbC="}, {"userEncryptionKey": "x"}, {}]
)
async def test_an_encryption_key_alone_does_not_mean_encrypted(
    api: MockApi, km: KommunicateSession, extra: dict[str, object]
) -> None:
    """Third audit, item 5: "If encryption is not enabled from user, then server sends
    encryption key but does not perform encryption" (Android
    RegisterUserClientService.java L135). We send enableEncryption false, appVersionCode
    113 and deviceType 1 (UNCERTAIN whether the server keys behaviour on them)."""
    api.add(
        "POST",
        REGISTER,
        base=CHAT_URL,
        body=registration(make_jwt(valid_minutes=30), **extra),
    )
    await km.users.login("user-1", device_type=4)
    assert api.only_call("POST", REGISTER, base=CHAT_URL).kwargs["data"] == (
        b'{"userId":"user-1","applicationId":"app-1","deviceType":4,'
        b'"authenticationTypeId":1,"appVersionCode":113,"enableEncryption":false}'
    )
    assert "user-1" in km._client.tokens  # pyright: ignore[reportPrivateUsage]


async def test_a_server_that_says_it_encrypts_fails_clearly(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add(
        "POST",
        REGISTER,
        base=CHAT_URL,
        body=registration(make_jwt(valid_minutes=30), enableEncryption=True),
    )
    with pytest.raises(ConfigurationError, match="encryption on"):
        await km.users.login("user-1")
    assert "user-1" not in km._client.tokens  # pyright: ignore[reportPrivateUsage]


async def test_a_later_aes_body_is_a_configuration_error(
    api: MockApi, km: KommunicateSession
) -> None:
    """An app that does encrypt answers base64 AES bodies (Android HttpRequestUtils)."""
    api.add(
        "GET",
        "/rest/ws/group/info",
        params={"groupId": "5"},
        body=b"q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
    )
    with pytest.raises(ConfigurationError, match="encryption on"):
        await km.conversations.get(5)


async def test_a_login_reply_without_auth_token_fails_clearly(
    api: MockApi, km: KommunicateSession
) -> None:
    """AZ-2018 "Login/Register User" reply: bare, with no authToken."""
    from kommunicate_async import ResponseValidationError
    from tests.fixtures import raw

    api.add(
        "POST",
        REGISTER,
        base=CHAT_URL,
        body=raw("login/register-client.registered.az2018.json"),
    )
    with pytest.raises(ResponseValidationError, match="without an authToken"):
        await km.users.login("user-1")


def test_metadata_scalars_of_any_json_type_decode_as_strings() -> None:
    # Second audit, item 5: the web widget writes -1, true and false as JSON
    # values into group metadata.
    raw = (
        b'{"id":5,"metadata":{"CONVERSATION_STATUS":-1,"HIDE":true,"SKIP_ROUTING":false,'
        b'"score":1.5,"gone":null,"ctx":{"kmUserLocale":"en"},"title":"t"}}'
    )
    conversation = msgspec.json.decode(raw, type=Conversation)
    assert conversation.metadata == {
        "CONVERSATION_STATUS": "-1",
        "HIDE": "true",
        "SKIP_ROUTING": "false",
        "score": "1.5",
        "ctx": '{"kmUserLocale":"en"}',
        "title": "t",
    }
    assert conversation.status == -1
    message = msgspec.json.decode(
        b'{"key":"k","metadata":{"skipBot":true}}', type=Message
    )
    assert message.metadata == {"skipBot": "true"}
    user = msgspec.json.decode(b'{"userId":"u","metadata":null}', type=User)
    assert user.metadata == {}


async def test_list_can_skip_marking_read(api: MockApi, km: KommunicateSession) -> None:
    # Second audit, item 8: Android sends skipRead=true when reading must not mark.
    params = {"groupId": 9, "pageSize": 50, "startIndex": 0, "skipRead": "true"}
    api.add("GET", LIST, params=params, body=b'{"message":[]}')
    assert [m async for m in km.messages.list(9, skip_read=True)] == []
    api.only_call("GET", LIST, params=params)


async def test_chat_paths_can_use_bot_credentials_on_the_chat_host(
    api: MockApi,
) -> None:
    # Second audit, item 2: Kommunicate's own server called the chat host with
    # admin or bot Basic credentials, never Api-Key.
    auth = ChatAuth.bot("bot-7", "s3cret")
    api.add("GET", INFO, params={"groupId": 5}, base=CHAT_URL, body=b'{"id":5}')
    async with KommunicateSession(
        API_KEY, app_id="app-1", base_url=BASE_URL, chat_url=CHAT_URL, chat_auth=auth
    ) as km:
        await km.conversations.get(5, on_behalf_of="agent@x.io")
    call = api.only_call("GET", INFO, params={"groupId": 5}, base=CHAT_URL)
    assert dict(call.kwargs["headers"]) == {
        "Application-Key": "app-1",
        "Authorization": "Basic Ym90LTc6czNjcmV0",  # base64("bot-7:s3cret")
        "Accept": "application/json",
        "User-Agent": UA,
        "Of-User-Id": "agent@x.io",
    }


async def test_admin_credentials_headers(api: MockApi) -> None:
    auth = ChatAuth.admin("admin@x.io", "pw")
    api.add("GET", INFO, params={"groupId": 5}, base=CHAT_URL, body=b'{"id":5}')
    async with KommunicateSession(
        API_KEY, app_id="app-1", base_url=BASE_URL, chat_url=CHAT_URL, chat_auth=auth
    ) as km:
        await km.conversations.get(5)
    headers = api.only_call("GET", INFO, params={"groupId": 5}, base=CHAT_URL).kwargs[
        "headers"
    ]
    assert headers["Apz-AppId"] == "app-1"
    assert headers["Apz-Token"] == "Basic YWRtaW5AeC5pbzpwdw=="
    # Third audit, item 6: Kommunicate's 2019 server sent it with admin credentials
    # (Web SDK repository server/src/utils/applozicClient.js L318-328).
    assert headers["Apz-Product-App"] == "true"
    assert "Api-Key" not in headers


def test_chat_auth_needs_the_app_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KOMMUNICATE_APP_ID", raising=False)
    with pytest.raises(ConfigurationError, match="app id"):
        KommunicateSession(API_KEY, chat_auth=ChatAuth.bot("b", "p"))


@pytest.mark.parametrize(
    ("user", "password"), [("a:b", "p"), ("bot\r\n", "p"), ("bot", "")]
)
def test_bad_chat_auth_is_refused(user: str, password: str) -> None:
    with pytest.raises(ConfigurationError):
        ChatAuth.bot(user, password)


async def test_a_chat_path_401_says_which_setting_to_try(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params={"groupId": 5}, status=401, body=b"", repeat=True)
    with pytest.raises(AuthenticationError, match=r"chat_auth=ChatAuth\.bot"):
        await km.conversations.get(5)


async def test_a_chat_path_404_without_a_code_says_so_too(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params={"groupId": 5}, status=404, body=b"Not Found")
    with pytest.raises(NotFoundError, match="base_url") as caught:
        await km.conversations.get(5)
    assert "ChatAuth" in str(caught.value)
