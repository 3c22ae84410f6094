"""Every public model (msgspec Structs) and enumeration."""

from __future__ import annotations

from .._public import claim
from ._base import JSONValue
from .agent import AgentStatus, Availability, Role, UserPage
from .assignee import AssignOutcome
from .auth import AuthenticationType
from .batch import BatchReport, ItemResult, ItemStatus, OutgoingMessage, Progress
from .business_hours import AwayMessage, BusinessHours
from .conversation import Conversation, ConversationRef, ConversationStatus
from .feedback import Csat
from .inbox import InboxPage, Receipt, WaitingQueue
from .message import Message, SentMessage
from .user import LoginResult, User

__all__ = [
    "AgentStatus",
    "AssignOutcome",
    "AuthenticationType",
    "Availability",
    "AwayMessage",
    "BatchReport",
    "BusinessHours",
    "Conversation",
    "ConversationRef",
    "ConversationStatus",
    "Csat",
    "InboxPage",
    "ItemResult",
    "ItemStatus",
    "JSONValue",
    "LoginResult",
    "Message",
    "OutgoingMessage",
    "Progress",
    "Receipt",
    "Role",
    "SentMessage",
    "User",
    "UserPage",
    "WaitingQueue",
]

claim(__name__, globals())  # reprs and tracebacks read the public path
