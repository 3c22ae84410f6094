"""km.csat (N16, N17) and the AI-answer marks of messages.send (N19).

Reply shapes from the Android SDK (`KmFeedback`, `KmApiResponse`) and the Web SDK
(which reads the stored feedback at `data.data`); code only, UNCERTAIN
(docs/wire.md#feedback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async import InvalidRequestError
from kommunicate_async.models.feedback import Csat
from tests.resources.exact import (
    APP_URL,
    KEY_BODY,
    KEY_GET,
    headers,
    mocked_session,
    only,
    query,
)

if TYPE_CHECKING:
    from tests.mockapi import MockApi

STORED = (
    b'{"id":9,"groupId":5,"rating":4,"comments":["quick","kind"],"type":1,'
    b'"createdAt":"2026-01-05T10:00:00.000Z","updatedAt":"2026-01-05T10:00:00.000Z",'
    b'"deleteAt":null}'
)


async def test_get_reads_code_data(api: MockApi) -> None:
    api.add(
        "GET",
        "/feedback/5",
        base=APP_URL,
        body=b'{"code":"SUCCESS","data":' + STORED + b"}",
    )
    async with mocked_session() as km:
        csat = await km.csat.get(5)
    call = only(api, "GET", f"{APP_URL}/feedback/5")
    assert headers(call) == KEY_GET and query(call) == []
    assert csat == Csat(
        id=9,
        group_id=5,
        rating=4,
        comments=["quick", "kind"],
        type=1,
        created_at="2026-01-05T10:00:00.000Z",
        updated_at="2026-01-05T10:00:00.000Z",
    )


async def test_get_of_an_unrated_conversation(api: MockApi) -> None:
    api.add("GET", "/feedback/5", base=APP_URL, body=b'{"code":"SUCCESS","data":null}')
    async with mocked_session() as km:
        assert await km.csat.get(5) is None


async def test_post_body_and_nested_reply(api: MockApi) -> None:
    api.add(
        "POST",
        "/feedback/v2?sendAsMessage=true",
        base=APP_URL,
        body=b'{"code":"SUCCESS","data":{"data":' + STORED + b"}}",
    )
    async with mocked_session() as km:
        stored = await km.csat.post(
            5,
            4,
            base=5,
            comments=["quick", "kind"],
            user_id="user-1",
            user_name="Uma",
            user_email="uma@example.com",
            agent_id="ann@acme.io",
            team_id=42,
        )
    call = only(api, "POST", f"{APP_URL}/feedback/v2?sendAsMessage=true")
    assert query(call) == [("sendAsMessage", "true")]
    assert headers(call) == KEY_BODY
    assert call.kwargs["data"] == (
        b'{"groupId":5,"rating":4,"comments":["quick","kind"],"applicationId":"app-1",'
        b'"supportAgentName":"ann@acme.io","teamId":"42","userInfo":{"name":"Uma",'
        b'"userId":"user-1","email":"uma@example.com"}}'
    )
    assert stored is not None and stored.rating == 4


async def test_post_minimal_on_a_scale_of_ten(api: MockApi) -> None:
    api.add(
        "POST",
        "/feedback/v2?sendAsMessage=false",
        base=APP_URL,
        body=b'{"code":"SUCCESS","data":'
        + STORED.replace(b'"rating":4', b'"rating":9')
        + b"}",
    )
    async with mocked_session() as km:
        stored = await km.csat.post(5, 9, base=10, user_id="u", send_as_message=False)
    call = only(api, "POST", f"{APP_URL}/feedback/v2?sendAsMessage=false")
    body = msgspec.json.decode(call.kwargs["data"])
    assert body == {
        "groupId": 5,
        "rating": 9,
        "comments": [],
        "applicationId": "app-1",
        "userInfo": {"name": "u", "userId": "u"},
    }
    assert stored is not None and stored.rating == 9


@pytest.mark.parametrize(
    ("rating", "kwargs", "error"),
    [
        (6, {"base": 5}, "at most 5"),
        (-1, {}, "rating"),
        (3, {"base": 7}, "base"),
        (True, {}, "rating"),
        (3, {"comments": [""]}, "comment"),
        (3, {"user_id": ""}, "user_id"),
        (3, {"send_as_message": 1}, "send_as_message"),
    ],
)
async def test_post_refuses_bad_input(
    api: MockApi, rating: int, kwargs: dict[str, object], error: str
) -> None:
    options: dict[str, object] = {"user_id": "u", **kwargs}
    async with mocked_session() as km:
        with pytest.raises(InvalidRequestError, match=error):
            await km.csat.post(5, rating, **options)  # type: ignore[arg-type]
    assert api.count() == 0


async def test_send_marks_an_ai_answer(api: MockApi) -> None:
    api.add(
        "POST", "/rest/ws/message/v2/send", body=b'{"messageKey":"k1","createdAt":1}'
    )
    async with mocked_session() as km:
        sent = await km.messages.send(
            5,
            "Reset it from Settings.",
            answer_source="knowledge-base",
            question="How do I reset my password?",
            metadata={"tag": "faq"},
        )
    assert sent.key == "k1"
    (call,) = api.calls("POST", "/rest/ws/message/v2/send")
    assert call.kwargs["data"] == (
        b'{"groupId":5,"message":"Reset it from Settings.","fromUserName":"bot",'
        b'"metadata":{"tag":"faq","KM_ANSWER_SOURCE":"knowledge-base",'
        b'"KM_CONTEXT_QUESTION":"How do I reset my password?"}}'
    )


async def test_question_needs_a_source(api: MockApi) -> None:
    async with mocked_session() as km:
        with pytest.raises(InvalidRequestError, match="answer_source"):
            await km.messages.send(5, "x", question="q?")
        with pytest.raises(InvalidRequestError):
            await km.messages.send(5, "x", answer_source="")
    assert api.count() == 0


@pytest.mark.parametrize(
    ("body", "base"),
    [
        (b'{"code":"SUCCESS","response":{"chatWidget":{"csatRatingBase":5}}}', 5),
        (b'{"code":"SUCCESS","response":{"chatWidget":{"csatRatingBase":"10"}}}', 10),
        (b'{"code":"SUCCESS","response":{"chatWidget":{}}}', 3),
        (b'{"code":"SUCCESS","response":{"collectFeedback":true}}', 3),
        (b'{"code":"SUCCESS","response":null}', 3),
    ],
)
async def test_rating_base_from_plugin_settings(
    api: MockApi, body: bytes, base: int
) -> None:
    """N22: the widget's scale; 3 when the settings name none (Android default)."""
    api.add(
        "GET", "/users/v3/chat/plugin/settings?appId=app-1", base=APP_URL, body=body
    )
    async with mocked_session() as km:
        assert await km.csat.rating_base() == base
    call = only(api, "GET", f"{APP_URL}/users/v3/chat/plugin/settings?appId=app-1")
    assert query(call) == [("appId", "app-1")] and headers(call) == KEY_GET
