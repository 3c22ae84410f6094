"""Message and conversation lifecycle (N2-N7) and users create/block (N9, N10).

message/info and the deletes follow Applozic's docs (AZ); message/detail,
update/metadata and block are code only (UNCERTAIN, docs/wire.md#lifecycle).
"""

from __future__ import annotations

import msgspec
import pytest

from kommunicate_async import APIError, ChatAuth, InvalidRequestError
from kommunicate_async.models.inbox import Receipt
from tests.mockapi import BASE_URL, CHAT_URL, MockApi
from tests.resources.exact import KEY_GET, headers, mocked_session, only, query

INFO_REPLY = (
    b'{"status":"success","generatedAt":1,"response":['
    b'{"userId":"user-1","deliveredAtTime":1700000000000,"readAtTime":1700000005000,"status":1},'
    b'{"userId":"ann@acme.io","deliveredAtTime":1700000000100,"status":4}]}'
)


async def test_message_info(api: MockApi) -> None:
    api.add("GET", "/rest/ws/message/info?key=5-abc", body=INFO_REPLY)
    async with mocked_session() as km:
        receipts = await km.messages.info("5-abc", on_behalf_of="admin@acme.io")
    call = only(api, "GET", f"{BASE_URL}/rest/ws/message/info?key=5-abc")
    assert query(call) == [("key", "5-abc")]
    assert headers(call) == {**KEY_GET, "Of-User-Id": "admin@acme.io"}
    assert receipts == [
        Receipt(
            user_id="user-1",
            status=1,
            delivered_at=1700000000000,
            read_at=1700000005000,
        ),
        Receipt(user_id="ann@acme.io", status=4, delivered_at=1700000000100),
    ]
    assert [(r.delivered, r.read) for r in receipts] == [(True, True), (True, False)]
    assert not Receipt(user_id="x").delivered


async def test_messages_by_key_repeat_keys(api: MockApi) -> None:
    url = f"{BASE_URL}/rest/ws/message/detail?keys=k1&keys=k2"
    api.add(
        "GET",
        "/rest/ws/message/detail?keys=k1&keys=k2",
        body=b'{"status":"success","response":[{"key":"k1","message":"hi","groupId":5,'
        b'"metadata":{"a":"b"}},{"key":"k2","message":"yo"}]}',
    )
    async with mocked_session() as km:
        found = await km.messages.get_many(["k1", "k2"])
    assert query(only(api, "GET", url)) == [("keys", "k1"), ("keys", "k2")]
    assert [(m.key, m.text) for m in found] == [("k1", "hi"), ("k2", "yo")]


@pytest.mark.parametrize(
    "body",
    [
        b'[{"key":"k1","message":"hi"}]',  # bare
        b'{"message":[{"key":"k1","message":"hi"}],"userDetails":[]}',  # list shape
        b'{"status":"success","response":{"message":[{"key":"k1","message":"hi"}]}}',
    ],
)
async def test_messages_by_key_tolerates_every_shape(api: MockApi, body: bytes) -> None:
    """The envelope of message/detail is UNCERTAIN: every shape decodes."""
    api.add("GET", "/rest/ws/message/detail?keys=k1", body=body)
    async with mocked_session() as km:
        assert [m.key for m in await km.messages.get_many("k1")] == ["k1"]


async def test_update_metadata_body(api: MockApi) -> None:
    api.add(
        "POST",
        "/rest/ws/message/update/metadata",
        body=b'{"status":"success","response":"success"}',
    )
    async with mocked_session(chat_auth=ChatAuth.bot("bot", "pw")) as km:
        with pytest.raises(InvalidRequestError):
            await km.messages.update_metadata("k1", {})
        api.add(
            "POST",
            "/rest/ws/message/update/metadata",
            base=CHAT_URL,
            body=b'{"status":"success","response":"success"}',
        )
        await km.messages.update_metadata("k1", {"obsolete": True, "n": 2})
    call = only(api, "POST", f"{CHAT_URL}/rest/ws/message/update/metadata")
    assert call.kwargs["data"] == b'{"key":"k1","metadata":{"obsolete":"true","n":"2"}}'
    sent = headers(call)
    assert (sent["Application-Key"], sent["Of-User-Id"]) == ("app-1", "bot")
    assert sent["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    ("for_all", "url"),
    [
        (False, "/rest/ws/message/delete?key=k1"),
        (True, "/rest/ws/message/delete?deleteForAll=true&key=k1"),
    ],
)
async def test_delete_message(api: MockApi, for_all: bool, url: str) -> None:
    api.add("GET", url, body=b"success", content_type="text/plain")
    async with mocked_session() as km:
        await km.messages.delete("k1", for_all=for_all, on_behalf_of="user-1")
    call = only(api, "GET", BASE_URL + url)
    assert headers(call) == {**KEY_GET, "Of-User-Id": "user-1"}
    assert query(call)[0] == ("key", "k1")


