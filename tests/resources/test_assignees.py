"""km.assignees (docs/wire.md#assignees, docs/wire.md#conversations, docs/wire.md#users for get)."""

from __future__ import annotations

from typing import Any

import pytest

from kommunicate_async import (
    AssignOutcome,
    InvalidRequestError,
    KommunicateSession,
    NotFoundError,
    ServerError,
    User,
)
from tests.mockapi import API_KEY, MockApi
from tests.payloads import load

CHANGE = "/rest/ws/group/assignee/change"
INFO = "/rest/ws/group/info"
DETAIL = "/rest/ws/user/v2/detail"


def change_params(
    group_id: int, assignee: str, notify: str = "true", take: str = "true"
) -> dict[str, Any]:
    return {
        "groupId": group_id,
        "assignee": assignee,
        "switchAssignee": "true",
        "sendNotifyMessage": notify,
        "takeOverFromBot": take,
    }


async def test_change_sends_query_parameters_only(
    api: MockApi, km: KommunicateSession
) -> None:
    params = change_params(5, "agent@acme.io")
    api.add("PATCH", CHANGE, params=params, body=load("assignee_change"))
    assert await km.assignees.change(5, "agent@acme.io") is AssignOutcome.UPDATED
    call = api.only_call("PATCH", CHANGE, params=params)
    assert call.kwargs.get("data") is None
    headers = call.kwargs["headers"]
    assert (headers["Api-Key"], headers["Of-User-Id"]) == (API_KEY, "bot")
    assert headers["Content-Type"] == "application/json"


async def test_change_flags_and_acting_user(
    api: MockApi, km: KommunicateSession
) -> None:
    params = change_params(5, "b@x.io", notify="false", take="false")
    api.add("PATCH", CHANGE, params=params, body=load("assignee_change"))
    await km.assignees.change(
        5, "b@x.io", notify=False, take_over_from_bot=False, on_behalf_of="admin@x.io"
    )
    headers = api.only_call("PATCH", CHANGE, params=params).kwargs["headers"]
    assert headers["Of-User-Id"] == "admin@x.io"


@pytest.mark.parametrize(
    ("word", "outcome"),
    [
        ("updated", AssignOutcome.UPDATED),
        ("already updated", AssignOutcome.ALREADY_ASSIGNED),
        ("AGENT_IS_ALREADY_ENGAGED", AssignOutcome.AGENT_BUSY),
        ("Updated", AssignOutcome.UPDATED),
    ],
)
async def test_outcomes(
    api: MockApi, km: KommunicateSession, word: str, outcome: AssignOutcome
) -> None:
    api.add(
        "PATCH",
        CHANGE,
        params=change_params(1, "a"),
        body=b'{"status":"success","response":"' + word.encode() + b'"}',
    )
    assert await km.assignees.change(1, "a") is outcome


async def test_unknown_outcome_is_kept(api: MockApi, km: KommunicateSession) -> None:
    api.add(
        "PATCH",
        CHANGE,
        params=change_params(1, "a"),
        body=b'{"status":"success","response":"QUEUED_FOR_LATER"}',
    )
    outcome = await km.assignees.change(1, "a")
    assert outcome == "QUEUED_FOR_LATER" and outcome.name == "UNKNOWN"


async def test_bad_agent_is_an_error_envelope(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add(
        "PATCH",
        CHANGE,
        params=change_params(1, "ghost"),
        body=b'{"status":"error","errorResponse":[{"description":"assignee not found"}]}',
    )
    with pytest.raises(NotFoundError):
        await km.assignees.change(1, "ghost")


async def test_change_is_idempotent_so_5xx_is_retried(
    api: MockApi, km: KommunicateSession
) -> None:
    params = change_params(1, "a")
    api.add("PATCH", CHANGE, params=params, status=503)
    api.add(
        "PATCH",
        CHANGE,
        params=params,
        body=b'{"status":"success","response":"already updated"}',
    )
    assert await km.assignees.change(1, "a") is AssignOutcome.ALREADY_ASSIGNED
    assert len(api.calls("PATCH", CHANGE, params=params)) == 2


async def test_change_gives_up_with_server_error(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("PATCH", CHANGE, params=change_params(1, "a"), status=502, repeat=True)
    with pytest.raises(ServerError) as info:
        await km.assignees.change(1, "a")
    assert info.value.ambiguous is False  # an idempotent call is never "possibly sent"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"assignee": ""},
        {"assignee": "a\r\nX: y"},
        {"notify": "yes"},
        {"take_over_from_bot": 1},
        {"on_behalf_of": "x\ny"},
    ],
)
async def test_bad_change_sends_nothing(
    api: MockApi, km: KommunicateSession, kwargs: dict[str, Any]
) -> None:
    args: dict[str, Any] = {"assignee": "a", **kwargs}
    with pytest.raises(InvalidRequestError):
        await km.assignees.change(1, **args)
    assert api.count() == 0


async def test_get_returns_the_assignee_details(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params={"groupId": 12345678}, body=load("group_info"))
    api.add(
        "POST",
        DETAIL,
        body=b'{"status":"success","response":[{"userId":"agent@acme.io",'
        b'"displayName":"Agent Smith","roleType":8}]}',
    )
    user = await km.assignees.get(12345678)
    assert user == User(
        user_id="agent@acme.io", display_name="Agent Smith", role_type=8
    )
    assert (
        api.only_call("POST", DETAIL).kwargs["data"]
        == b'{"userIdList":["agent@acme.io"]}'
    )


async def test_get_unassigned_is_none(api: MockApi, km: KommunicateSession) -> None:
    api.add(
        "GET",
        INFO,
        params={"groupId": 3},
        body=b'{"status":"success","response":{"id":3,"metadata":{"CONVERSATION_ASSIGNEE":""}}}',
    )
    assert await km.assignees.get(3) is None
    assert api.calls("POST", DETAIL) == []


async def test_get_with_unknown_details_still_names_the_assignee(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params={"groupId": 12345678}, body=load("group_info"))
    api.add("POST", DETAIL, body=b"[]")
    assert await km.assignees.get(12345678) == User(user_id="agent@acme.io")
