"""The resource classes behind `km.conversations`, `km.messages`, … ."""

from __future__ import annotations

from .._public import claim
from .assignees import Assignees
from .conversations import Conversations
from .messages import Messages
from .unread import Unread
from .users import Users

__all__ = ["Assignees", "Conversations", "Messages", "Unread", "Users"]

claim(__name__, globals())  # reprs and tracebacks read the public path
