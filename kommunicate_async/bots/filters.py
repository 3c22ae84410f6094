"""Filters for routing bot messages: `@app.on_message(when=filters.text("help"))`.

A filter is any `(BotRequest) -> bool`; a route with several (`when=[a, b]`) needs
all of them. Routes are tried in registration order and the first match wins.

    from kommunicate_async.bots import filters

    filters.text("help")                  # the whole text, case-folded ("HELP", "help")
    filters.text("Help", exact=True)      # the whole text, as is
    filters.regex(r"order #?(\\d+)")       # re.search on the text
    filters.metadata("source")            # a metadata key (any value), or
    filters.metadata("source", "ads")     #   with that value
    filters.form()                        # a form submission (formData), or
    filters.form("email")                 #   one carrying that field
    filters.attachment()                  # a file (any type), or
    filters.attachment("image/")          #   of a MIME type starting so
    filters.location()                    # a shared location
    filters.locale("de", "fr")            # kmUserLocale "de", "de-AT", "fr_FR"...
    filters.any_of(a, b), filters.negate(a)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from .._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._payloads import BotRequest

    Filter = Callable[[BotRequest], bool]

__all__ = [
    "any_of",
    "attachment",
    "form",
    "locale",
    "location",
    "metadata",
    "negate",
    "regex",
    "text",
]

_ANY: Final = object()


def text(value: str, *, exact: bool = False) -> Filter:
    """The message text is `value`: case-folded and stripped unless `exact`."""
    if not isinstance(value, str):
        raise ConfigurationError("filters.text takes a str")
    if exact:
        return lambda request: request.text == value
    wanted = value.strip().casefold()
    return lambda request: request.text.strip().casefold() == wanted


def regex(pattern: str | re.Pattern[str], flags: int = 0) -> Filter:
    """`re.search(pattern, text)` finds something."""
    try:
        compiled = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
    except re.error as exc:
        raise ConfigurationError(f"filters.regex: {exc}") from None
    return lambda request: compiled.search(request.text) is not None


def metadata(key: str, value: Any = _ANY) -> Filter:
    """The message metadata has `key` (with `value`, when given)."""
    if value is _ANY:
        return lambda request: key in request.metadata
    return lambda request: key in request.metadata and request.metadata[key] == value


def form(field: str | None = None) -> Filter:
    """A form submission (`KM_CHAT_CONTEXT.formData`), carrying `field` if given."""
    if field is None:
        return lambda request: bool(request.form_data)
    return lambda request: field in request.form_data


def attachment(mime_prefix: str = "") -> Filter:
    """A file (not a location) whose MIME type starts with `mime_prefix`."""
    prefix = mime_prefix.lower()

    def match(request: BotRequest) -> bool:
        return any(
            a.type != "location" and a.type.lower().startswith(prefix)
            for a in request.attachments
        )

    return match


def location() -> Filter:
    """A shared location."""
    return lambda request: any(a.type == "location" for a in request.attachments)


def locale(*languages: str) -> Filter:
    """The user's locale (`kmUserLocale`) is one of `languages` or a region of one
    ("de" matches "de", "de-AT", "de_DE"); case-insensitive."""
    wanted = {lang.lower().replace("_", "-") for lang in languages}
    if not wanted:
        raise ConfigurationError("filters.locale needs at least one language")

    def match(request: BotRequest) -> bool:
        found = request.chat_context.get("kmUserLocale")
        if not isinstance(found, str) or not found:
            return False
        tag = found.lower().replace("_", "-")
        return tag in wanted or tag.split("-", 1)[0] in wanted

    return match


def any_of(*options: Filter) -> Filter:
    """At least one of `options` matches."""
    return lambda request: any(option(request) for option in options)


def negate(option: Filter) -> Filter:
    """`option` does not match."""
    return lambda request: not option(request)
