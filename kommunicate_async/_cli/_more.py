"""The `agents`, `hours`, `csat` and `messages info|delete` subcommands (#22)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    import argparse

    from .._session import KommunicateSession
    from ._output import Printer

__all__ = ["add_parsers", "run_more"]


def add_parsers(sub: Any, common: argparse.ArgumentParser, messages_sub: Any) -> None:
    """Register the subcommands on the main parser."""
    agents = sub.add_parser("agents", help="agents and their availability")
    agents_sub = agents.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = agents_sub.add_parser("list", parents=[common], help="agents by role")
    listing.add_argument(
        "--role",
        action="append",
        default=None,
        metavar="ROLE",
        help="APPLICATION_WEB_ADMIN (agents, default), APPLICATION_ADMIN, BOT, USER",
    )
    agents_sub.add_parser("status", parents=[common], help="who is online or away")
    hours = sub.add_parser("hours", parents=[common], help="a team's business hours")
    hours.add_argument("team", nargs="?", default=None, help="team id or name")
    csat = sub.add_parser("csat", help="customer satisfaction ratings")
    csat_sub = csat.add_subparsers(dest="action", required=True, metavar="ACTION")
    csat_get = csat_sub.add_parser(
        "get", parents=[common], help="a conversation's CSAT"
    )
    csat_get.add_argument("conversation", help="groupId (digits) or clientGroupId")
    info = messages_sub.add_parser(
        "info", parents=[common], help="who received and read a message"
    )
    info.add_argument("key", help="the message key")
    delete = messages_sub.add_parser(
        "delete", parents=[common], help="delete a message"
    )
    delete.add_argument("key", help="the message key")
    delete.add_argument(
        "--for-all", action="store_true", help="delete it for every member"
    )


async def run_more(
    km: KommunicateSession, args: argparse.Namespace, out: Printer
) -> bool:
    """Run one of these subcommands; False if `args` names another."""
    command, action = args.command, getattr(args, "action", None)
    if command == "agents" and action == "list":
        page = await km.agents.list(args.role or ["APPLICATION_WEB_ADMIN"])
        for user in page.users:
            out.line(
                f"{user.user_id}: {user.display_name or '-'} <{user.email or '-'}>"
            )
        out.document([_plain(u) for u in page.users])
    elif command == "agents":
        found = await km.agents.availability()
        out.line(f"online: {', '.join(found.online) or '-'}")
        out.line(f"away: {', '.join(found.away) or '-'}")
        out.document({"online": found.online, "away": found.away})
    elif command == "hours":
        hours = await km.business_hours.get(args.team)
        name = hours.team_name or hours.team_id or "default team"
        state = "open" if hours.is_open() else "closed"
        out.line(f"{name}: {state} now ({hours.timezone or 'no timezone'})")
        for day, span in sorted((hours.business_hour_map or {}).items()):
            out.line(f"  day {day}: {span}")
        if hours.message:
            out.line(f"  away message: {hours.message}")
        out.document({**_plain(hours), "open": hours.is_open()})
    elif command == "csat":
        text = args.conversation
        ref: int | str = int(text) if text.isdigit() and int(text) > 0 else text
        csat = await km.csat.get(ref)
        if csat is None:
            out.line("no rating")
        else:
            out.line(f"rating {csat.rating}: {'; '.join(csat.comments) or '-'}")
        out.document(None if csat is None else _plain(csat))
    elif command == "messages" and action == "info":
        receipts = await km.messages.info(args.key)
        for receipt in receipts:
            state = (
                "read" if receipt.read else "delivered" if receipt.delivered else "sent"
            )
            out.line(f"{receipt.user_id}: {state}")
        out.document(
            [{**_plain(r), "read": r.read, "delivered": r.delivered} for r in receipts]
        )
    elif command == "messages" and action == "delete":
        await km.messages.delete(args.key, for_all=args.for_all)
        out.line(f"deleted {args.key}" + (" for everyone" if args.for_all else ""))
        out.document({"key": args.key, "deleted": True, "for_all": args.for_all})
    else:
        return False
    return True


def _plain(value: object) -> dict[str, Any]:
    """A model as JSON-ready builtins (its wire names)."""
    found: dict[str, Any] = msgspec.to_builtins(value)
    return found
