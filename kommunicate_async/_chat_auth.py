"""Credentials for the chat host's `/rest/ws/*` paths, as Kommunicate's own server
sends them (docs/wire.md#hosts).

By default those paths (group info/filter/members, message list, read marks) go to
the Platform host with `Api-Key` + `Of-User-Id`, which no public source confirms
(UNCERTAIN). Kommunicate's own backend called them on the chat host with the
application admin's or a bot's Basic credentials: `ChatAuth` is that alternative.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Literal

from ._compat import override
from ._errors import ConfigurationError
from ._validate import check_header_value

__all__ = ["ChatAuth"]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True, slots=True)
class ChatAuth:
    """Admin or bot credentials for the chat host. The password never shows.

    KommunicateSession(app_id="…", chat_auth=ChatAuth.bot("bot-id", "secret"))
    """

    kind: Literal["admin", "bot"]
    user: str
    password: str = field(repr=False)

    @classmethod
    def admin(cls, email: str, password: str) -> ChatAuth:
        """The application admin: `Apz-AppId` + `Apz-Token: Basic …` +
        `Apz-Product-App: true` (as Kommunicate's own server sends them)."""
        return cls._checked("admin", email, password)

    @classmethod
    def bot(cls, user_id: str, password: str) -> ChatAuth:
        """An application bot: `Application-Key` + `Authorization: Basic …`."""
        return cls._checked("bot", user_id, password)

    @classmethod
    def _checked(
        cls, kind: Literal["admin", "bot"], user: str, password: str
    ) -> ChatAuth:
        try:
            check_header_value(user, f"ChatAuth.{kind} user")
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        if not password or not isinstance(password, str):
            raise ConfigurationError(f"ChatAuth.{kind} needs a non-empty password")
        if ":" in user:
            raise ConfigurationError("a Basic-auth user name cannot contain ':'")
        return cls(kind, user, password)

    def headers(self, app_id: str) -> dict[str, str]:
        """The auth headers of one chat-host request."""
        token = _basic(self.user, self.password)
        if self.kind == "admin":
            # Kommunicate's 2019 server (Web SDK repository, server/src/utils/
            # applozicClient.js L318-328) adds Apz-Product-App to admin calls.
            return {"Apz-AppId": app_id, "Apz-Token": token, "Apz-Product-App": "true"}
        return {"Application-Key": app_id, "Authorization": token}

    def secrets(self) -> tuple[str, ...]:
        """What must never appear in an error: the password and the Basic token."""
        token = _basic(self.user, self.password)
        return (self.password, token, token.removeprefix("Basic "))

    @override
    def __repr__(self) -> str:
        return f"ChatAuth.{self.kind}({self.user!r}, password='***')"
