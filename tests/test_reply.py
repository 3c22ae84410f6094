"""Decoding replies: envelope or bare (UNCERTAIN per endpoint), errors, odd bodies."""

from __future__ import annotations

import pytest

from kommunicate_async import (
    APIError,
    AuthenticationError,
    Conversation,
    NotFoundError,
    ResponseValidationError,
    ServerError,
    User,
)
from kommunicate_async._pipeline.reply import (
    NoResult,
    error_from_body,
    excerpt,
    reply_decoder,
)
from kommunicate_async.models.message import SentMessage

SENT_BARE = b'{"messageKey":"5-k","createdAt":17}'
SENT_ENVELOPED = b'{"status":"success","generatedAt":1,"response":{"messageKey":"5-k","createdAt":17}}'


@pytest.mark.parametrize("body", [SENT_BARE, SENT_ENVELOPED], ids=["bare", "enveloped"])
def test_struct_result_decodes_from_either_shape(body: bytes) -> None:
    # UNCERTAIN (docs/wire.md#replies): message/v2/send may be enveloped or bare.
    assert reply_decoder(SentMessage).decode(body) == SentMessage(
        key="5-k", created_at=17
    )


@pytest.mark.parametrize(
    "body",
    [
        b'[{"userId":"u","unreadCount":2}]',
        b'{"status":"success","response":[{"userId":"u","unreadCount":2}]}',
    ],
    ids=["bare-array", "enveloped"],
)
def test_list_result_decodes_from_either_shape(body: bytes) -> None:
    # UNCERTAIN (docs/wire.md#replies): user/v2/detail is bare in KD 2019, enveloped on services.
    assert reply_decoder(list[User]).decode(body) == [User(user_id="u", unread_count=2)]


def test_unknown_fields_are_ignored() -> None:
    body = b'{"status":"success","future":1,"response":{"id":3,"brandNew":{"x":[1]},"name":"t"}}'
    assert reply_decoder(Conversation).decode(body) == Conversation(id=3, title="t")


def test_success_envelope_without_response_is_none() -> None:
    assert (
        reply_decoder(Conversation).decode(b'{"status":"success","response":null}')
        is None
    )
    assert reply_decoder(Conversation).decode(b'{"status":"success"}') is None


def test_empty_body_is_none() -> None:
    assert reply_decoder(SentMessage).decode(b"  ") is None


def test_error_envelope_in_http_200_raises() -> None:
    body = (
        b'{"status":"error","generatedAt":1,"errorResponse":[{"errorCode":"AL-UN-01",'
        b'"description":"unauthorized user","displayMessage":"Unable to process"}]}'
    )
    with pytest.raises(AuthenticationError) as info:
        reply_decoder(SentMessage).decode(body, 200)
    assert (info.value.status, info.value.code) == (200, "AL-UN-01")


def test_error_descriptions_are_joined() -> None:
    body = b'{"status":"error","errorResponse":[{"description":"a"},{"displayMessage":"b"}]}'
    with pytest.raises(APIError, match="HTTP 200: a; b"):
        reply_decoder(str).decode(body)


def test_error_envelope_with_string_response_raises() -> None:
    # The error shape does not fit `Conversation`, but must still raise the API error.
    with pytest.raises(NotFoundError, match="group does not exist"):
        reply_decoder(Conversation).decode(
            b'{"status":"error","response":"group does not exist"}'
        )


def test_invalid_json_raises_response_validation_error() -> None:
    with pytest.raises(ResponseValidationError, match="not valid JSON") as info:
        reply_decoder(SentMessage).decode(b'{"messageKey":"5-', 200)
    assert info.value.status == 200


def test_wrong_shape_raises_response_validation_error() -> None:
    with pytest.raises(ResponseValidationError, match="unexpected reply shape"):
        reply_decoder(SentMessage).decode(b'{"messageKey": 5}')
    with pytest.raises(ResponseValidationError, match="lacks fields"):
        reply_decoder(SentMessage).decode(b'{"createdAt": 5}')
    with pytest.raises(ResponseValidationError):
        reply_decoder(list[User]).decode(b'"nope"')


def test_plain_text_success_and_error() -> None:
    # Some legacy GETs answer bare words (docs/wire.md#replies).
    assert reply_decoder(str).decode(b"success") == "success"
    with pytest.raises(APIError, match="error"):
        reply_decoder(str).decode(b"error")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"success",
        b'{"status":"success","response":"success"}',
        b'{"weird":[1]}',
        b"[1,2]",
        b"ok",
    ],
)
def test_no_result_accepts_anything_but_an_error(body: bytes) -> None:
    assert reply_decoder(NoResult).decode(body) is None


@pytest.mark.parametrize(
    "body",
    [
        b"error",
        b'{"status":"error","errorResponse":[{"description":"group not found"}]}',
    ],
)
def test_no_result_still_raises_errors(body: bytes) -> None:
    with pytest.raises(APIError):
        reply_decoder(NoResult).decode(body)


def test_error_from_body_shapes() -> None:
    assert isinstance(
        error_from_body(502, b"<html><body>Bad gateway</body></html>"), ServerError
    )
    assert "HTML" in error_from_body(502, b"<!DOCTYPE html>").description
    error = error_from_body(400, b'{"message":"missing groupName"}')
    assert error.description == "missing groupName"
    error = error_from_body(400, b'{"code":"E1","error":"nope"}')
    assert (error.code, error.description) == ("E1", "nope")
    assert error_from_body(400, b"plain words").description == "plain words"
    assert error_from_body(400, b'{"other":1}').description == '{"other":1}'
    assert error_from_body(401, b"").__class__ is AuthenticationError


def test_excerpt_is_short_and_single_line() -> None:
    text = excerpt(b"a\nb\tc " + b"x" * 500)
    assert text.startswith("a b c ")
    assert len(text) <= 201
    assert text.endswith("…")


@pytest.mark.parametrize(
    "body",
    [
        b'{\n  "status": "success",\n  "response": {"messageKey": "k"}\n}',
        b'{"generatedAt":1,"status":"success","response":{"messageKey":"k"}}',
        b'{"createdAt":1,"messageKey":"k"}',
    ],
    ids=["pretty-envelope", "status-not-first", "bare-other-order"],
)
def test_fast_path_misses_fall_back_to_the_twin(body: bytes) -> None:
    assert reply_decoder(SentMessage).decode(body).key == "k"  # type: ignore[union-attr]


def test_a_type_without_required_fields_never_mistakes_an_envelope() -> None:
    from kommunicate_async.models.conversation import ConversationPage

    body = b'{\n "status": "success", "response": {"groups": [{"id": 1}]}}'
    page = reply_decoder(ConversationPage).decode(body)
    assert page is not None and [g.id for g in page.groups] == [1]
