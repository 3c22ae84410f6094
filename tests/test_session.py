"""KommunicateSession lifecycle and the call pipeline (retries, redirects, secrets)."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from kommunicate_async import (
    APIError,
    ConfigurationError,
    KommunicateSession,
    RateLimitError,
    ResponseValidationError,
    Retries,
    ServerError,
    SessionClosedError,
    Timeouts,
)
from kommunicate_async._compat import override
from kommunicate_async._pipeline.retry import RetryBudget
from kommunicate_async._pipeline.routing import Host, Route
from kommunicate_async._pipeline.watchdog import Watch, Watchdog
from tests.mockapi import API_KEY, BASE_URL, CHAT_URL, MockApi
from tests.payloads import load

INFO = "/rest/ws/group/info"
SEND = "/rest/ws/message/v2/send"
Q5 = {"groupId": 5}


def test_missing_key_in_arguments_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KOMMUNICATE_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="KOMMUNICATE_API_KEY"):
        KommunicateSession()


def test_key_from_environment_and_lazy_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMMUNICATE_API_KEY", "env-secret")
    km = KommunicateSession()  # no event loop here: nothing of aiohttp is created yet
    assert km.config.api_key == "env-secret"
    assert km.config.base_url == "https://services.kommunicate.io"
    assert "env-secret" not in repr(km) and "api_key='***'" in repr(km)
    assert km.on_behalf_of == "bot" and not km.closed


def test_bad_settings_fail_at_construction() -> None:
    with pytest.raises(ConfigurationError):
        KommunicateSession("k", on_behalf_of="bot\r\nX-Evil: 1")
    with pytest.raises(ConfigurationError):
        KommunicateSession("k", defaults="agent@x")  # type: ignore[arg-type]


async def test_aclose_is_idempotent_and_a_closed_session_refuses_work(
    api: MockApi,
) -> None:
    km = KommunicateSession(API_KEY, base_url=BASE_URL)
    async with km:
        pass
    assert km.closed
    await km.aclose()
    with pytest.raises(SessionClosedError):
        await km.messages.send(1, "x")
    with pytest.raises(SessionClosedError):
        async with km:
            pass
    assert api.count() == 0


async def test_a_borrowed_session_is_never_closed(api: MockApi) -> None:
    async with aiohttp.ClientSession() as mine:
        api.add("POST", SEND, body=load("send_message_bare"))
        async with KommunicateSession(API_KEY, base_url=BASE_URL, session=mine) as km:
            await km.messages.send(1, "x")
        assert not mine.closed
    with pytest.raises(SessionClosedError, match="session="):
        await KommunicateSession(
            API_KEY, base_url=BASE_URL, session=mine
        ).messages.send(1, "x")


async def test_idempotent_calls_retry_5xx_and_html_pages(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params=Q5, status=503, body=b"busy")
    api.add("GET", INFO, params=Q5, status=200, body=b"<html>maintenance</html>")
    api.add("GET", INFO, params=Q5, body=load("group_info"))
    assert (await km.conversations.get(5)).id == 12345678
    assert len(api.calls("GET", INFO, params=Q5)) == 3


async def test_retries_stop_at_max_retries(api: MockApi) -> None:
    api.add("GET", INFO, params=Q5, status=500, repeat=True)
    async with KommunicateSession(API_KEY, base_url=BASE_URL, max_retries=0) as km:
        with pytest.raises(ServerError):
            await km.conversations.get(5)
    assert len(api.calls("GET", INFO, params=Q5)) == 1


async def test_an_empty_retry_budget_stops_retries(
    api: MockApi, km: KommunicateSession
) -> None:
    km._client.budget = RetryBudget(ratio=0, reserve=0, capacity=0)  # pyright: ignore[reportPrivateUsage]
    api.add("GET", INFO, params=Q5, status=500, repeat=True)
    with pytest.raises(ServerError):
        await km.conversations.get(5)
    assert len(api.calls("GET", INFO, params=Q5)) == 1


async def test_a_429_pauses_the_whole_session(
    api: MockApi, km: KommunicateSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("anyio.sleep", fake_sleep)
    api.add("GET", INFO, params=Q5, status=429, headers={"Retry-After": "3"})
    api.add("GET", INFO, params=Q5, body=load("group_info"))
    await km.conversations.get(5)
    assert (
        len(slept) == 1 and 2.9 <= slept[0] <= 3.1
    )  # Retry-After (+ jitter), one wait
    # A later, unrelated call waits out what is left of the pause before sending.
    api.add("POST", SEND, body=load("send_message_bare"))
    await km.messages.send(1, "x")
    assert len(slept) == 2 and 2.5 < slept[1] <= 3.1


async def test_a_retry_after_too_long_is_not_waited_for(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params=Q5, status=429, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitError) as info:
        await km.conversations.get(5)
    assert info.value.retry_after == 3600
    assert len(api.calls("GET", INFO, params=Q5)) == 1


async def test_a_retry_after_past_the_deadline_still_pauses_the_session(
    api: MockApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call gives up at once, but the server asked for 10 s of quiet: the
    next call waits (here up to its own 5 s deadline) before it sends."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("anyio.sleep", fake_sleep)
    api.add("GET", INFO, params=Q5, status=429, headers={"Retry-After": "10"})
    api.add("POST", SEND, body=load("send_message_bare"))
    timeouts = Timeouts(connect=1, attempt=2, total=5)
    async with KommunicateSession(API_KEY, base_url=BASE_URL, timeout=timeouts) as km:
        with pytest.raises(RateLimitError):
            await km.conversations.get(5)
        assert slept == []  # given up, not waited
        await km.messages.send(1, "x")
    assert len(slept) == 1 and 4.5 < slept[0] <= 5.0
    assert [u.split("?")[0] for _, u in api.made()] == [
        BASE_URL + INFO,
        BASE_URL + SEND,
    ]


async def test_no_retry_past_the_total_deadline(api: MockApi) -> None:
    api.add("GET", INFO, params=Q5, status=429, headers={"Retry-After": "10"})
    timeouts = Timeouts(connect=1, attempt=2, total=5)
    async with KommunicateSession(API_KEY, base_url=BASE_URL, timeout=timeouts) as km:
        with pytest.raises(RateLimitError):
            await km.conversations.get(5)
    assert len(api.calls("GET", INFO, params=Q5)) == 1


class SpyWatchdog(Watchdog):
    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    @override
    def watch(self, timeout: float) -> Watch:
        self.seen.append(timeout)
        return super().watch(timeout)


def watched_timeouts(km: KommunicateSession) -> list[float]:
    """Record the attempt timeouts the transport hands its watchdog."""
    spy = SpyWatchdog()
    km._client.transport._watchdog = spy  # pyright: ignore[reportPrivateUsage]
    return spy.seen


async def test_attempts_get_the_configured_timeout(api: MockApi) -> None:
    api.add("GET", INFO, params=Q5, body=load("group_info"))
    timeouts = Timeouts(connect=1.5, attempt=4, total=None)
    async with KommunicateSession(API_KEY, base_url=BASE_URL, timeout=timeouts) as km:
        seen = watched_timeouts(km)
        await km.conversations.get(5)
        # aiohttp keeps only the connect timeout: the watchdog enforces the attempt.
        pool = km._client.transport.open()  # pyright: ignore[reportPrivateUsage]
        assert (
            pool.timeout.total,
            pool.timeout.sock_connect,
            pool.timeout.connect,
        ) == (None, 1.5, None)
    assert seen == [4]
    assert "timeout" not in api.only_call("GET", INFO, params=Q5).kwargs


async def test_a_borrowed_session_gets_our_attempt_timeout_too(api: MockApi) -> None:
    api.add("GET", INFO, params=Q5, body=load("group_info"))
    async with aiohttp.ClientSession() as mine:
        async with KommunicateSession(
            API_KEY,
            base_url=BASE_URL,
            session=mine,
            timeout=Timeouts(connect=1, attempt=3, total=None),
        ) as km:
            seen = watched_timeouts(km)
            await km.conversations.get(5)
    assert seen == [3]


async def test_the_last_attempt_is_cut_to_the_remaining_total(api: MockApi) -> None:
    api.add("GET", INFO, params=Q5, body=load("group_info"))
    timeouts = Timeouts(connect=1, attempt=30, total=3)
    async with KommunicateSession(API_KEY, base_url=BASE_URL, timeout=timeouts) as km:
        seen = watched_timeouts(km)
        await km.conversations.get(5)
    assert len(seen) == 1 and 2 < seen[0] <= 3


async def test_same_origin_redirect_is_followed(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add(
        "GET",
        INFO,
        params=Q5,
        status=307,
        headers={"Location": "/rest/ws/group/v2/info?groupId=5"},
    )
    api.add("GET", "/rest/ws/group/v2/info", params=Q5, body=load("group_info"))
    assert (await km.conversations.get(5)).id == 12345678
    follow = api.only_call("GET", "/rest/ws/group/v2/info", params=Q5)
    assert follow.kwargs["headers"]["Api-Key"] == API_KEY


@pytest.mark.parametrize(
    ("status", "location", "method"),
    [
        pytest.param(307, "https://evil.test/steal", "GET", id="other-host"),
        pytest.param(308, "http://services.test/rest", "GET", id="https-downgrade"),
        pytest.param(302, "/rest/ws/message/v3/send", "POST", id="post-302"),
        pytest.param(301, None, "GET", id="no-location"),
    ],
)
async def test_unsafe_redirects_are_refused(
    api: MockApi, km: KommunicateSession, status: int, location: str | None, method: str
) -> None:
    headers = {"Location": location} if location else {}
    path, params = (INFO, Q5) if method == "GET" else (SEND, None)
    api.add(method, path, params=params, status=status, headers=headers)
    with pytest.raises(APIError, match="refused to follow") as info:
        if method == "GET":
            await km.conversations.get(5)
        else:
            await km.messages.send(1, "x")
    assert API_KEY not in str(info.value)
    assert api.count() == 1  # nothing was sent to the redirect target


async def test_redirect_loops_stop(api: MockApi, km: KommunicateSession) -> None:
    api.add(
        "GET",
        INFO,
        params=Q5,
        status=307,
        headers={"Location": "/rest/ws/group/info?groupId=5"},
        repeat=True,
    )
    with pytest.raises(APIError, match="more than 3 redirects"):
        await km.conversations.get(5)


async def test_an_echoed_key_is_redacted_from_errors(
    api: MockApi, km: KommunicateSession
) -> None:
    body = (
        b'{"status":"error","errorResponse":[{"description":"bad key '
        + API_KEY.encode()
        + b'"}]}'
    )
    api.add("GET", INFO, params=Q5, status=400, body=body)
    with pytest.raises(APIError) as info:
        await km.conversations.get(5)
    assert API_KEY not in str(info.value) and "[redacted]" in str(info.value)


async def test_logs_never_carry_secrets(
    api: MockApi, km: KommunicateSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kommunicate_async")
    api.add("GET", INFO, params=Q5, status=503)
    api.add("GET", INFO, params=Q5, body=load("group_info"))
    await km.conversations.get(5)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /rest/ws/group/info failed (ServerError); retry 1" in text
    # DEBUG: one line per request, with the acting user and never a secret
    assert "GET /rest/ws/group/info -> 503 (attempt 1," in text
    assert "GET /rest/ws/group/info -> 200 (attempt 2," in text and ", as bot)" in text
    assert API_KEY not in text
    caplog.clear()
    caplog.set_level(logging.INFO, logger="kommunicate_async")
    api.add("GET", INFO, params=Q5, body=load("group_info"))
    await km.conversations.get(5)
    assert (
        caplog.records == []
    )  # successes are not logged at INFO: noise at batch rates


async def test_chat_url_is_used_only_with_a_user_token(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("GET", INFO, params=Q5, body=load("group_info"))
    await km.conversations.get(5)
    assert api.calls("GET", INFO, params=Q5, base=CHAT_URL) == []


def test_header_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kommunicate_async._pipeline.routing._CACHE_LIMIT", 3)
    km = KommunicateSession("k")
    targets = km._client.targets  # pyright: ignore[reportPrivateUsage]
    for user in ["a", "b", "c", "d"]:
        targets.key_headers(user, with_body=True)
    assert len(targets._header_cache) == 1  # pyright: ignore[reportPrivateUsage]


async def test_with_options_is_a_light_view_sharing_the_pool(api: MockApi) -> None:
    api.add("GET", INFO, params=Q5, status=503, repeat=True)
    async with KommunicateSession(
        API_KEY,
        base_url=BASE_URL,
        chat_url=CHAT_URL,
        max_retries=3,
        retries=Retries(backoff_base=0.0),
    ) as km:
        view = km.with_options(timeout=7, max_retries=0, on_behalf_of="agent@acme.io")
        assert view._client.transport is km._client.transport  # pyright: ignore[reportPrivateUsage]
        spy = SpyWatchdog()
        km._client.transport._watchdog = spy  # pyright: ignore[reportPrivateUsage]
        with pytest.raises(ServerError):
            await view.conversations.get(5)
        call = api.calls("GET", INFO, params=Q5)
        assert len(call) == 1  # max_retries=0: no retry
        assert call[0].kwargs["headers"]["Of-User-Id"] == "agent@acme.io"
        assert spy.seen == [7]
        assert (km.on_behalf_of, view.on_behalf_of) == ("bot", "agent@acme.io")
        await view.aclose()  # a view owns nothing
        assert not km.closed
        with pytest.raises(ServerError):
            await km.conversations.get(5)
        assert len(api.calls("GET", INFO, params=Q5)) == 5  # the session's own retries
        with pytest.raises(ConfigurationError):
            km.with_options(max_retries=-1)


def test_proxies_come_from_the_environment_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kommunicate_async._pipeline.transport import env_proxy

    for name in (
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("https://services.kommunicate.io") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert env_proxy("https://services.kommunicate.io") == "http://proxy.internal:3128"
    assert env_proxy("http://127.0.0.1:8080") is None  # no HTTP_PROXY set
    monkeypatch.setenv("NO_PROXY", "services.kommunicate.io")
    assert env_proxy("https://services.kommunicate.io") is None
    monkeypatch.delenv("NO_PROXY")
    km = KommunicateSession("k")
    assert km._client.transport._proxy == "http://proxy.internal:3128"  # pyright: ignore[reportPrivateUsage]


async def test_an_empty_success_is_an_error_unless_asked_for(
    api: MockApi, km: KommunicateSession
) -> None:
    """`call(route, T)` never returns None: an envelope with no `response` raises
    (ambiguous for a send: the server acted); `empty=True` makes it None."""
    api.add("POST", SEND, body=b'{"status":"success"}')
    with pytest.raises(ResponseValidationError, match="no result") as info:
        await km.messages.send(1, "x")
    assert info.value.ambiguous is True
    api.add("GET", INFO, params=Q5, body=b'{"status":"success"}', repeat=True)
    client = km._client  # pyright: ignore[reportPrivateUsage]
    route = Route("GET", INFO, Host.PLATFORM)
    assert await client.call(route, str, empty=True, params=Q5) is None
    with pytest.raises(ResponseValidationError) as info:
        await client.call(route, str, params=Q5)
    assert info.value.ambiguous is False  # a read: nothing was done