async def test_delete_message_error_text(api: MockApi) -> None:
    api.add(
        "GET",
        "/rest/ws/message/delete?key=k1",
        body=b"error",
        content_type="text/plain",
    )
    async with mocked_session() as km:
        with pytest.raises(APIError):
            await km.messages.delete("k1")


async def test_delete_conversation_messages(api: MockApi) -> None:
    url = "/rest/ws/message/delete/conversation?groupId=5"
    api.add("GET", url, body=b"success")
    async with mocked_session() as km:
        await km.conversations.delete_messages(5, on_behalf_of="user-1")
    call = only(api, "GET", BASE_URL + url)
    assert headers(call) == {**KEY_GET, "Of-User-Id": "user-1"}


@pytest.mark.parametrize(
    ("ref", "url"),
    [
        (5, "/rest/ws/group/delete?groupId=5"),
        ("vip-1", "/rest/ws/group/delete?clientGroupId=vip-1"),
    ],
)
async def test_delete_conversation(api: MockApi, ref: int | str, url: str) -> None:
    api.add("GET", url, body=b'{"status":"success","generatedAt":1,"response":true}')
    async with mocked_session() as km:
        await km.conversations.delete(ref, on_behalf_of="owner@acme.io")
    assert headers(only(api, "GET", BASE_URL + url))["Of-User-Id"] == "owner@acme.io"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"status":"success","response":false}', "false"),
        (
            b'{"status":"error","errorResponse":[{"errorCode":"AL-G-02",'
            b'"description":"not the group admin"}]}',
            "not the group admin",
        ),
    ],
)
async def test_delete_conversation_refused(
    api: MockApi, body: bytes, error: str
) -> None:
    api.add("GET", "/rest/ws/group/delete?groupId=5", body=body)
    async with mocked_session() as km:
        with pytest.raises(APIError, match=error):
            await km.conversations.delete(5)


async def test_create_user_and_bot(api: MockApi) -> None:
    reply = b'{"status":"success","response":"success"}'
    api.add("POST", "/rest/ws/user/v2/create", base=CHAT_URL, body=reply, repeat=True)
    async with mocked_session(chat_auth=ChatAuth.admin("admin@acme.io", "pw")) as km:
        await km.users.create("u-9", display_name="Nine", email="nine@example.com")
        await km.users.create("helper-bot", role="BOT", password="s3cret-pw")
    calls = api.calls("POST", "/rest/ws/user/v2/create", base=CHAT_URL)
    assert [c.kwargs["data"] for c in calls] == [
        b'{"userId":"u-9","roleName":"USER","displayName":"Nine",'
        b'"email":"nine@example.com"}',
        b'{"userId":"helper-bot","roleName":"BOT","password":"s3cret-pw"}',
    ]
    sent = headers(calls[0])
    assert sent["Apz-AppId"] == "app-1" and sent["Apz-Token"].startswith("Basic ")
    assert sent["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"role": "BOT"}, "password"),
        ({"role": "AGENT"}, "role"),
        ({"password": ""}, "password"),
        ({"email": ""}, "email"),
    ],
)
async def test_create_user_refuses(
    api: MockApi, kwargs: dict[str, object], error: str
) -> None:
    async with mocked_session() as km:
        with pytest.raises(InvalidRequestError, match=error):
            await km.users.create("u", **kwargs)  # type: ignore[arg-type]
    assert api.count() == 0


async def test_create_user_error_hides_the_password(api: MockApi) -> None:
    api.add(
        "POST",
        "/rest/ws/user/v2/create",
        body=b'{"status":"error","errorResponse":[{"description":"bad pw s3cret-pw"}]}',
    )
    async with mocked_session() as km:
        with pytest.raises(APIError) as info:
            await km.users.create("b", role="BOT", password="s3cret-pw")
    assert "s3cret-pw" not in str(info.value)


@pytest.mark.parametrize(
    ("method", "path"), [("block", "block"), ("unblock", "unblock")]
)
async def test_block_and_unblock(api: MockApi, method: str, path: str) -> None:
    url = f"/rest/ws/user/{path}?userId=spam%2Bbot@x.io"
    api.add(
        "GET", url, body=b'{"status":"success","generatedAt":1,"response":"success"}'
    )
    async with mocked_session() as km:
        await getattr(km.users, method)("spam+bot@x.io", on_behalf_of="user-1")
    (call,) = [c for cs in api.mocked.requests.values() for c in cs]
    assert query(call) == [("userId", "spam+bot@x.io")]
    assert headers(call) == {**KEY_GET, "Of-User-Id": "user-1"}
    assert msgspec.json.decode(b"1") == 1  # keeps msgspec import used
