"""Every public model (msgspec Structs) and enumeration."""

from __future__ import annotations

from ._base import JSONValue
from .assignee import AssignOutcome
from .conversation import Conversation, ConversationRef, ConversationStatus
from .message import Message, SentMessage
from .user import LoginResult, User

__all__ = [
    "AssignOutcome",
    "Conversation",
    "ConversationRef",
    "ConversationStatus",
    "JSONValue",
    "LoginResult",
    "Message",
    "SentMessage",
    "User",
]
