"""The `send`, `conversation` and `unread` subcommands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .._config import Timeouts
from .._errors import InvalidRequestError
from .._session import KommunicateSession
from ..models.conversation import ConversationStatus
from ..rich import RichMessage, load_rich
from ._more import run_more
from ._output import Printer, conversation_dict, local_time, message_dict, user_dict

if TYPE_CHECKING:
    import argparse

__all__ = ["parse_ref", "run_command", "session_from_args"]


def session_from_args(args: argparse.Namespace, **overrides: Any) -> KommunicateSession:
    """A session from the environment and the common flags."""
    options: dict[str, Any] = {
        "app_id": args.app_id,
        "base_url": args.base_url,
        "chat_url": args.chat_url,
        "on_behalf_of": args.on_behalf_of,
        "timeout": Timeouts(
            connect=min(10.0, args.timeout),
            attempt=args.timeout,
            total=args.timeout * 3,
        ),
        **overrides,
    }
    return KommunicateSession(**options)


def parse_ref(text: str) -> int | str:
    """Digits are a groupId; anything else is a clientGroupId."""
    return int(text) if text.isdigit() and int(text) > 0 else text


def json_object(text: str | None, what: str) -> dict[str, Any] | None:
    """A JSON object from a flag, or a clear InvalidRequestError."""
    if text is None:
        return None
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise InvalidRequestError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRequestError(f"{what} must be a JSON object")
    return value  # pyright: ignore[reportUnknownVariableType]


def parse_status(text: str) -> ConversationStatus:
    """A status by name (any case) or number."""
    name = text.strip().upper()
    if name in ConversationStatus.__members__:
        return ConversationStatus[name]
    try:
        return ConversationStatus(int(name))
    except ValueError:
        names = ", ".join(n.lower() for n in ConversationStatus.__members__)
        raise InvalidRequestError(
            f"unknown status {text!r}; use a number or one of {names}"
        ) from None


def read_rich_file(path: str) -> RichMessage:
    """A checked rich message from a JSON file (InvalidRequestError names the file)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return load_rich(data)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{path}: {exc}") from None


def lint_rich(args: argparse.Namespace, out: Printer) -> int:
    """`rich lint FILE...`: 0 when every file is a valid template, else 2."""
    results: list[dict[str, object]] = []
    for path in args.files:
        try:
            message = read_rich_file(path)
        except InvalidRequestError as exc:
            out.line(f"invalid: {exc}")
            results.append({"file": path, "ok": False, "error": str(exc)})
        else:
            out.line(f"{path}: ok (template {message.template_id or '-'})")
            results.append({"file": path, "ok": True, "template": message.template_id})
    out.document(results)
    return 0 if all(r["ok"] for r in results) else 2


def _message_arg(args: argparse.Namespace) -> str | RichMessage:
    if args.rich is None:
        if args.text is None:
            raise InvalidRequestError("give the text, or --rich FILE")
        return str(args.text)
    message = read_rich_file(args.rich)
    if args.text is not None:  # the command line's text wins over the file's
        message = RichMessage.from_metadata(
            args.text, message.metadata, html=message.html
        )
    return message


async def run_command(args: argparse.Namespace, out: Printer) -> int:
    """Run send / conversation / unread; returns the exit code."""
    if args.command == "rich":
        return lint_rich(args, out)
    message = _message_arg(args) if args.command == "send" else None
    async with session_from_args(args) as km:
        if await run_more(km, args, out):
            return 0
        if message is not None:
            sent = await km.messages.send(
                parse_ref(args.conversation),
                message,
                sender=args.sender,
                metadata=json_object(args.metadata, "--metadata"),
            )
            out.line(f"sent {sent.key}")
            out.document({"key": sent.key, "created_at": sent.created_at})
        elif args.command == "messages":
            await _history(km, parse_ref(args.conversation), args.limit, out)
        elif args.command == "users":
            user = await km.users.get(args.user)
            out.line(
                f"{user.user_id}: {user.display_name or '-'} "
                f"<{user.email or '-'}> unread {user.unread_count}"
            )
            out.document(user_dict(user))
        elif args.command == "unread":
            counts = await km.unread.counts(args.users)
            for user in args.users:
                out.line(
                    f"{user}: {counts[user]}"
                    if user in counts
                    else f"{user}: (unknown user)"
                )
            out.document(counts)
        else:
            await _conversation(km, args, out)
    return 0


async def _history(
    km: KommunicateSession, ref: int | str, limit: int, out: Printer
) -> None:
    if limit < 1:
        raise InvalidRequestError("--limit must be at least 1")
    shown: list[dict[str, Any]] = []
    async for message in km.messages.list(ref, page_size=min(limit, 50)):
        when = local_time(message.created_at)
        out.line(f"{when} {message.sender or '?'}: {message.text}")
        shown.append(message_dict(message))
        if len(shown) >= limit:
            break
    out.document(shown)


async def _conversation(
    km: KommunicateSession, args: argparse.Namespace, out: Printer
) -> None:
    ref = parse_ref(args.conversation) if hasattr(args, "conversation") else None
    if args.action == "create":
        make = (
            km.conversations.get_or_create
            if args.get_or_create
            else km.conversations.create
        )
        conversation = await make(
            args.member,
            agent_ids=args.agent,
            bot_ids=args.bot,
            assignee=args.assignee,
            team_id=args.team,
            client_conversation_id=args.client_id,
            title=args.title,
            info=json_object(args.info, "--info"),
            metadata=json_object(args.metadata, "--metadata"),
        )
    elif args.action == "assign":
        assert ref is not None
        outcome = await km.assignees.change(
            ref,
            args.assignee,
            notify=not args.no_notify,
            take_over_from_bot=not args.keep_bots,
        )
        out.line(f"assign {args.assignee}: {outcome.name} ({outcome.value})")
        out.document({"outcome": outcome.name, "server": outcome.value})
        return
    elif args.action == "status":
        assert ref is not None
        status = parse_status(args.status)
        await km.conversations.set_status(ref, status)
        out.line(f"status set to {status.name}")
        out.document({"status": status.name, "code": int(status)})
        return
    else:
        assert ref is not None
        conversation = await km.conversations.get(ref)
    out.conversation(conversation)
    out.document(conversation_dict(conversation))
