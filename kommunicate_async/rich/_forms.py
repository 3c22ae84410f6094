"""Forms (template 12): fields with validation, choices, hidden values, a submit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from .._errors import InvalidRequestError
from .._validate import check_text
from ._buttons import template
from ._checks import check_items, check_url, frozen_items
from ._message import RichMessage, TemplateId

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["Choice", "Field", "FormField", "FormSubmit", "Hidden", "Options", "form"]

TextKind = Literal["text", "textarea", "password", "date", "time", "datetime-local"]
ChoiceKind = Literal["radio", "checkbox", "dropdown"]
_TEXT_KINDS: Final = frozenset(TextKind.__args__)  # type: ignore[attr-defined]
_CHOICE_KINDS: Final = frozenset(ChoiceKind.__args__)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Field:
    """A typed input: text, textarea, password, date, time or datetime-local.

    Attributes:
        label: what the user sees (also the form-data key when `name` is None).
        kind: the input type.
        name: the form-data key.
        placeholder: greyed hint text.
        regex: a pattern the input must match (checked by the widget).
        error_text: shown when it does not.
    """

    label: str
    kind: TextKind = "text"
    name: str | None = None
    placeholder: str | None = None
    regex: str | None = None
    error_text: str | None = None

    def wire(self) -> dict[str, Any]:
        if self.kind not in _TEXT_KINDS:
            raise InvalidRequestError(
                f"field kind must be one of {sorted(_TEXT_KINDS)}, not {self.kind!r}"
            )
        data = _named(self.label, self.name)
        if self.placeholder is not None:
            data["placeholder"] = check_text(self.placeholder, "placeholder")
        validation = _validation(self.regex, self.error_text)
        if validation:
            data["validation"] = validation
        return {"type": self.kind, "data": data}


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a radio, checkbox or dropdown field (`Options`).

    Attributes:
        label: what the user sees.
        value: the value posted; the label when None.
        selected: chosen at first.
        disabled: shown but not selectable.
    """

    label: str
    value: str | None = None
    selected: bool = False
    disabled: bool = False

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": check_text(self.label, "choice label")}
        value: object = self.label if self.value is None else self.value
        if not isinstance(value, str) or "\x00" in value:  # "" is a valid value
            raise InvalidRequestError(f"a choice value must be a str, not {value!r}")
        out["value"] = value
        if self.selected:
            out["selected"] = True
        if self.disabled:
            out["disabled"] = True
        return out


@dataclass(frozen=True, slots=True)
class Options:
    """Radio buttons, checkboxes or a dropdown.

    Attributes:
        kind: `"radio"`, `"checkbox"` or `"dropdown"`.
        label: what the user sees (also the form-data key when `name` is None).
        options: any sequence of `str` or `Choice` (stored as a tuple).
        name: the form-data key.
        error_text: shown when nothing is chosen.
    """

    kind: ChoiceKind
    label: str
    options: Sequence[str | Choice]
    name: str | None = None
    error_text: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", frozen_items(self.options, "options"))

    def wire(self) -> dict[str, Any]:
        if self.kind not in _CHOICE_KINDS:
            raise InvalidRequestError(
                f"options kind must be one of {sorted(_CHOICE_KINDS)}, "
                f"not {self.kind!r}"
            )
        data = _named(self.label, self.name)
        choices = check_items(self.options, f"options of {self.kind} {self.label!r}")
        data["options"] = [
            (Choice(c) if isinstance(c, str) else c).wire() for c in choices
        ]
        if self.error_text is not None:
            data["validation"] = {
                "errorText": check_text(self.error_text, "error_text")
            }
        return {"type": self.kind, "data": data}


@dataclass(frozen=True, slots=True)
class Hidden:
    """A value posted with the form but never shown.

    Attributes:
        name: the form-data key.
        value: the value posted.
    """

    name: str
    value: str

    def wire(self) -> dict[str, Any]:
        return {
            "type": "hidden",
            "data": {
                "name": check_text(self.name, "hidden field name"),
                "value": check_text(self.value, "hidden field value"),
            },
        }


@dataclass(frozen=True, slots=True)
class FormSubmit:
    """The submit button.

    Attributes:
        name: the button's label.
        message: the acknowledgement shown as the user's message.
        action_url: where the data is posted (https only); None: nowhere, the
            data only comes back to the bot (`post_back=True`).
        request_type: how it is posted (`"json"`, `"POST"`, ...).
        post_back: also send the data back into the conversation, where a bot
            reads it as `BotRequest.form_data`.
    """

    name: str = "Submit"
    message: str | None = None
    action_url: str | None = None
    request_type: str = "json"
    post_back: bool = False

    def wire(self) -> dict[str, Any]:
        action: dict[str, Any] = {}
        if self.message is not None:
            action["message"] = check_text(self.message, "submit message")
        action["requestType"] = check_text(self.request_type, "request_type")
        action["formAction"] = (
            ""
            if self.action_url is None
            else check_url(self.action_url, "action_url", https_only=True)
        )
        if self.post_back:
            action["postBackToKommunicate"] = True
        name = check_text(self.name, "submit name")
        return {
            "type": "submit",
            "data": {"action": action, "type": "submit", "name": name},
        }


FormField = Field | Options | Hidden


def form(
    text: str,
    fields: Iterable[FormField],
    *,
    submit: FormSubmit = FormSubmit(),
) -> RichMessage:
    """A form (template 12). Field names (or labels) must be unique; a choice
    field needs options."""
    payload: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in check_items(fields, "fields"):
        if not isinstance(item, Field | Options | Hidden):
            raise InvalidRequestError(
                f"a form field is a Field, Options or Hidden, not {type(item).__name__}"
            )
        wired = item.wire()
        key = wired["data"].get("name") or wired["data"]["label"]
        if key in seen:
            raise InvalidRequestError(f"duplicate form field name {key!r}")
        seen.add(key)
        payload.append(wired)
    if not isinstance(submit, FormSubmit):
        raise InvalidRequestError(f"submit must be a FormSubmit, not {submit!r}")
    payload.append(submit.wire())
    return template(text, TemplateId.FORM, payload)


def _named(label: str, name: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"label": check_text(label, "field label")}
    if name is not None:
        data["name"] = check_text(name, "field name")
    return data


def _validation(regex: str | None, error_text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if regex is not None:
        check_text(regex, "regex")
        try:
            re.compile(regex)
        except re.error as exc:  # most typos are errors in JavaScript too
            raise InvalidRequestError(
                f"regex {regex!r} does not compile: {exc}"
            ) from None
        out["regex"] = regex
    if error_text is not None:
        out["errorText"] = check_text(error_text, "error_text")
    return out
