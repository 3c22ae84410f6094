"""`km.csat`: read and post a conversation's CSAT (docs/wire.md#feedback)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, cast

from .._codec import encode
from .._errors import InvalidRequestError
from .._pipeline.routing import Host, Route
from .._validate import check_id, check_int, check_text
from ..models._base import UNSET
from ..models.feedback import Csat, CsatBody, CsatUserInfo
from ._app import require_app_id
from ._base import Resource
from ._loose import call_loose, convert

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..models.conversation import ConversationRef

__all__ = ["CsatResource"]

POST: Final = Route("POST", "/feedback/v2", Host.APP, idempotent=False)
PLUGIN_SETTINGS: Final = Route("GET", "/users/v3/chat/plugin/settings", Host.APP)
DEFAULT_RATING_BASE: Final = 3
"""The widget's scale when the settings name none (Android `KmAppSettingModel`)."""
RATING_BASES: Final = (3, 5, 10)
"""Scales the widget knows (`csatRatingBase` 3 or 5) plus the 0-10 the server takes."""
SERVER_MAX: Final = 10
"""The 2019 server's `feedbackValidator.js`: `rating` 0-10."""


class CsatResource(Resource):
    """Customer satisfaction ratings."""

    __slots__ = ()

    async def get(self, ref: ConversationRef) -> Csat | None:
        """The conversation's CSAT (`GET /feedback/{groupId}`), None if not rated."""
        group_id = await self._ctx.group_id(ref)
        route = Route(
            "GET", f"/feedback/{group_id}", Host.APP, template="/feedback/{groupId}"
        )
        return await call_loose(self._ctx, route, Csat, "feedback")

    async def rating_base(self) -> int:
        """The app's CSAT scale, `chatWidget.csatRatingBase` of the plugin settings
        (`GET /users/v3/chat/plugin/settings?appId=`; 3 when absent)."""
        params: dict[str, str | int] = {
            "appId": require_app_id(self._ctx, "csat.rating_base")
        }
        found: object = await call_loose(
            self._ctx, PLUGIN_SETTINGS, Any, "plugin settings", params=params
        )
        widget = (
            cast("dict[str, object]", found).get("chatWidget")
            if isinstance(found, dict)
            else None
        )
        base = (
            cast("dict[str, object]", widget).get("csatRatingBase")
            if isinstance(widget, dict)
            else None
        )
        if isinstance(base, str) and base.strip().isdigit():
            base = int(base)
        return (
            base
            if isinstance(base, int) and not isinstance(base, bool) and base > 0
            else DEFAULT_RATING_BASE
        )

    async def post(
        self,
        ref: ConversationRef,
        rating: int,
        *,
        base: int = 5,
        comments: str | Iterable[str] = (),
        user_id: str,
        user_name: str | None = None,
        user_email: str | None = None,
        agent_id: str | None = None,
        team_id: str | int | None = None,
        send_as_message: bool = True,
    ) -> Csat | None:
        """Post (or replace: a second post updates) the CSAT of a conversation.

        `POST /feedback/v2?sendAsMessage=true` on the app server, as the Android
        SDK sends it. The rating is sent as given, on the `base` scale.

        Args:
            ref: the conversation.
            rating: 1..`base` (0 allowed: the server takes 0-10).
            base: the app's scale, 3, 5 or 10 (`chatWidget.csatRatingBase`).
            comments: one comment or several.
            user_id: who rated (`userInfo.userId`).
            user_name: their name (`userInfo.name`; the user id if None).
            user_email: their e-mail, if known.
            agent_id: the assignee rated (`supportAgentName`).
            team_id: the conversation's team.
            send_as_message: also show the rating in the conversation
                (`sendAsMessage=true`; its exact effect is UNCERTAIN).

        Returns:
            The stored CSAT when the reply carries it.
        """
        texts = _checked_rating(rating, base, comments)
        check_id(user_id, "user_id")
        if not isinstance(send_as_message, bool):
            raise InvalidRequestError("send_as_message must be a bool")
        group_id = await self._ctx.group_id(ref)
        body = CsatBody(
            group_id=group_id,
            rating=rating,
            comments=texts,
            application_id=require_app_id(self._ctx, "csat.post"),
            support_agent_name=UNSET
            if agent_id is None
            else check_id(agent_id, "agent_id"),
            team_id=UNSET if team_id is None else check_id(str(team_id), "team_id"),
            user_info=_user_info(user_id, user_name, user_email),
        )
        params: dict[str, str | int] = {
            "sendAsMessage": "true" if send_as_message else "false"
        }
        stored: object = await call_loose(
            self._ctx, POST, Any, "feedback/v2", params=params, body=encode(body)
        )
        return _stored_csat(stored)


def _checked_rating(rating: int, base: int, comments: str | Iterable[str]) -> list[str]:
    """Check the rating against its scale and the comments; the comments as a list."""
    if base not in RATING_BASES or isinstance(base, bool):
        raise InvalidRequestError(f"base must be one of {RATING_BASES}, got {base!r}")
    check_int(rating, "rating", minimum=0)
    if rating > base:
        raise InvalidRequestError(f"rating must be at most {base} (the base)")
    texts = [comments] if isinstance(comments, str) else list(comments)
    for text in texts:
        check_text(text, "comment")
    return texts


def _user_info(
    user_id: str, user_name: str | None, user_email: str | None
) -> CsatUserInfo:
    """Who rated; their name defaults to their id (as the Android SDK sends it)."""
    return CsatUserInfo(
        name=user_id if user_name is None else check_id(user_name, "user_name"),
        user_id=user_id,
        email=UNSET if user_email is None else check_id(user_email, "user_email"),
    )


def _stored_csat(stored: object) -> Csat | None:
    """The stored feedback in `feedback/v2`'s reply, if it carries one."""
    # The Web SDK reads the stored feedback at `data.data`: unwrap once more.
    if not isinstance(stored, dict):
        return None
    fields = cast("dict[str, object]", stored)
    if "rating" not in fields and isinstance(fields.get("data"), dict):
        fields = cast("dict[str, object]", fields["data"])
    return convert(fields, Csat, "feedback/v2")
