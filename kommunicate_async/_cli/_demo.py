"""`kommunicate-async demo`: the main path, on the embedded fake unless --live."""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from .. import rich
from .._config import ENV_API_KEY, ConversationDefaults
from .._errors import ConfigurationError
from ..models.conversation import ConversationStatus
from ._commands import session_from_args
from ._output import Printer, conversation_dict, message_dict, user_dict

if TYPE_CHECKING:
    import argparse

    from .._session import KommunicateSession
    from ..rich import RichMessage

__all__ = ["run_demo"]

_FAKE_AGENTS = ("alice@support.example", "bob@support.example")
_BOT = "bot"


async def run_demo(args: argparse.Namespace, out: Printer) -> int:
    """Create, talk, hand off, read, resolve; print each step."""
    has_key = bool(os.environ.get(ENV_API_KEY, "").strip())
    async with AsyncExitStack() as stack:
        if args.live:
            if not has_key:
                raise ConfigurationError(f"--live needs {ENV_API_KEY} set")
            if not args.agent:
                raise ConfigurationError(
                    "--live needs --agent ID (an agent of your account)"
                )
            km = await stack.enter_async_context(session_from_args(args))
            out.line(f"Running against {km.config.base_url} (live).")
        else:
            from ..testing import FakeKommunicate

            fake = await stack.enter_async_context(FakeKommunicate())
            why = "--live not given" if has_key else f"no {ENV_API_KEY} set"
            out.line(
                f"Running against the embedded FakeKommunicate at {fake.url} ({why})."
            )
            km = await stack.enter_async_context(
                session_from_args(
                    args,
                    api_key=fake.api_key,
                    app_id=fake.app_id,
                    base_url=fake.url,
                    chat_url=fake.url,
                )
            )
        report = await _walk(
            km, args.customer, args.agent or list(_FAKE_AGENTS), out, live=args.live
        )
    out.document(report)
    return 0


async def _walk(
    km: KommunicateSession,
    customer: str,
    agents: list[str],
    out: Printer,
    *,
    live: bool,
) -> dict[str, Any]:
    first_agent, handoff_agent = agents[0], agents[-1]
    # A made-up team would misroute a real account's conversation: fake server only.
    km.defaults = ConversationDefaults(
        bot_ids=[_BOT], team_id=None if live else "support"
    )
    out.line(
        "\n1. Create a conversation (agents, a bot, an assignee, a team, info): "
        "km.conversations.create"
    )
    chat = await km.conversations.create(
        [customer],
        agent_ids=agents,
        assignee=_BOT,
        title="Order #991 has not arrived",
        info={"order": 991, "plan": "gold"},
        metadata={"channel": "demo"},
    )
    out.line(
        f"   created {chat.id}: assignee={chat.assignee} team={chat.team_id} "
        f"members={', '.join(chat.members)}"
    )

    out.line(
        "\n2. Send messages with metadata and a rich message: km.messages.send, "
        "rich.suggested_replies"
    )
    sends: list[tuple[str, str | RichMessage, dict[str, object] | None]] = [
        (customer, "Hi, my order #991 has not arrived.", {"orderId": 991}),
        (
            _BOT,
            rich.suggested_replies(
                "Sorry to hear that! Want to talk to a person?", ["Yes please", "No"]
            ),
            None,
        ),
        (customer, "Yes please", None),
    ]
    for sender, outgoing, metadata in sends:
        sent = await km.messages.send(chat, outgoing, sender=sender, metadata=metadata)
        out.line(f"   {sender:>22} -> {str(outgoing)!r}  [{sent.key}]")

    out.line(f"\n3. Hand off from the bot to {handoff_agent}: km.assignees.change")
    outcome = await km.assignees.change(chat, handoff_agent)
    out.line(f"   assignee change: {outcome.name}")
    again = await km.assignees.change(chat, handoff_agent)
    out.line(f"   asking again:    {again.name}")
    await km.messages.send(
        chat, "Hi, I'm on it: a new parcel ships today.", sender=handoff_agent
    )

    out.line(
        "\n4. Read the conversation, the assignee and unread counts: "
        "km.conversations.get, km.assignees.get, km.messages.list, km.unread.counts, "
        "km.unread.mark_read"
    )
    current = await km.conversations.get(chat.id)
    out.conversation(current, indent="   ")
    assignee = await km.assignees.get(chat)
    out.line(
        f"   assignee details: {assignee.user_id if assignee else '-'} "
        f"(unread {assignee.unread_count if assignee else 0})"
    )
    history = [m async for m in km.messages.list(chat, page_size=2)]
    out.line(f"   history, newest first ({len(history)} messages):")
    for message in history:
        out.line(f"     {message.sender or '?':>22}: {message.text}")
    people = [customer, first_agent, handoff_agent]
    before = await km.unread.counts(people)
    out.line(f"   unread: {before}")
    await km.unread.mark_read(chat, customer)
    after = await km.unread.counts(people)
    out.line(f"   after {customer} reads it: {after}")

    out.line("\n5. Resolve it: km.conversations.set_status")
    await km.conversations.set_status(chat, ConversationStatus.RESOLVED)
    resolved = await km.conversations.get(chat.id)
    status = resolved.status
    out.line(f"   status: {status.name if status else '-'}")
    out.line(
        "\nDone: every step above went over HTTP through KommunicateSession "
        "(the code: kommunicate_async/_cli/_demo.py)."
    )
    return {
        "conversation": conversation_dict(resolved),
        "assign_outcomes": [outcome.name, again.name],
        "assignee": user_dict(assignee) if assignee else None,
        "history": [message_dict(m) for m in history],
        "unread_before": before,
        "unread_after": after,
    }
