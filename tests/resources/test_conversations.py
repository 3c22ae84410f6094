"""km.conversations: exact requests, decoding and bad input (docs/wire.md#conversations)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from kommunicate_async import (
    ConflictError,
    Conversation,
    ConversationDefaults,
    ConversationStatus,
    InvalidRequestError,
    KommunicateSession,
    NotFoundError,
)
from kommunicate_async._pipeline.routing import USER_AGENT
from kommunicate_async.resources._conversation_create import single_conversation_id
from tests.mockapi import API_KEY, MockApi
from tests.payloads import load

CREATE = "/rest/ws/group/conversation"
INFO = "/rest/ws/group/info"
UPDATE = "/rest/ws/group/update"
STATUS = "/rest/ws/group/status/change"
UA = {"Accept": "application/json", "User-Agent": USER_AGENT}
KEY_JSON = {"Api-Key": API_KEY, "Content-Type": "application/json", **UA}
KEY_GET_BOT = {"Api-Key": API_KEY, "Of-User-Id": "bot", **UA}


def info_body(group: dict[str, Any]) -> bytes:
    return msgspec.json.encode(
        {"status": "success", "generatedAt": 1, "response": group}
    )


async def test_create_sends_every_option_as_exact_bytes(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", CREATE, body=load("create_conversation"))
    conversation = await km.conversations.create(
        ["user-1"],
        agent_ids=["agent@acme.io"],
        bot_ids=["bot"],
        assignee="agent@acme.io",
        team_id=42,
        client_conversation_id="order-991",
        title="Order 991",
        info={"plan": "gold", "orders": 3},
        metadata={"source": "web", "vip": True, "cart": {"items": 2}},
    )
    call = api.only_call("POST", CREATE)
    assert call.kwargs["data"] == (
        b'{"groupName":"Order 991","groupMemberList":["user-1","agent@acme.io","bot"],'
        b'"clientGroupId":"order-991","metadata":{"source":"web","vip":"true",'
        b'"cart":"{\\"items\\":2}","CONVERSATION_ASSIGNEE":"agent@acme.io",'
        b'"SKIP_ROUTING":"true","KM_TEAM_ID":"42","KM_CONVERSATION_TITLE":"Order 991",'
        b'"KM_ORIGINAL_TITLE":"true","conversationMetadata":"{\\"plan\\":\\"gold\\",\\"orders\\":3}"}}'
    )
    assert call.kwargs["headers"] == KEY_JSON  # P1 takes no Of-User-Id
    assert conversation.id == 12345678
    assert conversation.client_conversation_id == "order-991"
    assert conversation.members == ["user-1", "agent@acme.io", "bot"]
    assert conversation.assignee == "agent@acme.io"
    assert conversation.status is ConversationStatus.OPEN


async def test_create_minimal(api: MockApi, km: KommunicateSession) -> None:
    api.add("POST", CREATE, body=load("create_conversation"))
    await km.conversations.create("user-1")
    assert api.only_call("POST", CREATE).kwargs["data"] == (
        b'{"groupName":"Conversation","groupMemberList":["user-1"]}'
    )


async def test_assignee_joins_the_members_and_explicit_skip_routing_wins(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", CREATE, body=load("create_conversation"))
    await km.conversations.create(["u"], assignee="a@x.io", skip_routing=False)
    assert api.only_call("POST", CREATE).kwargs["data"] == (
        b'{"groupName":"Conversation","groupMemberList":["u","a@x.io"],'
        b'"metadata":{"CONVERSATION_ASSIGNEE":"a@x.io","SKIP_ROUTING":"false"}}'
    )


async def test_named_arguments_win_over_raw_metadata(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", CREATE, body=load("create_conversation"))
    await km.conversations.create(
        ["u"], team_id="7", metadata={"KM_TEAM_ID": "1", "x": "y"}
    )
    assert api.only_call("POST", CREATE).kwargs["data"] == (
        b'{"groupName":"Conversation","groupMemberList":["u"],'
        b'"metadata":{"KM_TEAM_ID":"7","x":"y"}}'
    )


async def test_session_defaults_apply_unless_the_call_says_otherwise(
    api: MockApi, km: KommunicateSession
) -> None:
    km.defaults = ConversationDefaults(
        assignee="a@x.io",
        team_id="9",
        agent_ids=["a@x.io", "b@x.io"],
        bot_ids=["helper"],
        skip_routing=True,
    )
    api.add("POST", CREATE, body=load("create_conversation"), repeat=True)
    await km.conversations.create(["u"])
    await km.conversations.create(
        ["u"], agent_ids=[], bot_ids=[], team_id=3, assignee="c@x.io"
    )
    first, second = api.calls("POST", CREATE)
    assert first.kwargs["data"] == (
        b'{"groupName":"Conversation","groupMemberList":["u","a@x.io","b@x.io","helper"],'
        b'"metadata":{"CONVERSATION_ASSIGNEE":"a@x.io","SKIP_ROUTING":"true","KM_TEAM_ID":"9"}}'
    )
    assert second.kwargs["data"] == (
        b'{"groupName":"Conversation","groupMemberList":["u","c@x.io"],'
        b'"metadata":{"CONVERSATION_ASSIGNEE":"c@x.io","SKIP_ROUTING":"true","KM_TEAM_ID":"3"}}'
    )
    km.defaults = None
    assert km.defaults == ConversationDefaults()


async def test_duplicate_client_id_is_a_conflict(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add(
        "POST",
        CREATE,
        body=b'{"status":"error","errorResponse":[{"description":"group already exists"}]}',
    )
    with pytest.raises(ConflictError):
        await km.conversations.create(["u"], client_conversation_id="dup")
    assert len(api.calls("POST", CREATE)) == 1  # a create is never retried blindly


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"members": []}, id="no-members"),
        pytest.param({"members": ["u", ""]}, id="empty-member"),
        pytest.param({"members": 5}, id="members-int"),
        pytest.param({"members": ["u"], "agent_ids": ["a\r\nb"]}, id="crlf-agent"),
        pytest.param({"members": ["u"], "title": "  "}, id="blank-title"),
        pytest.param(
            {"members": ["u"], "metadata": {"x": float("nan")}}, id="nan-metadata"
        ),
        pytest.param({"members": ["u"], "info": {"x": object()}}, id="bad-info"),
        pytest.param({"members": ["u"], "team_id": True}, id="bool-team"),
        pytest.param({"members": ["u"], "skip_routing": "yes"}, id="str-skip"),
        pytest.param(
            {"members": ["u"], "client_conversation_id": ""}, id="empty-client-id"
        ),
    ],
)
async def test_bad_create_input_sends_nothing(
    api: MockApi, km: KommunicateSession, kwargs: dict[str, Any]
) -> None:
    members = kwargs.pop("members")
    with pytest.raises(InvalidRequestError):
        await km.conversations.create(members, **kwargs)
    assert api.count() == 0


@pytest.mark.parametrize(
    ("ref", "params"),
    [
        pytest.param(12345678, {"groupId": 12345678}, id="int"),
        pytest.param("order-991", {"clientGroupId": "order-991"}, id="client-id"),
        pytest.param(
            Conversation(id=12345678), {"groupId": 12345678}, id="conversation"
        ),
    ],
)
async def test_get_by_each_kind_of_reference(
    api: MockApi, km: KommunicateSession, ref: Any, params: dict[str, Any]
) -> None:
    api.add("GET", INFO, params=params, body=load("group_info"))
    conversation = await km.conversations.get(ref)
    call = api.only_call("GET", INFO, params=params)
    assert call.kwargs["headers"] == KEY_GET_BOT
    assert call.kwargs["data"] is None
    assert conversation.title == "Order 991"
    assert conversation.team_id == "42"
    assert conversation.info == {"plan": "gold", "orders": 3}
    assert conversation.type == 10


async def test_get_acts_for_another_user_when_asked(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params={"groupId": 5}, body=load("group_info"))
    await km.conversations.get(5, on_behalf_of="agent@acme.io")
    headers = api.only_call("GET", INFO, params={"groupId": 5}).kwargs["headers"]
    assert headers["Of-User-Id"] == "agent@acme.io"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(200, b'{"status":"success","response":null}', id="null-response"),
        pytest.param(
            200,
            b'{"status":"error","errorResponse":[{"description":"group not found"}]}',
            id="error-envelope",
        ),
        pytest.param(404, b"", id="http-404"),
    ],
)
async def test_unknown_conversation_is_not_found(
    api: MockApi, km: KommunicateSession, status: int, body: bytes
) -> None:
    api.add("GET", INFO, params={"groupId": 9}, status=status, body=body)
    with pytest.raises(NotFoundError):
        await km.conversations.get(9)


@pytest.mark.parametrize("ref", [True, 0, -3, 1.5, "", " ", None, b"x", "a\nb"])
async def test_bad_reference_sends_nothing(
    api: MockApi, km: KommunicateSession, ref: Any
) -> None:
    with pytest.raises(InvalidRequestError):
        await km.conversations.get(ref)
    assert api.count() == 0


def test_single_conversation_id_recipes() -> None:
    people = (["u2", "U1"], ["b@x", "A@x"], ["bot", "zeta", "Alpha"])
    # Android KmConversationHelper.getClientGroupId since v2.8.4: agents left out.
    assert single_conversation_id(*people) == "U1_u2_Alpha_zeta"
    assert single_conversation_id(*people, recipe="android") == "U1_u2_Alpha_zeta"
    # Before v2.8.4 (and this library before 0.2): sorted agents first.
    assert (
        single_conversation_id(*people, recipe="android-legacy")
        == "A@x_b@x_U1_u2_Alpha_zeta"
    )
    # iOS createClientIdFrom: sorted, then every id lower-cased.
    assert single_conversation_id(*people, recipe="ios") == "a@x_b@x_u1_u2_alpha_zeta"
    # Web (UNCERTAIN): agents sorted ignoring case, bots as given.
    assert (
        single_conversation_id(*people, recipe="web") == "A@x_b@x_U1_u2_bot_zeta_Alpha"
    )
    # Third audit item 8 (Web SDK kommunicate.js L229-262): the audit's example,
    # "bot" kept when passed, zero agents refused, the limit on the encoded id.
    assert (
        single_conversation_id(
            ["User1"], ["AgentB", "agenta"], ["Bot2", "bot1"], recipe="web"
        )
        == "agenta_AgentB_User1_Bot2_bot1"
    )
    assert single_conversation_id(["u"], ["a"], ["bot"], recipe="web") == "a_u_bot"
    with pytest.raises(InvalidRequestError, match="at least one agent"):
        single_conversation_id(["u"], [], [], recipe="web")
    # 84 "@" encode to 252 characters: "a_u_" + that is 256 encoded (allowed) ...
    assert single_conversation_id(["u"], ["a"], ["@" * 84], recipe="web")
    # ... one more is 259 encoded though only 89 raw
    with pytest.raises(InvalidRequestError, match="259 characters URL-encoded"):
        single_conversation_id(["u"], ["a"], ["@" * 85], recipe="web")
    # The Java join glues a repeated last part on without "_".
    assert single_conversation_id(["x"], [], ["x"]) == "xx"
    with pytest.raises(InvalidRequestError, match="255"):
        single_conversation_id(["u" * 200, "v" * 60], [], [])
    with pytest.raises(InvalidRequestError, match="id_recipe"):
        single_conversation_id(["u"], [], [], recipe="windows")  # type: ignore[arg-type]


async def test_get_or_create_returns_the_existing_conversation(
    api: MockApi, km: KommunicateSession
) -> None:
    client_id = "agent@acme.io_user-1"
    api.add("GET", INFO, params={"clientGroupId": client_id}, body=load("group_info"))
    conversation = await km.conversations.get_or_create(
        "user-1", agent_ids=["agent@acme.io"], id_recipe="android-legacy"
    )
    assert conversation.id == 12345678
    assert api.calls("POST", CREATE) == []


async def test_get_or_create_creates_with_the_deterministic_id(
    api: MockApi, km: KommunicateSession
) -> None:
    client_id = "agent@acme.io_user-1_helper"
    api.add(
        "GET",
        INFO,
        params={"clientGroupId": client_id},
        body=b'{"status":"error","errorResponse":[{"description":"group not found"}]}',
    )
    api.add("POST", CREATE, body=load("create_conversation"))
    await km.conversations.get_or_create(
        ["user-1"],
        agent_ids=["agent@acme.io"],
        bot_ids=["helper", "bot"],
        id_recipe="android-legacy",
    )
    assert api.only_call("POST", CREATE).kwargs["data"] == (
        b'{"groupName":"Conversation","groupMemberList":["user-1","agent@acme.io","helper","bot"],'
        b'"clientGroupId":"agent@acme.io_user-1_helper"}'
    )


async def test_get_or_create_survives_a_race(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params={"clientGroupId": "mine"}, status=404)
    api.add(
        "POST",
        CREATE,
        body=b'{"status":"error","errorResponse":[{"description":"group already exists"}]}',
    )
    api.add("GET", INFO, params={"clientGroupId": "mine"}, body=load("group_info"))
    conversation = await km.conversations.get_or_create(
        ["u"], client_conversation_id="mine"
    )
    assert conversation.id == 12345678
    assert len(api.calls("GET", INFO, params={"clientGroupId": "mine"})) == 2


async def test_update_info_sends_only_the_merged_info_key(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params={"groupId": 12345678}, body=load("group_info"))
    api.add("POST", UPDATE, body=b'{"status":"success","response":"success"}')
    updated = await km.conversations.update_info(
        12345678, {"orders": 4, "plan": None, "vip": True}
    )
    call = api.only_call("POST", UPDATE)
    # group/update merges keys (second audit): a status or assignee read a moment
    # ago is never written back, so a concurrent resolve cannot be reverted.
    assert call.kwargs["data"] == (
        b'{"groupId":12345678,"metadata":{'
        b'"conversationMetadata":"{\\"orders\\":4,\\"vip\\":true}"}}'
    )
    assert call.kwargs["headers"] == {**KEY_JSON, "Of-User-Id": "bot"}
    assert updated.info == {"orders": 4, "vip": True}
    assert updated.team_id == "42"
    assert updated.assignee == "agent@acme.io"  # kept in the returned view


async def test_update_team(api: MockApi, km: KommunicateSession) -> None:
    api.add("GET", INFO, params={"clientGroupId": "order-991"}, body=load("group_info"))
    api.add("POST", UPDATE, body=b"success")
    updated = await km.conversations.update_team("order-991", 77)
    assert api.only_call("POST", UPDATE).kwargs["data"] == (
        b'{"groupId":12345678,"metadata":{"KM_TEAM_ID":"77"}}'
    )
    assert updated.team_id == "77"
    assert updated.info == {"plan": "gold", "orders": 3}


@pytest.mark.parametrize(("value", "sent"), [(ConversationStatus.RESOLVED, 2), (3, 3)])
async def test_set_status_uses_query_parameters(
    api: MockApi, km: KommunicateSession, value: Any, sent: int
) -> None:
    params = {"groupId": 5, "status": sent, "sendNotifyMessage": "false"}
    api.add(
        "PATCH",
        STATUS,
        params=params,
        body=b'{"status":"success","response":"updated"}',
    )
    await km.conversations.set_status(
        5, value, notify=False, on_behalf_of="agent@acme.io"
    )
    call = api.only_call("PATCH", STATUS, params=params)
    assert call.kwargs["headers"] == {**KEY_JSON, "Of-User-Id": "agent@acme.io"}
    assert call.kwargs.get("data") is None


async def test_client_ids_resolve_to_group_ids_once(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params={"clientGroupId": "order-991"}, body=load("group_info"))
    params = {"groupId": 12345678, "status": 2, "sendNotifyMessage": "true"}
    api.add("PATCH", STATUS, params=params, body=b"success", repeat=True)
    await km.conversations.set_status("order-991", ConversationStatus.CLOSED)
    await km.conversations.set_status("order-991", 2)
    assert len(api.calls("GET", INFO, params={"clientGroupId": "order-991"})) == 1
    assert len(api.calls("PATCH", STATUS, params=params)) == 2


@pytest.mark.parametrize("status", [True, "2", 2.0, None])
async def test_bad_status_sends_nothing(
    api: MockApi, km: KommunicateSession, status: Any
) -> None:
    with pytest.raises(InvalidRequestError):
        await km.conversations.set_status(5, status)
    assert api.count() == 0


async def test_add_and_remove_members(api: MockApi, km: KommunicateSession) -> None:
    api.add(
        "POST",
        "/rest/ws/group/add/member",
        body=b'{"status":"success","response":"success"}',
        repeat=True,
    )
    api.add("POST", "/rest/ws/group/remove/member", body=b"success")
    await km.conversations.add_members("order-991", ["u2", "u3"])
    await km.conversations.remove_members(5, "u2")
    adds = api.calls("POST", "/rest/ws/group/add/member")
    assert [c.kwargs["data"] for c in adds] == [
        b'{"clientGroupId":"order-991","userId":"u2"}',
        b'{"clientGroupId":"order-991","userId":"u3"}',
    ]
    assert api.only_call("POST", "/rest/ws/group/remove/member").kwargs["data"] == (
        b'{"groupId":5,"userId":"u2"}'
    )


async def test_list_pages_with_end_time_and_skips_repeats(
    api: MockApi, km: KommunicateSession
) -> None:
    first = load("group_filter")
    # The second page repeats the boundary group (an inclusive endTime); a third, empty
    # page ends the listing.
    second = msgspec.json.encode(
        {
            "status": "success",
            "response": {
                "groups": [
                    {"id": 2092165, "name": "two", "createdAtTime": 1487088852348},
                    {"id": 7, "name": "older", "createdAtTime": 1400000000000},
                ],
                "lastFetchTime": 1400000000000,
            },
        }
    )
    api.add("GET", "/rest/ws/group/filter", params={"pageSize": 2}, body=first)
    api.add(
        "GET",
        "/rest/ws/group/filter",
        params={"pageSize": 2, "endTime": 1487088852349},
        body=second,
    )
    api.add(
        "GET",
        "/rest/ws/group/filter",
        params={"pageSize": 2, "endTime": 1400000000001},
        body=b'{"status":"success","response":{"groups":[]}}',
    )
    ids = [c.id async for c in km.conversations.list(page_size=2)]
    assert ids == [2101199, 2092165, 7]


async def test_list_grows_the_page_over_a_crowded_millisecond(
    api: MockApi, km: KommunicateSession
) -> None:
    # group/filter has no offset: three groups in one millisecond, pages of two.
    def page(*ids: int) -> bytes:
        groups = [{"id": i, "createdAtTime": 1000 if i < 4 else 999} for i in ids]
        return msgspec.json.encode(
            {"status": "success", "response": {"groups": groups}}
        )

    path = "/rest/ws/group/filter"
    api.add("GET", path, params={"pageSize": 2}, body=page(1, 2))
    api.add("GET", path, params={"pageSize": 2, "endTime": 1001}, body=page(1, 2))
    api.add("GET", path, params={"pageSize": 4, "endTime": 1001}, body=page(1, 2, 3, 4))
    api.add("GET", path, params={"pageSize": 2, "endTime": 1000}, body=page())
    assert [c.id async for c in km.conversations.list(page_size=2)] == [1, 2, 3, 4]


async def test_list_of_an_empty_app(api: MockApi, km: KommunicateSession) -> None:
    api.add(
        "GET",
        "/rest/ws/group/filter",
        params={"pageSize": 50},
        body=b'{"status":"success","response":{"groups":[]}}',
    )
    assert [c async for c in km.conversations.list()] == []


def test_conversation_status_tolerates_unknown_codes() -> None:
    status = Conversation(id=1, metadata={"CONVERSATION_STATUS": "9"}).status
    assert status is not None
    assert status == 9 and status.name == "UNKNOWN_9"
    assert Conversation(id=1, metadata={"CONVERSATION_STATUS": "x"}).status is None
    assert Conversation(id=1).status is None
    assert ConversationStatus["CLOSED"] is ConversationStatus["RESOLVED"]
    assert ConversationStatus("6") is ConversationStatus.UNRESPONDED  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ConversationStatus("seven")  # type: ignore[arg-type]
