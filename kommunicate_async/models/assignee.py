"""The outcome of an assignee change."""

from __future__ import annotations

from enum import StrEnum

from .._compat import override

__all__ = ["AssignOutcome"]


class AssignOutcome(StrEnum):
    """What `group/assignee/change` answered (docs/wire.md#assignees).

    An answer the library does not know is kept as a pseudo-member whose value is
    the server's string, so a new outcome never breaks a caller.
    """

    UPDATED = "updated"
    ALREADY_ASSIGNED = "already updated"
    AGENT_BUSY = "AGENT_IS_ALREADY_ENGAGED"
    """The agent is at their concurrent-conversation limit; nothing changed."""

    @classmethod
    @override
    def _missing_(cls, value: object) -> AssignOutcome | None:
        if not isinstance(value, str):
            return None
        for member in cls:
            if member.value.lower() == value.strip().lower():
                return member
        pseudo = str.__new__(cls, value)
        pseudo._name_ = "UNKNOWN"
        pseudo._value_ = value
        return pseudo
