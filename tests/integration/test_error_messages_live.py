"""Errors a person can act on (issue #19): the message names what happened, the call,
the object and the hint; the request id comes from the fake's X-Kong-Request-Id."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from kommunicate_async import (
    AuthenticationError,
    ConversationClosedError,
    ConversationStatus,
    NotFoundError,
    ServerError,
)
from kommunicate_async.testing import Fault

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate

REQUEST_ID = re.compile(r"request id [0-9a-f]{32}")


async def test_a_wrong_key_says_check_the_key(fake: FakeKommunicate) -> None:
    async with fake.session(api_key="not-the-key") as km:
        with pytest.raises(AuthenticationError) as caught:
            await km.messages.send(1, "hi")
    error = caught.value
    text = str(error)
    assert text.startswith("the API key was refused (POST /rest/ws/message/v2/send, ")
    assert "HTTP 401, AL-UN-01: unauthorized user" in text
    assert text.endswith(": check KOMMUNICATE_API_KEY (api_key=)")
    assert REQUEST_ID.search(text)
    assert (error.method, error.path, error.status) == (
        "POST",
        "/rest/ws/message/v2/send",
        401,
    )
    assert error.subject == "conversation 1"
    assert error.request_id is not None and len(error.request_id) == 32
    assert "not-the-key" not in text


async def test_a_missing_conversation_names_it_without_http_200(
    session: KommunicateSession,
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await session.conversations.get(123)
    text = str(caught.value)
    assert text.startswith("conversation 123 not found (GET /rest/ws/group/")
    assert "AL-G-01: group not found" in text
    assert "HTTP 200" not in text
    assert caught.value.status == 200
    assert caught.value.subject == "conversation 123"


async def test_a_closed_conversation_says_so(session: KommunicateSession) -> None:
    chat = await session.conversations.create(["user-1"])
    await session.conversations.set_status(chat, ConversationStatus.RESOLVED)
    with pytest.raises(ConversationClosedError) as caught:
        await session.messages.send_file(chat.id, b"hi", name="a.txt")
    text = str(caught.value)
    assert text.startswith(
        f"conversation {chat.id} is closed (POST /rest/ws/message/send, "
        "CONVERSATION_CLOSED"
    )
    assert text.endswith(": reopen it or start a new conversation; nothing was sent")


async def test_a_5xx_names_the_call(fake: FakeKommunicate) -> None:
    async with fake.session(max_retries=0) as km:
        chat = await km.conversations.create(["user-1"])
        fake.faults.script("POST /rest/ws/message/v2/send", Fault.ERROR_503)
        with pytest.raises(ServerError) as caught:
            await km.messages.send(chat.id, "hi")
    text = str(caught.value)
    assert text.startswith(
        "server error (HTTP 503) on POST /rest/ws/message/v2/send "
        "(service unavailable, request id "
    )
    assert text.endswith(": retry later")
    assert caught.value.ambiguous
