"""The resource classes behind `km.conversations`, `km.messages`, … ."""

from __future__ import annotations

from .._public import claim
from .agents import Agents
from .assignees import Assignees
from .business_hours import BusinessHoursResource
from .conversations import Conversations
from .csat import CsatResource
from .inbox import Inbox
from .messages import Messages
from .unread import Unread
from .users import Users

__all__ = [
    "Agents",
    "Assignees",
    "BusinessHoursResource",
    "Conversations",
    "CsatResource",
    "Inbox",
    "Messages",
    "Unread",
    "Users",
]

claim(__name__, globals())  # reprs and tracebacks read the public path
