"""Every public model (msgspec Structs) and enumeration."""

from __future__ import annotations

from ._base import JSONValue
from .assignee import AssignOutcome
from .batch import BatchReport, ItemResult, ItemStatus, OutgoingMessage, Progress
from .conversation import Conversation, ConversationRef, ConversationStatus
from .message import Message, SentMessage
from .user import LoginResult, User

__all__ = [
    "AssignOutcome",
    "BatchReport",
    "Conversation",
    "ConversationRef",
    "ConversationStatus",
    "ItemResult",
    "ItemStatus",
    "JSONValue",
    "LoginResult",
    "Message",
    "OutgoingMessage",
    "Progress",
    "SentMessage",
    "User",
]
