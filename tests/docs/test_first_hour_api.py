"""The first hour's friction, library side: rich builders take any sequence and
refuse misuse by name, reprs show what matters, the fake's bot kit is documented."""

from __future__ import annotations

import inspect
import pydoc
import typing

import pytest

from kommunicate_async import Conversation, InvalidRequestError
from kommunicate_async.rich import (
    Button,
    Card,
    Choice,
    Image,
    Link,
    LinkButton,
    ListItem,
    Options,
    QuickReply,
    RichMessage,
    Submit,
    Video,
    card,
    form,
    suggested_replies,
)
from kommunicate_async.testing import BotDelivery, FakeKommunicate


def test_a_card_takes_a_list_of_buttons_and_stores_a_tuple() -> None:
    # mypy --strict and pyright check this very line (a list where a tuple is stored)
    shirt = Card("Shirt", buttons=[Button("Buy", Link("https://shop.example/1"))])
    assert isinstance(shirt.buttons, tuple)
    assert card("Our pick", shirt).metadata["payload"][0]["buttons"] == [
        {
            "name": "Buy",
            "action": {"type": "link", "payload": {"url": "https://shop.example/1"}},
        }
    ]
    choices = Options("radio", "Size", options=["S", Choice("M", selected=True)])
    assert choices.options == ("S", Choice("M", selected=True))
    assert form("Pick", [choices]).metadata["payload"][0]["data"]["options"] == [
        {"label": "S", "value": "S"},
        {"label": "M", "value": "M", "selected": True},
    ]


@pytest.mark.parametrize(
    "build",
    [
        lambda: Card("t", buttons="Buy"),  # type: ignore[arg-type]
        lambda: Card("t", buttons=Button("b", Link("https://x.io"))),  # type: ignore[arg-type]
        lambda: Options("radio", "Size", options="SML"),
    ],
)
def test_a_str_or_a_lone_item_is_not_a_sequence_of_items(build: typing.Any) -> None:
    with pytest.raises(InvalidRequestError, match="must be a list or tuple"):
        build()


def test_rich_message_positional_misuse_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match=r"RichMessage\.from_metadata"):
        RichMessage("hello", {"templateId": "6"})  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="text must be a str"):
        RichMessage(42, b"{}")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="html must be a bool"):
        RichMessage("x", b"{}", "yes")  # type: ignore[arg-type]
    made = RichMessage.from_metadata("hello", {"templateId": "6", "payload": []})
    assert made.template_id == "6"


def test_rich_message_repr_names_its_template() -> None:
    message = suggested_replies("Did that help?", ["Yes", "No"])
    assert repr(message) == "RichMessage(text='Did that help?', template_id='6')"


@pytest.mark.parametrize(
    "cls",
    [
        Card,
        Button,
        Link,
        ListItem,
        Submit,
        LinkButton,
        QuickReply,
        Image,
        Video,
        Options,
        Choice,
    ],
)
def test_every_builder_field_is_documented(cls: type) -> None:
    doc = inspect.getdoc(cls) or ""
    for name in inspect.signature(cls).parameters:
        assert f"{name}:" in doc, f"{cls.__name__}.{name} is undocumented"


def test_conversation_repr_shows_status_and_assignee() -> None:
    chat = Conversation(
        id=7,
        client_conversation_id="order-9",
        title="Order 9",
        members=["u1", "ann@acme.io"],
        metadata={
            "CONVERSATION_STATUS": "2",
            "CONVERSATION_ASSIGNEE": "ann@acme.io",
            "KM_TEAM_ID": "42",
        },
    )
    assert repr(chat) == (
        "Conversation(id=7, client_conversation_id='order-9', title='Order 9', "
        "status=RESOLVED, assignee='ann@acme.io', team_id='42', "
        "members=['u1', 'ann@acme.io'])"
    )
    bare = Conversation(id=8)
    assert "status=None, assignee=None" in repr(bare) and "team_id" not in repr(bare)


def test_the_bot_kit_is_visible_to_help_and_typed() -> None:
    text = pydoc.plain(pydoc.render_doc(FakeKommunicate))
    for method in ("deliver_bot_message", "redeliver", "deliver_webhook"):
        assert f"{method}(self" in text
        assert inspect.getdoc(getattr(FakeKommunicate, method))
        returns = inspect.signature(getattr(FakeKommunicate, method)).return_annotation
        assert returns == "BotDelivery"  # the public kommunicate_async.testing name
    assert "KM_ASSIGN_TO" in (inspect.getdoc(FakeKommunicate.deliver_bot_message) or "")
    delivery_doc = inspect.getdoc(BotDelivery) or ""
    for name in ("key:", "status:", "body:", "replies:"):
        assert name in delivery_doc
    assert BotDelivery("k", 204, b"").ok and not BotDelivery("k", 401, b"").ok


async def test_an_unknown_key_cannot_be_redelivered() -> None:
    async with FakeKommunicate() as fake:
        with pytest.raises(KeyError):
            await fake.redeliver("never-delivered")
