"""How the CLI prints: lines for people by default, JSON documents with --json."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import msgspec

from .._codec import encode_str

if TYPE_CHECKING:
    from ..models.conversation import Conversation
    from ..models.message import Message
    from ..models.user import User

__all__ = ["Printer", "conversation_dict", "local_time", "message_dict", "user_dict"]


def local_time(epoch_ms: int | None) -> str:
    """Epoch milliseconds as this machine's local time, `2026-01-05 10:00:00`
    (`-` when unknown). JSON output keeps the milliseconds."""
    if not epoch_ms:
        return "-"
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def conversation_dict(conversation: Conversation) -> dict[str, Any]:
    """A conversation as plain data, with the fields derived from metadata."""
    data: dict[str, Any] = msgspec.structs.asdict(conversation)
    status = conversation.status
    data.update(
        assignee=conversation.assignee,
        status=None if status is None else status.name,
        team_id=conversation.team_id,
        info=conversation.info,
    )
    return data


def message_dict(message: Message) -> dict[str, Any]:
    """A message as plain data, with its sender."""
    data: dict[str, Any] = msgspec.structs.asdict(message)
    data["sender"] = message.sender
    return data


def user_dict(user: User) -> dict[str, Any]:
    """A user as plain data."""
    data: dict[str, Any] = msgspec.structs.asdict(user)
    return data


class Printer:
    """Writes results as text or JSON; errors always go to stderr as one line."""

    def __init__(
        self, *, json: bool, out: IO[str] | None = None, err: IO[str] | None = None
    ) -> None:
        self.json = json
        self._out = out or sys.stdout
        self._err = err or sys.stderr

    def line(self, text: str = "") -> None:
        """A line for people (suppressed in --json mode)."""
        if not self.json:
            print(text, file=self._out, flush=True)

    def document(self, data: object) -> None:
        """The machine-readable result (only in --json mode)."""
        if self.json:
            print(encode_str(data), file=self._out, flush=True)

    def error(self, kind: str, message: str) -> None:
        """One line on stderr, never a traceback."""
        if self.json:
            print(
                encode_str({"error": {"type": kind, "message": message}}),
                file=self._err,
            )
        else:
            print(f"kommunicate-async: {kind}: {message}", file=self._err)

    def conversation(self, conversation: Conversation, indent: str = "") -> None:
        """A conversation's key facts, one per line."""
        status = conversation.status
        client_id = conversation.client_conversation_id
        rows = [
            f"Conversation {conversation.id} (client id {client_id})",
            f"  title:    {conversation.title}",
            f"  members:  {', '.join(conversation.members)}",
            f"  assignee: {conversation.assignee or '-'}",
            f"  status:   {'-' if status is None else status.name}",
            f"  team:     {conversation.team_id or '-'}",
            f"  info:     {encode_str(conversation.info)}",
        ]
        for row in rows:
            self.line(indent + row)
