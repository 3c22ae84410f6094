"""The argument parser: one subcommand per job, common options on each."""

from __future__ import annotations

import argparse
from typing import Final, cast

from .._compat import override
from .._version import __version__
from ._more import add_parsers as add_more_parsers

__all__ = ["build_parser"]

_ENV_HELP = """\
configuration:
  KOMMUNICATE_API_KEY   the Platform API key (never passed as a flag: argv is public)
  KOMMUNICATE_APP_ID    the application id (user login only)
  KOMMUNICATE_BASE_URL  default https://services.kommunicate.io
  KOMMUNICATE_CHAT_URL  default https://chat.kommunicate.io
  KOMMUNICATE_LOG       debug (every request) or info (retries) to stderr

exit codes:
  0 ok, 1 the API refused, 2 bad usage or input, 3 configuration, 4 network or
  timeout, 5 a batch left items failed or ambiguous, 130 interrupted, 141 the
  reader of the output went away (a closed pipe)
"""


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log every request to stderr (as KOMMUNICATE_LOG=debug does)",
    )
    common.add_argument(
        "--base-url", help="Platform API URL (else KOMMUNICATE_BASE_URL)"
    )
    common.add_argument("--chat-url", help="chat host URL (else KOMMUNICATE_CHAT_URL)")
    common.add_argument("--app-id", help="application id (else KOMMUNICATE_APP_ID)")
    common.add_argument(
        "--on-behalf-of",
        default="bot",
        metavar="USER",
        help="Of-User-Id and default sender (default: bot)",
    )
    common.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="per-attempt timeout (default: 30)",
    )
    return common


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's default shown once: `(default: X)` is added only where the
    help does not say it already, and never for None, False or an empty list
    (argparse's ArgumentDefaultsHelpFormatter printed `(default: 3) (default:
    None)` for an option whose None means "the library's default")."""

    @override
    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "(default" in text or not _has_default(action):
            return text
        default: object = action.default
        if isinstance(default, float) and default.is_integer():
            default = int(default)
        shown = str(default).replace("%", "%%")
        return f"{text} (default: {shown})"


def _has_default(action: argparse.Action) -> bool:
    """An option whose default means something to show (not None, False, [])."""
    default: object = action.default
    if default is None or default is False or default is argparse.SUPPRESS:
        return False
    return bool(action.option_strings) and default != []


def _use_formatter(parser: argparse.ArgumentParser) -> None:
    """`HelpFormatter` for `parser` and every subcommand under it."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:  # argparse keeps subparsers only here
        choices: object = action.choices
        if isinstance(choices, dict):
            # a subparsers action: its choices are the subcommands' parsers
            for child in cast("dict[str, argparse.ArgumentParser]", choices).values():
                _use_formatter(child)


_DEFAULTS: Final = HelpFormatter


def _shard(text: str) -> tuple[int, int]:
    """`K/N` -> (k, n)."""
    k, sep, n = text.partition("/")
    if not sep or not k.isdigit() or not n.isdigit():
        raise argparse.ArgumentTypeError("--shard is K/N, e.g. 0/4")
    return int(k), int(n)


def build_parser() -> argparse.ArgumentParser:
    """The `kommunicate-async` parser."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog="kommunicate-async",
        description="Kommunicate from the command line, and a local fake server.",
        epilog=_ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", parents=[common], help="walk the main path (fake server unless --live)"
    )
    demo.add_argument(
        "--live",
        action="store_true",
        help="run against the real service (needs KOMMUNICATE_API_KEY)",
    )
    demo.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="ID",
        help="agent ids to use (with --live: agents of your account)",
    )
    demo.add_argument(
        "--customer", default="demo-customer", metavar="ID", help="the end user"
    )
    demo.formatter_class = _DEFAULTS

    doctor = sub.add_parser(
        "doctor",
        parents=[common],
        help="check the configuration; --live: which credentials work (read-only)",
        formatter_class=_DEFAULTS,
    )
    doctor.add_argument(
        "--live", action="store_true", help="call your account (read-only)"
    )
    doctor.add_argument(
        "--write-test",
        metavar="CONV",
        help="also send one test message to this conversation",
    )
    doctor.add_argument(
        "--admin",
        metavar="EMAIL",
        help="try ChatAuth.admin (password from KOMMUNICATE_ADMIN_PASSWORD)",
    )
    doctor.add_argument(
        "--user",
        metavar="USER",
        help="try a user token (password, if any, from KOMMUNICATE_USER_PASSWORD)",
    )

    send = sub.add_parser(
        "send", parents=[common], help="send one message", formatter_class=_DEFAULTS
    )
    send.add_argument("conversation", help="groupId (digits) or clientGroupId")
    send.add_argument("text", nargs="?", help="the text (optional with --rich)")
    send.add_argument(
        "--rich",
        metavar="FILE",
        help='a rich template as JSON ({"message", "metadata"}), checked first',
    )
    send.add_argument(
        "--sender", metavar="USER", help="fromUserName (default: --on-behalf-of)"
    )
    send.add_argument(
        "--metadata", metavar="JSON", help="message metadata as a JSON object"
    )

    conv = sub.add_parser("conversation", help="create, get, assign, set status")
    conv_sub = conv.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = conv_sub.add_parser(
        "create", parents=[common], help="create a conversation"
    )
    create.add_argument(
        "--member",
        action="append",
        required=True,
        metavar="USER",
        help="an end user (repeat for several)",
    )
    create.add_argument(
        "--agent", action="append", default=None, metavar="ID", help="an agent"
    )
    create.add_argument(
        "--bot", action="append", default=None, metavar="ID", help="a bot"
    )
    create.add_argument("--assignee", metavar="ID", help="assign to (skips the rules)")
    create.add_argument("--team", metavar="ID", help="the team id")
    create.add_argument("--client-id", metavar="ID", help="your clientGroupId for it")
    create.add_argument("--title", help="the conversation title")
    create.add_argument(
        "--info", metavar="JSON", help="conversation info as a JSON object"
    )
    create.add_argument(
        "--metadata", metavar="JSON", help="group metadata as a JSON object"
    )
    create.add_argument(
        "--get-or-create",
        action="store_true",
        help="reuse the conversation of the same participants or client id",
    )
    get = conv_sub.add_parser("get", parents=[common], help="show a conversation")
    get.add_argument("conversation", help="groupId (digits) or clientGroupId")
    assign = conv_sub.add_parser("assign", parents=[common], help="change the assignee")
    assign.add_argument("conversation", help="groupId (digits) or clientGroupId")
    assign.add_argument("assignee", help="the agent or bot id")
    assign.add_argument(
        "--no-notify", action="store_true", help="no 'assigned to' notice"
    )
    assign.add_argument(
        "--keep-bots", action="store_true", help="do not take over from bots"
    )
    status = conv_sub.add_parser("status", parents=[common], help="change the status")
    status.add_argument("conversation", help="groupId (digits) or clientGroupId")
    status.add_argument("status", help="a name (open, resolved, spam, …) or a number")

    batch = sub.add_parser(
        "send-batch",
        parents=[common],
        help="send every row of a JSONL or CSV file",
        formatter_class=_DEFAULTS,
    )
    batch.add_argument(
        "file",
        help='JSONL: one {"conversation", "text", "sender"?, "metadata"?, '
        '"dedupe_key"?} object per line; CSV (.csv or --format csv): a header row '
        "with conversation,text and optionally sender,dedupe_key,metadata; "
        "- reads standard input",
    )
    batch.add_argument(
        "--format",
        choices=["jsonl", "csv"],
        default=None,
        help="the input's format (default: csv for a .csv file, else jsonl)",
    )
    batch.add_argument(
        "--concurrency", type=int, default=32, metavar="N", help="sends in flight"
    )
    batch.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="R",
        help="at most R sends per second",
    )
    batch.add_argument(
        "--checkpoint",
        metavar="F",
        help="JSONL checkpoint, a file of its own (never the input): a rerun "
        "skips what was delivered",
    )
    batch.add_argument(
        "--reconcile",
        action="store_true",
        help="check ambiguous sends in the conversation before re-sending",
    )
    batch.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="K/N",
        help="send only shard K of N (run N of these on one input, no overlap)",
    )
    batch.add_argument(
        "--max-attempts",
        type=int,
        default=None,
        metavar="N",
        help="send attempts per item (default: 3)",
    )
    batch.add_argument(
        "--settle",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="with --reconcile: wait this long for a possibly-sent message to land "
        "before looking for it (default: 3)",
    )
    batch.add_argument(
        "--no-broadcast",
        action="store_true",
        help="one message/v2/send per row, never message/sendall",
    )
    batch.add_argument(
        "--broadcast-chunk",
        type=int,
        default=50,
        metavar="N",
        help="conversations per message/sendall request, from 2 to 50",
    )
    batch.add_argument("--no-progress", action="store_true", help="no progress bar")

    rich = sub.add_parser("rich", help="check rich-message templates")
    rich_sub = rich.add_subparsers(dest="action", required=True, metavar="ACTION")
    lint = rich_sub.add_parser(
        "lint", help="validate template JSON files without sending them"
    )
    lint.add_argument("--json", action="store_true", help="print JSON for scripts")
    lint.add_argument("files", nargs="+", metavar="FILE")

    unread = sub.add_parser("unread", parents=[common], help="unread counts of users")
    unread.add_argument("users", nargs="+", metavar="USER", help="user ids")

    messages = sub.add_parser("messages", help="read a conversation's history")
    messages_sub = messages.add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    history = messages_sub.add_parser(
        "list",
        parents=[common],
        help="messages, newest first",
        formatter_class=_DEFAULTS,
    )
    history.add_argument("conversation", help="groupId (digits) or clientGroupId")
    history.add_argument(
        "--limit", type=int, default=20, metavar="N", help="at most N messages"
    )

    add_more_parsers(sub, common, messages_sub)  # agents, hours, csat, messages info

    users = sub.add_parser("users", help="read users")
    users_sub = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    user_get = users_sub.add_parser("get", parents=[common], help="show a user")
    user_get.add_argument("user", metavar="ID", help="the user id")

    fake = sub.add_parser(
        "fake-server",
        help="serve FakeKommunicate for local development",
        formatter_class=_DEFAULTS,
    )
    fake.add_argument("--json", action="store_true", help="print the address as JSON")
    fake.add_argument("--host", default="127.0.0.1", help="address to listen on")
    fake.add_argument("--port", type=int, default=8080, help="port to listen on")
    fake.add_argument(
        "--api-key", default="fake-api-key", help="the key the fake accepts"
    )
    fake.add_argument("--app-id", default="fake-app", help="the app id it accepts")
    fake.add_argument(
        "--bare",
        choices=["auto", "yes", "no"],
        default="auto",
        help="bare or enveloped bodies where the API may send either",
    )
    fake.add_argument(
        "--keep-messages",
        type=int,
        default=None,
        metavar="N",
        help="messages kept per conversation (default: all)",
    )
    fake.add_argument(
        "--token-minutes",
        type=float,
        default=30.0,
        help="lifetime of issued user tokens",
    )

    from ._settle import add_settle_parser  # settle a checkpoint, sending nothing

    add_settle_parser(sub, common)

    from ._campaign import add_campaign_parser  # durable campaigns on Temporal

    add_campaign_parser(sub, common)
    _use_formatter(parser)
    return parser
