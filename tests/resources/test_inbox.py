"""km.inbox: group/support (N11), group/waiting/list (N12), group/details (N14).

All three are code only in the Android, Web and iOS SDKs (UNCERTAIN,
docs/wire.md#inbox); the envelopes are the ones those SDKs decode.
"""

from __future__ import annotations

import pytest

from kommunicate_async import ConversationStatus, InvalidRequestError
from kommunicate_async.models.inbox import WaitingQueue
from tests.mockapi import BASE_URL, MockApi
from tests.resources.exact import KEY_GET, headers, mocked_session, only, query

SUPPORT_REPLY = (
    b'{"status":"success","generatedAt":1,"response":{"message":[{"key":"m1","groupId":5,'
    b'"message":"help","createdAtTime":1700000000000,"to":"user-1","type":4}],'
    b'"groupFeeds":[{"id":5,"clientGroupId":"vip-5","name":"Help","type":10,'
    b'"metadata":{"CONVERSATION_STATUS":"0","CONVERSATION_ASSIGNEE":"ann@acme.io"}}],'
    b'"userDetails":[{"userId":"user-1","displayName":"Uma"}]}}'
)


async def test_open_conversations_of_every_agent(api: MockApi) -> None:
    url = "/rest/ws/group/support?pageSize=20&status=0&status=6"
    api.add("GET", url, body=SUPPORT_REPLY)
    async with mocked_session() as km:
        page = await km.inbox.list(page_size=20, on_behalf_of="ann@acme.io")
    call = only(api, "GET", BASE_URL + url)
    assert query(call) == [("pageSize", "20"), ("status", "0"), ("status", "6")]
    assert headers(call) == {**KEY_GET, "Of-User-Id": "ann@acme.io"}
    (conversation,) = page.conversations
    assert (conversation.id, conversation.assignee) == (5, "ann@acme.io")
    assert page.message[0].text == "help"
    assert page.user_details[0].display_name == "Uma"


async def test_closed_conversations_assigned_to_one_agent(api: MockApi) -> None:
    url = (
        "/rest/ws/group/support/assigned?lastFetchTime=1700000000000&pageSize=50"
        "&status=2&userId=ann@acme.io"
    )
    api.add("GET", url, body=b'{"status":"success","response":{}}')
    async with mocked_session() as km:
        page = await km.inbox.list(
            "closed", assigned_to="ann@acme.io", before=1700000000000
        )
    call = only(api, "GET", BASE_URL + url)
    assert query(call) == [
        ("userId", "ann@acme.io"),
        ("pageSize", "50"),
        ("lastFetchTime", "1700000000000"),
        ("status", "2"),
    ]
    assert page.conversations == []


async def test_statuses_by_code(api: MockApi) -> None:
    url = "/rest/ws/group/support?pageSize=50&status=0&status=6&status=7"
    api.add("GET", url, body=SUPPORT_REPLY)
    async with mocked_session() as km:
        await km.inbox.list(["open", ConversationStatus.WAITING, 0])
    assert query(only(api, "GET", BASE_URL + url))[1:] == [
        ("status", "0"),
        ("status", "6"),
        ("status", "7"),
    ]


@pytest.mark.parametrize(
    ("status", "kwargs"),
    [
        ("pending", {}),
        ([], {}),
        ("open", {"page_size": 0}),
        ("open", {"assigned_to": ""}),
    ],
)
async def test_inbox_refuses(
    api: MockApi, status: object, kwargs: dict[str, object]
) -> None:
    async with mocked_session() as km:
        with pytest.raises(InvalidRequestError):
            await km.inbox.list(status, **kwargs)  # type: ignore[arg-type]
    assert api.count() == 0


async def test_waiting_queue_and_position(api: MockApi) -> None:
    url = "/rest/ws/group/waiting/list?teamId=42"
    api.add("GET", url, body=b'{"status":"success","response":[7,5,9]}', repeat=True)
    async with mocked_session() as km:
        queue = await km.inbox.waiting(42)
        assert await km.inbox.queue_position(5, "42") == 2
        assert await km.inbox.queue_position(8, 42) is None
    call = api.mocked.requests[("GET", api.url(url))][0]
    assert query(call) == [("teamId", "42")]
    assert headers(call) == {**KEY_GET, "Of-User-Id": "bot"}
    assert queue == WaitingQueue(team_id="42", group_ids=[7, 5, 9])
    assert queue.position(7) == 1


async def test_many_conversations_in_one_call(api: MockApi) -> None:
    url = "/rest/ws/group/details?clientGroupIds=vip-5&groupIds=6&groupIds=7"
    api.add(
        "GET",
        url,
        body=b'{"status":"success","response":[{"id":6,"clientGroupId":"6","name":"a"},'
        b'{"id":7,"clientGroupId":"7","name":"b"},{"id":5,"clientGroupId":"vip-5","name":"c"}]}',
    )
    async with mocked_session() as km:
        found = await km.conversations.get_many([6, "vip-5", 7])
        assert await km.conversations.get_many([]) == []
        # the clientGroupId -> groupId mapping is remembered: no lookup next time
        assert await km._ctx.group_id("vip-5") == 5  # pyright: ignore[reportPrivateUsage]
        with pytest.raises(InvalidRequestError):
            await km.conversations.get_many(range(1, 102))
    call = only(api, "GET", BASE_URL + url)
    assert query(call) == [
        ("groupIds", "6"),
        ("groupIds", "7"),
        ("clientGroupIds", "vip-5"),
    ]
    assert [c.id for c in found] == [6, 7, 5]
