"""km.unread: counts from user/v2/detail (docs/wire.md#unread), mark read (A6)."""

from __future__ import annotations

import pytest

from kommunicate_async import InvalidRequestError, KommunicateSession, NotFoundError
from tests.mockapi import API_KEY, MockApi
from tests.payloads import load

DETAIL = "/rest/ws/user/v2/detail"
READ = "/rest/ws/message/read/conversation"


async def test_count(api: MockApi, km: KommunicateSession) -> None:
    api.add("POST", DETAIL, body=load("user_detail"))
    assert await km.unread.count("user-1") == 4
    call = api.only_call("POST", DETAIL)
    assert call.kwargs["data"] == b'{"userIdList":["user-1"]}'
    assert "Of-User-Id" not in call.kwargs["headers"]


async def test_count_of_an_unknown_user(api: MockApi, km: KommunicateSession) -> None:
    api.add("POST", DETAIL, body=b'{"status":"success","response":[]}')
    with pytest.raises(NotFoundError):
        await km.unread.count("ghost")


async def test_counts_in_one_request_in_asked_order(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", DETAIL, body=load("user_detail"))
    counts = await km.unread.counts(["agent@acme.io", "ghost", "user-1", "user-1"])
    assert counts == {"agent@acme.io": 0, "user-1": 4}
    assert list(counts) == ["agent@acme.io", "user-1"]
    assert api.only_call("POST", DETAIL).kwargs["data"] == (
        b'{"userIdList":["agent@acme.io","ghost","user-1"]}'
    )


async def test_mark_read_acts_for_the_user(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", READ, params={"groupId": 5}, body=b"")
    await km.unread.mark_read(5, "user-1")
    headers = api.only_call("GET", READ, params={"groupId": 5}).kwargs["headers"]
    assert (headers["Api-Key"], headers["Of-User-Id"]) == (API_KEY, "user-1")


@pytest.mark.parametrize("user", ["", "a\nb", 3, "ünï"])
async def test_bad_acting_user_sends_nothing(
    api: MockApi, km: KommunicateSession, user: object
) -> None:
    # mark_read puts the id in Of-User-Id: it must also be header-safe ASCII.
    with pytest.raises(InvalidRequestError):
        await km.unread.mark_read(5, user)  # type: ignore[arg-type]
    assert api.count() == 0


@pytest.mark.parametrize("users", [[], [""], ["a\nb"], [3], "", None])
async def test_bad_user_lists_send_nothing(
    api: MockApi, km: KommunicateSession, users: object
) -> None:
    with pytest.raises(InvalidRequestError):
        await km.unread.counts(users)  # type: ignore[arg-type]
    assert api.count() == 0
