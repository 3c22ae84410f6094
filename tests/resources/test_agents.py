"""km.agents: user/v3/filter (N8), /users/list, availability, goAway/goOnline (N20).

The shapes are the Android SDK's and Kommunicate's 2019 server's (code only): the
app-server paths and their credentials are UNCERTAIN (docs/wire.md#agents).
"""

from __future__ import annotations

import pytest

from kommunicate_async import (
    APIError,
    ChatAuth,
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    ResponseValidationError,
)
from kommunicate_async.models.agent import AgentStatus, Availability, Role
from tests.mockapi import BASE_URL, CHAT_URL, MockApi
from tests.resources.exact import (
    APP_URL,
    KEY_BODY,
    KEY_GET,
    headers,
    mocked_session,
    only,
    query,
)

FILTER_REPLY = (
    b'{"status":"success","generatedAt":1,"response":{"users":[{"userId":"ann@acme.io",'
    b'"userName":"ann@acme.io","displayName":"Ann","email":"ann@acme.io","roleType":8,'
    b'"status":1,"connected":true,"lastSeenAtTime":1700000000000,"unreadCount":2,'
    b'"metadata":{"tier":"gold"},"messagePxy":{}}],"lastFetchIndex":50,'
    b'"lastFetchTime":1700000000001,"totalUnreadCount":2,"groups":[],"devices":[]}}'
)


async def test_list_sends_repeated_roles_and_decodes_the_envelope(api: MockApi) -> None:
    url = (
        f"{BASE_URL}/rest/ws/user/v3/filter?orderBy=1&pageSize=20"
        "&roleNameList=APPLICATION_WEB_ADMIN&roleNameList=BOT&startIndex=40"
    )
    api.add("GET", url.removeprefix(BASE_URL), body=FILTER_REPLY)
    async with mocked_session() as km:
        page = await km.agents.list([Role.AGENT, "BOT"], start_index=40, page_size=20)
    call = only(api, "GET", url)
    assert query(call) == [
        ("startIndex", "40"),
        ("pageSize", "20"),
        ("orderBy", "1"),
        ("roleNameList", "APPLICATION_WEB_ADMIN"),
        ("roleNameList", "BOT"),
    ]
    assert headers(call) == {**KEY_GET, "Of-User-Id": "bot"}
    assert call.kwargs["data"] is None
    (ann,) = page.users
    assert (ann.user_id, ann.display_name, ann.role_type, ann.connected) == (
        "ann@acme.io",
        "Ann",
        8,
        True,
    )
    assert (page.last_fetch_index, page.total_unread_count) == (50, 2)


async def test_list_with_chat_auth_goes_to_the_chat_host(api: MockApi) -> None:
    url = (
        f"{CHAT_URL}/rest/ws/user/v3/filter?inactiveUser=true&orderBy=1&pageSize=50"
        "&roleNameList=APPLICATION_ADMIN&startIndex=0"
    )
    api.add("GET", url.removeprefix(CHAT_URL), base=CHAT_URL, body=FILTER_REPLY)
    async with mocked_session(chat_auth=ChatAuth.admin("admin@acme.io", "pw")) as km:
        await km.agents.list(Role.ADMIN, include_inactive=True)
    sent = headers(only(api, "GET", url))
    assert sent["Apz-AppId"] == "app-1"
    assert sent["Apz-Token"].startswith("Basic ")
    assert "Api-Key" not in sent


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"roles": []}, "at least one role"),
        ({"roles": [""]}, "role"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"start_index": -1}, "start_index"),
        ({"include_inactive": "yes"}, "include_inactive"),
    ],
)
async def test_list_refuses_bad_input_before_sending(
    api: MockApi, kwargs: dict[str, object], error: str
) -> None:
    async with mocked_session() as km:
        with pytest.raises(InvalidRequestError, match=error):
            await km.agents.list(**kwargs)  # type: ignore[arg-type]
    assert api.count() == 0


def test_unknown_role_is_kept() -> None:
    assert Role("SUPPORT").value == "SUPPORT"
    assert Role("BOT") is Role.BOT


