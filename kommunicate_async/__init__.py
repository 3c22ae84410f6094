"""kommunicate_async: an async-first client for the Kommunicate chat platform.

async with KommunicateSession() as km:
    conversation = await km.conversations.create(["user-1"], agent_ids=["agent@x.io"])
    await km.messages.send(conversation, "Hello!")

How a send, a bot request and a resumed batch travel through the code:
docs/internals.md.
"""

from msgspec import Struct as _Struct

from ._batch.batch import BatchOptions as BatchOptions
from ._batch.echoes import EchoStore as EchoStore
from ._batch.redis_echoes import RedisEchoStore as RedisEchoStore
from ._chat_auth import ChatAuth as ChatAuth
from ._config import (
    ConversationDefaults as ConversationDefaults,
    Retries as Retries,
    Timeouts as Timeouts,
)
from ._errors import (
    AgentBusyError as AgentBusyError,
    APIConnectionError as APIConnectionError,
    APIError as APIError,
    APITimeoutError as APITimeoutError,
    AuthenticationError as AuthenticationError,
    BatchStoppedError as BatchStoppedError,
    CheckpointError as CheckpointError,
    ConfigurationError as ConfigurationError,
    ConflictError as ConflictError,
    ConversationClosedError as ConversationClosedError,
    CoordinationError as CoordinationError,
    EventLoopError as EventLoopError,
    InvalidPayloadError as InvalidPayloadError,
    InvalidRequestError as InvalidRequestError,
    KommunicateError as KommunicateError,
    NotFoundError as NotFoundError,
    PermissionDeniedError as PermissionDeniedError,
    RateLimitError as RateLimitError,
    ResponseValidationError as ResponseValidationError,
    ServerError as ServerError,
    SessionClosedError as SessionClosedError,
    UploadRefusedError as UploadRefusedError,
)
from ._metadata import MetadataKey as MetadataKey
from ._raw import RawResponse as RawResponse
from ._session import KommunicateSession as KommunicateSession
from ._version import __version__ as __version__
from .models import (
    AgentStatus as AgentStatus,
    AssignOutcome as AssignOutcome,
    AuthenticationType as AuthenticationType,
    Availability as Availability,
    AwayMessage as AwayMessage,
    BatchReport as BatchReport,
    BusinessHours as BusinessHours,
    Conversation as Conversation,
    ConversationRef as ConversationRef,
    ConversationStatus as ConversationStatus,
    Csat as Csat,
    InboxPage as InboxPage,
    ItemResult as ItemResult,
    ItemStatus as ItemStatus,
    JSONValue as JSONValue,
    LoginResult as LoginResult,
    Message as Message,
    OutgoingMessage as OutgoingMessage,
    Progress as Progress,
    Receipt as Receipt,
    Role as Role,
    SentMessage as SentMessage,
    User as User,
    UserPage as UserPage,
    WaitingQueue as WaitingQueue,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AgentBusyError",
    "AgentStatus",
    "AssignOutcome",
    "AuthenticationError",
    "AuthenticationType",
    "Availability",
    "AwayMessage",
    "BatchOptions",
    "BatchReport",
    "BatchStoppedError",
    "BusinessHours",
    "ChatAuth",
    "CheckpointError",
    "ConfigurationError",
    "ConflictError",
    "Conversation",
    "ConversationClosedError",
    "ConversationDefaults",
    "ConversationRef",
    "ConversationStatus",
    "CoordinationError",
    "Csat",
    "EchoStore",
    "EventLoopError",
    "InboxPage",
    "InvalidPayloadError",
    "InvalidRequestError",
    "ItemResult",
    "ItemStatus",
    "JSONValue",
    "KommunicateError",
    "KommunicateSession",
    "LoginResult",
    "Message",
    "MetadataKey",
    "NotFoundError",
    "OutgoingMessage",
    "PermissionDeniedError",
    "Progress",
    "RateLimitError",
    "RawResponse",
    "Receipt",
    "RedisEchoStore",
    "ResponseValidationError",
    "Retries",
    "Role",
    "SentMessage",
    "ServerError",
    "SessionClosedError",
    "Timeouts",
    "UploadRefusedError",
    "User",
    "UserPage",
    "WaitingQueue",
]

# Reprs and tracebacks then read kommunicate_async.X, the name users import. Not for
# msgspec Structs: msgspec resolves their (string) annotations in `__module__`.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and not issubclass(_obj, _Struct):
        _obj.__module__ = __name__
