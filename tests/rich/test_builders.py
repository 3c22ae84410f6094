"""Every builder against the verbatim template it corresponds to.

Each builder's bot-reply form must equal the fixture's JSON (payload a real array
or object), and its send form must carry the same payload as a JSON *string*.
`"platform": "kommunicate"` is Dialogflow's custom-payload marker, not part of a
custom-bot reply, so it is left out of the comparison. Fixtures whose values are
placeholders ("Image URL", "<URL>") are compared after the placeholder is replaced
by the real URL the builder was given: builders refuse non-URLs.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from kommunicate_async import rich
from kommunicate_async.rich import (
    Button,
    Card,
    Choice,
    Field,
    FormSubmit,
    Hidden,
    Image,
    Link,
    LinkButton,
    ListItem,
    Options,
    QuickReply,
    Submit,
    Video,
)
from tests.fixtures import fixture


def expected(name: str, **placeholders: str) -> dict[str, Any]:
    """The fixture as a bot-reply item, placeholders swapped for real values."""
    document: dict[str, Any] = fixture(f"rich/{name}.json")
    document.pop("platform", None)
    text = msgspec.json.encode(document).decode()
    for old, new in placeholders.items():
        text = text.replace(
            msgspec.json.encode(old).decode(), msgspec.json.encode(new).decode()
        )
    decoded: dict[str, Any] = msgspec.json.decode(text)
    return decoded


def assert_both_forms(message: rich.RichMessage, want: dict[str, Any]) -> None:
    assert message.bot_reply() == want
    sent = message.send_metadata()
    assert all(isinstance(v, str) for v in sent.values())
    for key, value in want["metadata"].items():
        if isinstance(value, str):
            assert sent[key] == value
        else:  # stringified exactly once: decoding the string gives the JSON back
            assert msgspec.json.decode(sent[key]) == value


def test_suggested_replies_current() -> None:
    message = rich.suggested_replies(
        "The oval shaped buttons below are examples of suggested replies",
        [
            QuickReply("Example 1", "Message for Example 1."),
            QuickReply("Example 2", "Message for Example 2"),
            QuickReply("Example for a long button", "Message for long button"),
        ],
    )
    assert_both_forms(message, expected("suggested-replies.current"))
    assert message.template_id == "6"


def test_suggested_replies_with_reply_metadata() -> None:
    message = rich.suggested_replies(
        "Do you want more updates?",
        [
            QuickReply("Yes", "Cool! send me more."),
            QuickReply(
                "No", "Not at all", {"KM_CHAT_CONTEXT": {"buttonClicked": True}}
            ),
        ],
    )
    assert_both_forms(message, expected("suggested-replies.reply-metadata"))


def test_plain_str_replies_send_their_title() -> None:
    reply = rich.suggested_replies("Pick", ["Yes"]).bot_reply()
    assert reply["metadata"]["payload"] == [{"title": "Yes", "message": "Yes"}]


def test_link_buttons() -> None:
    message = rich.link_buttons(
        "click on the buttons",
        [
            LinkButton("Go To Google", "https://www.google.com"),
            LinkButton("Go To Facebook", "https://www.facebook.com", new_tab=False),
        ],
    )
    assert_both_forms(message, expected("link-buttons"))


def test_submit_button() -> None:
    message = rich.submit_button(
        "click the pay button",
        "Pay",
        {"amount": "1000", "description": "movie ticket"},
        "https://example.com/book",
        reply_text=(
            "optional, will be used as acknowledgement message to user in case of "
            "requestType JSON. Default value is same as name parameter"
        ),
    )
    want = expected("submit-button")
    assert_both_forms(message, want)
    # formData sits beside payload and is an object: on the wire it is a string too
    assert (
        message.send_metadata()["formData"]
        == '{"amount":"1000","description":"movie ticket"}'
    )


def test_images() -> None:
    url = "https://cdn.example.com/a.png"
    message = rich.images(
        "Hey I am Kommunicate support bot", [Image(url, "Image caption")]
    )
    assert_both_forms(message, expected("images", **{"Image URL": url}))


def test_list() -> None:
    header, thumb = "https://cdn.example.com/h.png", "https://cdn.example.com/t.png"
    message = rich.item_list(
        "This is the sample json for list template",
        [
            ListItem(
                "List item 1",
                "Description for the list item",
                image=thumb,
                action=Link("https://www.google.com"),
            )
        ],
        header_text="Header text.",
        header_image=header,
        buttons=[Button("See us on facebook", Link("https://www.facebook.com"))],
    )
    want = expected(
        "list",
        **{"URL for header image": header, "Thumbnail icon for list item": thumb},
    )
    assert_both_forms(message, want)
    assert isinstance(message.bot_reply()["metadata"]["payload"], dict)  # an object


def test_list_item_actions_match_the_documented_shapes() -> None:
    actions = fixture("bot-extra/rich_list_item_actions_t7.json")
    message = rich.item_list(
        "t",
        [
            ListItem("a", action=QuickReply("x", "This text will be sent as message")),
            ListItem("b", action=Link("https://example.com/page")),
        ],
    )
    elements = message.bot_reply()["metadata"]["payload"]["elements"]
    assert elements[0]["action"] == actions["quick_reply"]
    assert elements[1]["action"] == {
        **actions["link"],
        "url": "https://example.com/page",
    }


def test_generic_card() -> None:
    image = "https://cdn.example.com/card.png"
    message = rich.card(
        "This is the sample json for card template",
        Card(
            "Card Title",
            subtitle="Card Subtitle ",
            description="Description",
            title_ext="Title extension",
            image=image,
            overlay_text="Overlay Text",
            buttons=(Button("Link Button", Link("https://www.facebook.com")),),
        ),
    )
    assert_both_forms(
        message, expected("generic-card", **{"Header image for the card": image})
    )


def _hotel(
    n: int, subtitle: str, price: str, amount: str, description: str, order: str
) -> Card:
    link = Button("Link Button", Link("https://www.facebook.com"))
    reply = Button(
        "Suggested Reply",
        QuickReply("Yes", "text will be sent as message", {"key1": "value1"}),
    )
    submit = Button(
        "Submit button",
        Submit(
            {"amount": amount, "description": "movie ticket"},
            "https://example.com/book",
            text="acknowledgement text",
        ),
    )
    buttons = (link, reply, submit) if order == "rs" else (link, submit, reply)
    return Card(
        f"OYO Rooms {n}",
        subtitle=subtitle,
        description=description,
        title_ext="4.2/5",
        image="http://www.tollesonhotels.com/wp-content/uploads/2017/03/hotel-room.jpg",
        overlay_text=price,
        buttons=buttons,
    )


def test_card_carousel_with_all_three_actions() -> None:
    far = "Bharathi Road | Near Head Post Office, Cuddalore 607001"
    message = rich.carousel(
        "Carousel",
        [
            _hotel(
                1,
                "Kundanahalli road turn.",
                "$400",
                "$55",
                "Bharathi Road \n Near Head Post Office",
                "rs",
            ),
            _hotel(2, "Kundanahalli ", "$360", "$22", far, "sr"),
            _hotel(3, "Kundanahalli ", "$750", "$45", far, "sr"),
        ],
    )
    assert_both_forms(message, expected("card-carousel"))
    actions = fixture("bot-extra/rich_card_button_actions_t10.json")
    first = message.bot_reply()["metadata"]["payload"][0]["buttons"]
    assert [b["action"] for b in first] == [
        actions["link"],
        actions["quickReply"],
        actions["submit"],
    ]


def test_form_with_validation() -> None:
    email = fixture("rich/form.data-validation.json")["metadata"]["payload"][1]["data"][
        "validation"
    ]["regex"]
    message = rich.form(
        "Lets proceed. Here's your form, please fill it",
        [
            Field(
                "Name",
                placeholder="Enter your name",
                regex="[A-Za-z0-9]",
                error_text="Field is mandatory",
            ),
            Field(
                "Email",
                placeholder="Enter your email",
                regex=email,
                error_text="Invalid Email",
            ),
            Field(
                "Phone",
                placeholder="Enter your phone",
                regex="[0-9]",
                error_text="Field is mandatory",
            ),
        ],
        submit=FormSubmit("Submit", message="Form submitted", request_type="POST"),
    )
    assert_both_forms(message, expected("form.data-validation"))


def test_form_choice_hidden_and_typed_fields() -> None:
    message = rich.form(
        "Book",
        [
            Field("When", kind="datetime-local", name="when"),
            Field("Notes", kind="textarea"),
            Field("PIN", kind="password"),
            Options("radio", "Size", ("S", Choice("M", "medium", selected=True))),
            Options(
                "dropdown", "City", ("Pune", Choice("Pick one", "", disabled=True))
            ),
            Hidden("campaign", "winter"),
        ],
        submit=FormSubmit(action_url="https://example.com/book", post_back=True),
    )
    payload = message.bot_reply()["metadata"]["payload"]
    assert [f["type"] for f in payload] == [
        "datetime-local",
        "textarea",
        "password",
        "radio",
        "dropdown",
        "hidden",
        "submit",
    ]
    assert payload[0]["data"] == {"label": "When", "name": "when"}
    assert payload[3]["data"]["options"] == [
        {"label": "S", "value": "S"},
        {"label": "M", "value": "medium", "selected": True},
    ]
    assert payload[4]["data"]["options"][1] == {
        "label": "Pick one",
        "value": "",
        "disabled": True,
    }
    assert payload[5] == {
        "type": "hidden",
        "data": {"name": "campaign", "value": "winter"},
    }
    assert payload[6]["data"]["action"] == {
        "requestType": "json",
        "formAction": "https://example.com/book",
        "postBackToKommunicate": True,
    }


def test_auto_suggest() -> None:
    message = rich.auto_suggest(
        "Where do you wanna go this summer?",
        ["London", "New York", "Delhi"],
        placeholder="enter city name ",
    )
    assert_both_forms(message, expected("auto-suggestion"))
    assert message.template_id is None
    assert rich.auto_suggest("x", "https://api.example.com/cities").metadata == {
        "KM_AUTO_SUGGESTION": {"source": "https://api.example.com/cities"}
    }


def test_html_with_suggested_replies() -> None:
    text = "<ul><li> Bangalore </li><li> California </li><li> Singapore </li><li> London </li></ul>"
    message = rich.html(text, replies=[QuickReply("Show More", "Show me more")])
    assert message.bot_reply() == expected("html-with-suggested-replies")
    assert rich.html("<b>hi</b>").bot_reply() == {
        "message": "<b>hi</b>",
        "metadata": {},
        "messageType": "html",
    }


def test_video_file_and_youtube() -> None:
    message = rich.video(
        "Watch",
        [
            Video("https://cdn.example.com/a.mp4", "How to"),
            Video("https://www.youtube.com/embed/x", youtube=True),
        ],
    )
    assert message.bot_reply()["metadata"] == {
        "contentType": "300",
        "templateId": "14",
        "payload": [
            {"url": "https://cdn.example.com/a.mp4", "caption": "How to"},
            {"url": "https://www.youtube.com/embed/x", "source": "youtube"},
        ],
    }
    assert rich.video("one", "https://cdn.example.com/b.mp4").metadata["payload"] == [
        {"url": "https://cdn.example.com/b.mp4"}
    ]


def test_bot_reply_fixture_is_reproduced() -> None:
    reply = rich.suggested_replies(
        "A message can be a rich message containing metadata",
        ["Suggested Reply button 1", "Suggested Reply button 2"],
    )
    document = fixture("bot/bot-reply.plain-and-suggested-replies.current.json")
    assert reply.bot_reply() == document[1]


def test_rich_message_is_immutable() -> None:
    message = rich.suggested_replies("Pick", ["A"])
    copy = message.metadata
    copy["payload"].append({"title": "B"})
    assert message.metadata["payload"] == [{"title": "A", "message": "A"}]
    with pytest.raises(AttributeError):
        message.text = "other"  # type: ignore[misc]
    assert message == rich.suggested_replies("Pick", ["A"])
    assert "payload" not in repr(message)
