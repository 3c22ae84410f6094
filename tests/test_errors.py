from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kommunicate_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    KommunicateError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SessionClosedError,
)
from kommunicate_async._errors import api_error

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from tests.mockapi import MockApi


@pytest.mark.parametrize(
    ("status", "code", "text", "expected"),
    [
        pytest.param(401, None, "", AuthenticationError, id="http-401"),
        pytest.param(403, None, "", PermissionDeniedError, id="http-403"),
        pytest.param(404, None, "", NotFoundError, id="http-404"),
        pytest.param(409, None, "", ConflictError, id="http-409"),
        pytest.param(429, None, "", RateLimitError, id="http-429"),
        pytest.param(500, None, "", ServerError, id="http-500"),
        pytest.param(503, None, "", ServerError, id="http-503"),
        pytest.param(400, None, "bad input", APIError, id="http-400"),
        pytest.param(
            200, "AL-UN-01", "unauthorized user", AuthenticationError, id="code"
        ),
        pytest.param(
            200, None, "  Group Already Exists ", ConflictError, id="dup-group"
        ),
        pytest.param(200, "AL-G-01", "group not found", NotFoundError, id="not-found"),
        pytest.param(
            200, None, "Invalid clientGroupId", NotFoundError, id="invalid-cgid"
        ),
        pytest.param(200, None, "something else", APIError, id="generic-200"),
    ],
)
def test_api_error_picks_the_most_specific_class(
    status: int, code: str | None, text: str, expected: type[APIError]
) -> None:
    error = api_error(status, code, text)
    assert type(error) is expected
    assert (error.status, error.code, error.description) == (status, code, text)


def test_rate_limit_error_carries_retry_after() -> None:
    error = api_error(429, None, "slow down", retry_after=2.5)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 2.5
    assert str(error) == "HTTP 429: slow down"


def test_message_names_status_and_code() -> None:
    assert str(api_error(200, "AL-UN-01", "unauthorized user")) == (
        "HTTP 200 AL-UN-01: unauthorized user"
    )
    assert str(api_error(500, None, "")) == "HTTP 500"


def test_tree_shape() -> None:
    assert issubclass(APITimeoutError, APIConnectionError)
    for cls in (APIError, APIConnectionError, ConfigurationError, SessionClosedError):
        assert issubclass(cls, KommunicateError)
    assert issubclass(InvalidRequestError, ValueError)
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(SessionClosedError, RuntimeError)
    assert KommunicateError("x").ambiguous is False
    assert APIConnectionError("x").sent is True


@pytest.mark.parametrize(
    "body",
    [
        b'{"message": "Invalid authentication credentials"}',
        b'{"message":"No API key found in request","request_id":"f00"}',
    ],
)
async def test_kong_401_bodies_are_the_same_auth_error(
    api: MockApi, km: KommunicateSession, body: bytes
) -> None:
    """Kong key-auth on services.kommunicate.io answers 401 with no Applozic code
    (Kong/kong kong/plugins/key-auth/handler.lua)."""
    api.add(
        "POST",
        "/rest/ws/message/v2/send",
        status=401,
        body=body,
        headers={"X-Kong-Request-Id": "abc123"},
    )
    with pytest.raises(AuthenticationError) as caught:
        await km.messages.send("c-1", "hi")
    text = str(caught.value)
    assert text.startswith(
        "the API key was refused (POST /rest/ws/message/v2/send, HTTP 401, "
    )
    assert "request id abc123" in text and caught.value.request_id == "abc123"
    assert caught.value.subject == "conversation c-1"
