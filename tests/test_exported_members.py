from __future__ import annotations

import importlib
import types

import msgspec
import pytest

import kommunicate_async


def test_all_is_the_sorted_public_namespace() -> None:
    public = {
        name
        for name, value in vars(kommunicate_async).items()
        if not name.startswith("_") and not isinstance(value, type(kommunicate_async))
    }
    assert kommunicate_async.__all__ == sorted(kommunicate_async.__all__)
    assert set(kommunicate_async.__all__) == public


def test_public_classes_report_the_package_as_their_module() -> None:
    assert repr(kommunicate_async.KommunicateSession).endswith(
        "'kommunicate_async.KommunicateSession'>"
    )
    assert kommunicate_async.NotFoundError.__module__ == "kommunicate_async"


@pytest.mark.slow
def test_the_package_root_never_imports_the_testing_server() -> None:
    import subprocess
    import sys

    code = "import kommunicate_async, sys; print('kommunicate_async.testing' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_every_exported_struct_can_build_its_decoder() -> None:
    import msgspec

    for name in kommunicate_async.__all__:
        obj = getattr(kommunicate_async, name)
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
            msgspec.json.Decoder(obj)  # resolves every field annotation


PUBLIC_ALL: dict[str, list[str]] = {
    "kommunicate_async": [
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
    ],
    "kommunicate_async.models": [
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
    ],
    "kommunicate_async.resources": [
        "Agents",
        "Assignees",
        "BusinessHoursResource",
        "Conversations",
        "CsatResource",
        "Inbox",
        "Messages",
        "Unread",
        "Users",
    ],
    "kommunicate_async.rich": [
        "LIMITS",
        "Button",
        "Card",
        "Choice",
        "Field",
        "FormField",
        "FormSubmit",
        "Hidden",
        "Image",
        "Link",
        "LinkButton",
        "ListItem",
        "Options",
        "QuickReply",
        "RichContent",
        "RichMessage",
        "RichTextWarning",
        "Submit",
        "TemplateId",
        "Video",
        "auto_suggest",
        "card",
        "carousel",
        "faq",
        "form",
        "html",
        "images",
        "item_list",
        "link_buttons",
        "load_rich",
        "mixed_buttons",
        "read_rich",
        "submit_button",
        "suggested_replies",
        "video",
    ],
    "kommunicate_async.bots": [
        "MAX_BODY",
        "MAX_DEPTH",
        "WEBHOOK_HEADER",
        "Attachment",
        "BotApp",
        "BotContext",
        "BotRequest",
        "BotResponse",
        "CallNext",
        "ConversationState",
        "Kind",
        "MemoryReplyStore",
        "MemoryStateStore",
        "Middleware",
        "Replies",
        "Reply",
        "ReplyRecord",
        "ReplyStore",
        "Router",
        "StateConflictError",
        "StateStore",
        "Undelivered",
        "WebhookContext",
        "WebhookFile",
        "WebhookMessage",
        "dedupe_key",
        "filters",
        "is_system",
        "parse_bot_request",
        "parse_webhook_message",
    ],
    "kommunicate_async.bots.filters": [
        "any_of",
        "attachment",
        "form",
        "locale",
        "location",
        "metadata",
        "negate",
        "regex",
        "text",
    ],
    "kommunicate_async.bots.redis": ["Begun", "RedisReplyStore", "RedisStateStore"],
    "kommunicate_async.testing": [
        "BotDelivery",
        "BotReplicas",
        "BotTestFlow",
        "FakeGroup",
        "FakeKommunicate",
        "FakeMessage",
        "FakeState",
        "FakeUser",
        "Fault",
        "FaultPlan",
        "KongLimit",
        "LoggedRequest",
        "ReplicaDelivery",
        "RouteFaults",
        "RunningBot",
        "VirtualClock",
        "serve_bot",
    ],
    "kommunicate_async.scaleout": [
        "BatchStore",
        "Begin",
        "CheckpointLine",
        "CoordinationError",
        "LocalRateLimit",
        "RateLimiter",
        "Uncertain",
    ],
    "kommunicate_async.handoff": [
        "DEFAULT_OFFLINE_MESSAGE",
        "HandoffDecision",
        "HandoffPolicy",
        "HandoffStep",
        "OfflineAction",
    ],
    "kommunicate_async.scaleout.temporal": [
        "TASK_QUEUE",
        "CampaignActivities",
        "CampaignHandle",
        "CampaignProblem",
        "CampaignProgress",
        "CampaignReport",
        "CampaignSpec",
        "CampaignWorkflow",
        "ChunkRange",
        "ChunkReader",
        "ChunkReport",
        "ChunkSpan",
        "ChunkTask",
        "Control",
        "ControlledRateLimit",
        "campaign_handle",
        "campaign_worker",
        "chunk_key",
        "plan_jsonl",
        "read_jsonl_chunk",
        "start_campaign",
        "start_spec",
    ],
}
"""Every public package's `__all__`, pinned: a change here is an API change."""


@pytest.mark.parametrize("package", sorted(PUBLIC_ALL))
def test_every_public_package_exports_exactly_its_pinned_names(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == PUBLIC_ALL[package]
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name}"


@pytest.mark.parametrize("package", sorted(PUBLIC_ALL))
def test_exported_classes_and_functions_show_a_public_path(package: str) -> None:
    """Reprs and tracebacks name the package users import from, never a private
    module; msgspec Structs keep their defining module (msgspec resolves their
    annotations there), which lies under the package. Temporal's names keep
    theirs: its workflow sandbox re-imports a workflow by its defining module."""
    if package == "kommunicate_async.scaleout.temporal":
        pytest.skip("Temporal re-imports workflows by their defining module")
    module = importlib.import_module(package)
    for name in module.__all__:
        obj = getattr(module, name)
        if not isinstance(obj, type | types.FunctionType):
            continue  # constants and type aliases have no __module__ of their own
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
            assert obj.__module__.startswith("kommunicate_async"), name
            continue
        owner = obj.__module__
        assert owner in PUBLIC_ALL, f"{package}.{name} reports {owner}"
        assert getattr(importlib.import_module(owner), name) is obj
        assert name in PUBLIC_ALL[owner]
