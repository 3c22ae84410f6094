"""CSAT (conversation feedback) and AI-answer feedback (docs/wire.md#feedback)."""

from __future__ import annotations

from enum import IntEnum
from typing import Final

import msgspec

from ._base import UNSET, Model, UnsetType

__all__ = [
    "ANSWER_FEEDBACK",
    "ANSWER_SOURCE",
    "CONTEXT_QUESTION",
    "AnswerVote",
    "Csat",
    "CsatBody",
    "CsatUserInfo",
]

ANSWER_SOURCE: Final = "KM_ANSWER_SOURCE"
"""Metadata key that makes the widget show helpful / not-helpful on a bot answer."""
CONTEXT_QUESTION: Final = "KM_CONTEXT_QUESTION"
"""Metadata key naming the question an AI answer replies to."""
ANSWER_FEEDBACK: Final = "KM_ANSWER_FEEDBACK"
"""Metadata key the widget sets on its copy of a message once the user voted."""


class AnswerVote(IntEnum):
    """`feedback` of `/rest/ws/answer-feedback` (Web SDK `km-utils.js`)."""

    HELPFUL = 1
    NOT_HELPFUL = 0
    DISCARD = -1


class Csat(Model, frozen=True, kw_only=True):
    """A conversation's CSAT as the app server's `/feedback/{groupId}` stores it.

    `rating` is on the app's scale (`csatRatingBase`, 3 or 5 in the widget; the
    2019 server validates 0-10). Fields beyond `rating` and `comments` are kept
    when present (UNCERTAIN, docs/wire.md#feedback).
    """

    group_id: int | str | None = None
    rating: int | None = None
    comments: list[str] = msgspec.field(default_factory=list[str])
    id: int | str | None = None
    type: int | str | None = None
    created_at: str | int | None = None
    updated_at: str | int | None = None
    support_agent_name: str | None = None


class CsatUserInfo(Model, frozen=True, kw_only=True):
    """`userInfo` of a CSAT post: who rated."""

    name: str
    user_id: str
    email: str | UnsetType = UNSET


class CsatBody(Model, frozen=True, kw_only=True):
    """`POST /feedback/v2` (Android `KmClientService.postConversationFeedback`)."""

    group_id: int
    rating: int
    comments: list[str]
    application_id: str
    support_agent_name: str | UnsetType = UNSET
    team_id: str | UnsetType = UNSET
    user_info: CsatUserInfo | UnsetType = UNSET
