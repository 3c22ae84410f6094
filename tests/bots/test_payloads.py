"""Bot requests and webhook messages decode from the verbatim public payloads."""

from __future__ import annotations

import msgspec
import pytest

from kommunicate_async import InvalidPayloadError, KommunicateError
from kommunicate_async.bots import (
    Attachment,
    WebhookFile,
    parse_bot_request,
    parse_webhook_message,
)
from tests.fixtures import fixture, raw


def with_ids(name: str, **extra: object) -> bytes:
    """A fixture with the `key` and `groupId` its doc example leaves out."""
    document = {"key": "5-k", "groupId": 7, **fixture(name), **extra}
    return msgspec.json.encode(document)


def test_typed_request_numbers_and_application_id() -> None:
    request = parse_bot_request(raw("bot/bot-request.typed.constructed.json"))
    assert (request.key, request.group_id, request.bot_id) == (
        "5-user-42-1700000000000",
        123456,
        "my-bot-abcde",
    )
    assert (request.sender, request.text, request.content_type, request.source) == (
        "user-42",
        "hello",
        0,
        1,
    )
    assert request.application_key == "app-id"  # arrived as applicationId
    assert request.event is None  # "" is no event
    assert request.created_at == 1700000000000
    assert request.chat_context["kmUserLocale"] == "en"  # an object, not a string
    assert request.attachments == []


def test_group_id_as_numeric_string_and_application_key() -> None:
    request = parse_bot_request(
        b'{"key":"k","groupId":"123456","applicationKey":"app","eventName":"WELCOME"}'
    )
    assert (request.group_id, request.application_key, request.event) == (
        123456,
        "app",
        "WELCOME",
    )


def test_media_event_attachments() -> None:
    request = parse_bot_request(with_ids("bot/bot-request.media-event.file.json"))
    assert request.event == "KOMMUNICATE_MEDIA_EVENT"
    # UNCERTAIN: the docs give "size in bytes" as a placeholder: not a number -> None
    assert request.attachments == [
        Attachment("image/png", url="file url", name="file name", size=None)
    ]
    location = fixture("bot/bot-request.media-event.location-context.json")
    located = parse_bot_request(
        msgspec.json.encode(
            {"key": "k", "groupId": 1, "metadata": {"KM_CHAT_CONTEXT": location}}
        )
    )
    assert located.attachments == [
        Attachment("location", lat="Latitude", lon="Longitude")
    ]


def test_chat_context_as_a_json_string_is_read_too() -> None:
    # Older integrations stringify KM_CHAT_CONTEXT; the bot request sends an object.
    request = parse_bot_request(
        b'{"key":"k","groupId":1,"metadata":{"KM_CHAT_CONTEXT":"{\\"formData\\":{\\"Name\\":\\"Ann\\"}}"}}'
    )
    assert request.form_data == {"Name": "Ann"}
    broken = parse_bot_request(
        b'{"key":"k","groupId":1,"metadata":{"KM_CHAT_CONTEXT":"{"}}'
    )
    assert broken.chat_context == {} and broken.form_data == {}


def test_form_submission() -> None:
    request = parse_bot_request(raw("bot/bot-request.form-submit.constructed.json"))
    assert request.form_data == {"Name": "Ann", "Age": "30"}
    assert request.chat_context["formMsgKey"] == "5-bot-1700000000000"


@pytest.mark.parametrize(
    "name",
    [
        "webhook/message-webhook.text.current.json",
        "webhook/message-webhook.text.2019.json",
    ],
)
def test_webhook_text(name: str) -> None:
    message = parse_webhook_message(raw(name))
    assert (message.key, message.group_id, message.client_group_id) == (
        "message key",
        123456,
        "123456",
    )
    assert message.text == "message content" and message.timestamp == 1457958424000
    assert message.file is None and message.metadata == {}


def test_webhook_attachment() -> None:
    message = parse_webhook_message(
        raw("webhook/message-webhook.attachment.current.json")
    )
    assert message.sender == "sender userId "  # as the docs print it
    assert message.group_name == "Conversation"
    assert message.file == WebhookFile(
        name="name of attachment image,file etc",
        url="attachment Url",
        content_type="image/gif",
        size=28150,
        thumbnail_url="attachment thumbnail Url",
    )
    assert message.metadata == {"key1": "value1", "key2": "value2"}


def test_webhook_metadata_scalars_become_strings() -> None:
    message = parse_webhook_message(
        b'{"key":"k","groupId":1,"metadata":{"n":-1,"b":true,"o":{"a":1},"x":null}}'
    )
    assert message.metadata == {"n": "-1", "b": "true", "o": '{"a":1}'}


@pytest.mark.parametrize(
    ("body", "match"),
    [
        pytest.param(b"not json", "not JSON", id="not-json"),
        pytest.param(b'{"key":"k","groupId":1} trailing', "not JSON", id="trailing"),
        pytest.param(b"[1,2]", "unexpected body", id="array"),
        pytest.param(b'"text"', "unexpected body", id="string"),
        pytest.param(b'{"groupId":1}', "no message key", id="no-key"),
        pytest.param(b'{"key":"","groupId":1}', "no message key", id="empty-key"),
        pytest.param(b'{"key":3,"groupId":1}', "no message key", id="numeric-key"),
        pytest.param(b'{"key":"k"}', "no groupId", id="no-group"),
        pytest.param(
            b'{"key":"k","groupId":"abc"}', "groupId must be a number", id="bad-group"
        ),
        pytest.param(
            b'{"key":"k","groupId":true}', "groupId must be a number", id="bool-group"
        ),
        pytest.param(
            b'{"key":"k","groupId":1,"x":"' + b"a" * (1024 * 1024) + b'"}',
            "over",
            id="too-big",
        ),
        pytest.param(
            b'{"key":"k","groupId":1,"m":' + b"[" * 33 + b"]" * 33 + b"}",
            "deeper than 32",
            id="too-deep",
        ),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "deeper than 32", id="very-deep"),
        # Escaped quotes with no closing quote: a string-stripping regex went
        # quadratic here (40 KB took 3.7 s, 1 MiB would take ~40 min).
        pytest.param(b'"' + b'\\"' * 500_000, "not JSON", id="unclosed-escapes"),
    ],
)
def test_bad_bodies_are_invalid_payloads(body: bytes, match: str) -> None:
    for parse in (parse_bot_request, parse_webhook_message):
        with pytest.raises(InvalidPayloadError, match=match) as caught:
            parse(body)
        assert isinstance(caught.value, KommunicateError | ValueError)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    text = "[" * 40 + '"{' * 40 + "\\"
    body = msgspec.json.encode({"key": "k", "groupId": 1, "message": text})
    assert parse_bot_request(body).text == text  # escaped quotes stay inside
    within = b'{"key":"k","groupId":1,"m":' + b"[" * 31 + b"]" * 31 + b"}"
    assert parse_bot_request(within).key == "k"


def test_not_bytes_is_refused() -> None:
    with pytest.raises(InvalidPayloadError, match="must be bytes"):
        parse_bot_request("{}")  # type: ignore[arg-type]
