"""kommunicate_async: an async-first client for the Kommunicate chat platform.

async with KommunicateSession() as km:
    conversation = await km.conversations.create(["user-1"], agent_ids=["agent@x.io"])
    await km.messages.send(conversation, "Hello!")
"""

from ._config import ConversationDefaults as ConversationDefaults, Timeouts as Timeouts
from ._errors import (
    APIConnectionError as APIConnectionError,
    APIError as APIError,
    APITimeoutError as APITimeoutError,
    AuthenticationError as AuthenticationError,
    ConfigurationError as ConfigurationError,
    ConflictError as ConflictError,
    InvalidRequestError as InvalidRequestError,
    KommunicateError as KommunicateError,
    NotFoundError as NotFoundError,
    PermissionDeniedError as PermissionDeniedError,
    RateLimitError as RateLimitError,
    ResponseValidationError as ResponseValidationError,
    ServerError as ServerError,
    SessionClosedError as SessionClosedError,
)
from ._metadata import MetadataKey as MetadataKey
from ._session import KommunicateSession as KommunicateSession
from ._version import __version__ as __version__
from .models import (
    AssignOutcome as AssignOutcome,
    Conversation as Conversation,
    ConversationRef as ConversationRef,
    ConversationStatus as ConversationStatus,
    JSONValue as JSONValue,
    LoginResult as LoginResult,
    Message as Message,
    SentMessage as SentMessage,
    User as User,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AssignOutcome",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "Conversation",
    "ConversationDefaults",
    "ConversationRef",
    "ConversationStatus",
    "InvalidRequestError",
    "JSONValue",
    "KommunicateError",
    "KommunicateSession",
    "LoginResult",
    "Message",
    "MetadataKey",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "SentMessage",
    "ServerError",
    "SessionClosedError",
    "Timeouts",
    "User",
]

# Reprs and tracebacks then read kommunicate_async.X, the name users import.
for _name in __all__:
    if isinstance(_obj := globals()[_name], type):
        _obj.__module__ = __name__
