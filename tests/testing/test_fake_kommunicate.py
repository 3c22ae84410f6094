"""The fake itself, driven with raw aiohttp: it must answer like the recorded payloads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from kommunicate_async.testing import FakeKommunicate
from tests.payloads import load

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def raw() -> AsyncIterator[tuple[FakeKommunicate, aiohttp.ClientSession]]:
    async with FakeKommunicate() as fake, aiohttp.ClientSession(fake.url) as http:
        yield fake, http


def key(fake: FakeKommunicate, **extra: str) -> dict[str, str]:
    return {"Api-Key": fake.api_key, "Content-Type": "application/json", **extra}


async def call(
    http: aiohttp.ClientSession, method: str, path: str, **kw: Any
) -> tuple[int, Any]:
    async with http.request(method, path, **kw) as resp:
        body = await resp.read()
        return resp.status, msgspec.json.decode(body) if body else None


async def create_group(http: aiohttp.ClientSession, fake: FakeKommunicate) -> None:
    """A one-member conversation (groupId 10000001 on a fresh fake)."""
    body = {"groupName": "T", "groupMemberList": ["u"]}
    status, _ = await call(
        http, "POST", "/rest/ws/group/conversation", headers=key(fake), json=body
    )
    assert status == 200


def keys_of(payload_name: str) -> set[str]:
    payload = msgspec.json.decode(load(payload_name))
    inner = payload.get("response", payload)
    return set((inner[0] if isinstance(inner, list) else inner).keys())


async def test_replies_carry_the_recorded_fields(
    raw: tuple[FakeKommunicate, aiohttp.ClientSession],
) -> None:
    fake, http = raw
    status, created = await call(
        http,
        "POST",
        "/rest/ws/group/conversation",
        headers=key(fake),
        json={"groupName": "T", "groupMemberList": ["u", "a@x"], "clientGroupId": "c1"},
    )
    assert status == 200 and created["status"] == "success"
    recorded = keys_of("create_conversation")
    assert recorded - set(created["response"]) == set()

    status, sent = await call(
        http,
        "POST",
        "/rest/ws/message/v2/send",
        headers=key(fake),
        json={"clientGroupId": "c1", "message": "hi", "fromUserName": "u"},
    )
    assert set(sent) == keys_of("send_message_bare")  # bare, as AZ documents

    status, page = await call(
        http,
        "GET",
        "/rest/ws/message/list",
        params={"clientGroupId": "c1"},
        headers=key(fake, **{"Of-User-Id": "a@x"}),
    )
    message_fields = set(msgspec.json.decode(load("message_list"))["message"][0])
    assert {
        "key",
        "message",
        "createdAtTime",
        "contactIds",
        "metadata",
        "groupId",
    } <= message_fields
    assert {
        "key",
        "message",
        "createdAtTime",
        "contactIds",
        "metadata",
        "groupId",
    } <= set(page["message"][0])

    status, users = await call(
        http,
        "POST",
        "/rest/ws/user/v2/detail",
        headers=key(fake),
        json={"userIdList": ["a@x", "nobody"]},
    )
    assert users["status"] == "success" and [
        u["userId"] for u in users["response"]
    ] == ["a@x"]
    assert users["response"][0]["unreadCount"] == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Api-Key": "wrong"}, 401),
        ({}, 401),
        ({"X-Authorization": "a.b.c", "Application-Key": "fake-app"}, 401),
    ],
)
async def test_authentication_is_enforced(
    raw: tuple[FakeKommunicate, aiohttp.ClientSession],
    headers: dict[str, str],
    status: int,
) -> None:
    _, http = raw
    code, body = await call(
        http, "GET", "/rest/ws/group/info", params={"groupId": "1"}, headers=headers
    )
    assert code == status and body["status"] == "error"
    assert body["errorResponse"][0]["errorCode"] == "AL-UN-01"


async def test_non_string_metadata_is_rejected(
    raw: tuple[FakeKommunicate, aiohttp.ClientSession],
) -> None:
    fake, http = raw
    status, body = await call(
        http,
        "POST",
        "/rest/ws/group/conversation",
        headers=key(fake),
        json={"groupName": "T", "groupMemberList": ["u"], "metadata": {"n": 1}},
    )
    assert (
        status == 400 and "must be a string" in body["errorResponse"][0]["description"]
    )
    assert fake.state.groups == {}


async def test_duplicate_client_id_and_unknown_group(
    raw: tuple[FakeKommunicate, aiohttp.ClientSession],
) -> None:
    fake, http = raw
    body = {"groupName": "T", "groupMemberList": ["u"], "clientGroupId": "dup"}
    await call(
        http, "POST", "/rest/ws/group/conversation", headers=key(fake), json=body
    )
    status, reply = await call(
        http, "POST", "/rest/ws/group/conversation", headers=key(fake), json=body
    )
    assert (
        status == 200
        and reply["errorResponse"][0]["description"] == "group already exists"
    )
    status, reply = await call(
        http, "GET", "/rest/ws/group/info", params={"groupId": "999"}, headers=key(fake)
    )
    assert status == 200 and reply["status"] == "error"


async def test_status_and_assignee_need_of_user_id(
    raw: tuple[FakeKommunicate, aiohttp.ClientSession],
) -> None:
    fake, http = raw
    await create_group(http, fake)
    for path, params in [
        ("/rest/ws/group/status/change", {"groupId": "10000001", "status": "2"}),
        ("/rest/ws/group/assignee/change", {"groupId": "10000001", "assignee": "u"}),
    ]:
        status, body = await call(http, "PATCH", path, params=params, headers=key(fake))
        assert status == 400 and "Of-User-Id" in body["errorResponse"][0]["description"]


async def test_registration(raw: tuple[FakeKommunicate, aiohttp.ClientSession]) -> None:
    fake, http = raw
    _, reply = await call(
        http,
        "POST",
        "/rest/ws/register/client",
        json={"userId": "u", "applicationId": "other"},
    )
    assert reply == {"message": "INVALID_APPLICATIONID"}
    _, reply = await call(
        http,
        "POST",
        "/rest/ws/register/client",
        json={"userId": "u", "applicationId": fake.app_id, "password": "p"},
    )
    assert keys_of("register_client") >= {"message", "deviceKey", "authToken"}
    assert {"message", "deviceKey", "authToken", "userId"} <= set(reply)
    _, again = await call(
        http,
        "POST",
        "/rest/ws/register/client",
        json={"userId": "u", "applicationId": fake.app_id},
    )
    assert again == {"message": "PASSWORD_REQUIRED"}
    status, _ = await call(
        http,
        "POST",
        "/rest/ws/register/refresh/token",
        headers={
            "Application-Key": fake.app_id,
            "Device-Key": "wrong",
            "Of-User-Id": "u",
        },
    )
    assert status == 401


@pytest.mark.parametrize("bare", [True, False])
async def test_bare_switch(bare: bool) -> None:
    async with (
        FakeKommunicate(bare=bare) as fake,
        aiohttp.ClientSession(fake.url) as http,
    ):
        await create_group(http, fake)
        _, sent = await call(
            http,
            "POST",
            "/rest/ws/message/v2/send",
            headers=key(fake),
            json={"groupId": 10000001, "message": "m", "fromUserName": "u"},
        )
        assert ("status" in sent) is not bare


async def test_request_log_and_limits() -> None:
    async with (
        FakeKommunicate(log_limit=2) as fake,
        aiohttp.ClientSession(fake.url) as http,
    ):
        for _ in range(3):
            await call(
                http,
                "GET",
                "/rest/ws/group/filter",
                headers=key(fake, **{"Of-User-Id": "bot"}),
            )
        assert len(fake.requests) == 2
        logged = fake.requests[-1]
        assert (logged.method, logged.path, logged.route) == (
            "GET",
            "/rest/ws/group/filter",
            "GET /rest/ws/group/filter",
        )
        assert logged.headers["Of-User-Id"] == "bot" and logged.peer.startswith(
            "127.0.0.1:"
        )
    async with (
        FakeKommunicate(log_limit=0, keep_messages=2) as fake,
        fake.session() as km,
    ):
        chat = await km.conversations.create(["u"])
        for i in range(4):
            await km.messages.send(chat, f"m{i}")
        assert [m.text for m in fake.messages(chat.id)] == ["m2", "m3"]
        assert len(fake.requests) == 0 and fake.state.message_count == 4
        with pytest.raises(KeyError):
            fake.conversation("nope")
