"""Every public model (msgspec Structs) and enumeration."""

from __future__ import annotations

from .._public import claim
from ._base import JSONValue
from .assignee import AssignOutcome
from .auth import AuthenticationType
from .batch import BatchReport, ItemResult, ItemStatus, OutgoingMessage, Progress
from .conversation import Conversation, ConversationRef, ConversationStatus
from .message import Message, SentMessage
from .user import LoginResult, User

__all__ = [
    "AuthenticationType",
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

claim(__name__, globals())  # reprs and tracebacks read the public path