async def test_status_reads_code_response_and_status_1_is_online(
    api: MockApi,
) -> None:
    url = f"{APP_URL}/users/list?applicationId=app-1&userName=ann@acme.io"
    api.add(
        "GET",
        "/users/list?applicationId=app-1&userName=ann%40acme.io",
        base=APP_URL,
        body=b'{"code":"SUCCESS","response":[{"userName":"ann@acme.io","status":1,'
        b'"name":"Ann","roleType":8,"extra":{"x":1}}]}',
    )
    async with mocked_session() as km:
        agent = await km.agents.status("ann@acme.io")
    call = only(api, "GET", url)
    assert query(call) == [("applicationId", "app-1"), ("userName", "ann@acme.io")]
    assert headers(call) == KEY_GET  # Api-Key on the app server: UNCERTAIN
    assert agent == AgentStatus(
        user_name="ann@acme.io", status=1, name="Ann", role_type=8
    )
    assert agent.online
    assert not AgentStatus(user_name="b", status=2).online


async def test_status_of_an_unlisted_agent(api: MockApi) -> None:
    api.add(
        "GET",
        "/users/list?applicationId=app-1&userName=x",
        base=APP_URL,
        body=b'{"code":"SUCCESS","response":[]}',
    )
    async with mocked_session() as km:
        with pytest.raises(NotFoundError):
            await km.agents.status("x")


async def test_availability_groups_online_and_away(api: MockApi) -> None:
    url = f"{APP_URL}/users/availability/status?applicationId=app-1"
    api.add(
        "GET",
        "/users/availability/status?applicationId=app-1",
        base=APP_URL,
        body=b'{"code":"SUCCESS","response":{"away":["bob@acme.io"],"online":["ann@acme.io"]}}',
        repeat=True,
    )
    async with mocked_session() as km:
        found = await km.agents.availability()
        assert await km.agents.online() == ["ann@acme.io"]
    assert found == Availability(online=["ann@acme.io"], away=["bob@acme.io"])
    assert found.is_online("ann@acme.io") and not found.is_online("bob@acme.io")
    assert all(
        headers(c) == KEY_GET for (m, u), cs in api.mocked.requests.items() for c in cs
    )
    assert {str(u) for (_, u) in api.mocked.requests} == {url}


async def test_app_token_replaces_api_key_on_the_app_server(api: MockApi) -> None:
    url = f"{APP_URL}/users/availability/status?applicationId=app-1"
    api.add(
        "GET",
        "/users/availability/status?applicationId=app-1",
        base=APP_URL,
        body=b'{"code":"SUCCESS","response":{"away":[],"online":[]}}',
    )
    async with mocked_session(app_token="dash-token-1") as km:
        assert await km.agents.availability() == Availability()
        assert "dash-token-1" not in repr(km.config)
    sent = headers(only(api, "GET", url))
    assert sent == {"Authorization": "dash-token-1", "Accept": "application/json"}


@pytest.mark.parametrize(
    ("method", "action"), [("set_away", "goAway"), ("set_online", "goOnline")]
)
async def test_set_away_and_online(api: MockApi, method: str, action: str) -> None:
    # The id is URL-encoded (a "/" stays %2F); yarl writes "@" as is in a path.
    path = f"/users/{action}/a%2Fb@acme.io/app-1"
    api.add(
        "PATCH", path, base=APP_URL, body=b'{"code":"SUCCESS","response":"success"}'
    )
    async with mocked_session() as km:
        await getattr(km.agents, method)("a/b@acme.io")
    call = only(api, "PATCH", APP_URL + path)
    assert headers(call) == KEY_BODY
    assert call.kwargs["data"] is None
    assert query(call) == []


async def test_app_calls_need_the_app_id(api: MockApi) -> None:
    async with mocked_session(app_id=None) as km:
        with pytest.raises(ConfigurationError, match="app id"):
            await km.agents.availability()
        with pytest.raises(ConfigurationError):
            await km.agents.set_away("a")
    assert api.count() == 0


async def test_an_unexpected_shape_is_a_clear_error(api: MockApi) -> None:
    api.add(
        "GET",
        "/users/availability/status?applicationId=app-1",
        base=APP_URL,
        body=b'{"code":"SUCCESS","response":{"online":"everyone"}}',
    )
    async with mocked_session() as km:
        with pytest.raises(ResponseValidationError, match="availability"):
            await km.agents.availability()


async def test_an_error_code_raises(api: MockApi) -> None:
    api.add(
        "GET",
        "/users/availability/status?applicationId=app-1",
        base=APP_URL,
        body=b'{"code":"ERROR","message":"no such application"}',
    )
    async with mocked_session() as km:
        with pytest.raises(APIError, match="no such application"):
            await km.agents.availability()
