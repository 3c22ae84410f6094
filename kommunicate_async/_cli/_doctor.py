"""`kommunicate-async doctor`: which settings and credentials work for this account.

Without `--live` it checks the configuration only (nothing is sent). With `--live` it
reaches each host, then makes the cheapest safe call of each path family with each
credential it has, and prints a table: which combination works, and the setting to
use. Read-only, unless `--write-test CONV` sends one test message. Never prints a
secret: the key shows as its length, errors are the library's (redacted) messages.

Whether `Api-Key` serves the chat-host paths on the Platform host is UNCERTAIN
(docs/wire.md#hosts): only a user with an account can find out, and this is how.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from yarl import URL

from .._chat_auth import ChatAuth
from .._config import DEFAULT_APP_URL, ENV_API_KEY, ENV_APP_URL
from .._errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    KommunicateError,
)
from .._pipeline.transport import env_proxy
from ._commands import session_from_args

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable

    from .._session import KommunicateSession
    from ._output import Printer

__all__ = ["run_doctor"]

ENV_ADMIN_PASSWORD: Final = "KOMMUNICATE_ADMIN_PASSWORD"
ENV_USER_PASSWORD: Final = "KOMMUNICATE_USER_PASSWORD"
_CHAT_PROBE: Final = ("GET", "/rest/ws/group/filter", {"pageSize": 1})


@dataclass(slots=True)
class Row:
    """One line of the table."""

    family: str
    credentials: str
    call: str
    result: str
    setting: str
    ok: bool | None  # None: not tried


def _proxy_text(url: str) -> str:
    proxy = env_proxy(url)
    if proxy is None:
        return "none (direct)"
    parsed = URL(proxy)  # never show proxy credentials
    return f"{parsed.scheme}://{parsed.host}:{parsed.port}"


def _config_lines(args: argparse.Namespace) -> list[tuple[str, str]]:
    key = os.environ.get(ENV_API_KEY, "").strip()
    app_url = os.environ.get(ENV_APP_URL, "").strip() or DEFAULT_APP_URL
    km_config = session_from_args(args).config if key else None
    lines = [
        (
            "API key",
            f"set ({len(key)} characters, {ENV_API_KEY})" if key else "MISSING",
        ),
    ]
    if km_config is not None:
        lines += [
            ("app id", km_config.app_id or "not set (only users.login needs it)"),
            ("base_url", km_config.base_url),
            ("chat_url", km_config.chat_url),
            ("app_url", km_config.app_url),
            ("proxy", _proxy_text(km_config.base_url)),
        ]
    else:
        lines.append(("app_url", app_url))
    return lines


async def _reach(args: argparse.Namespace, url: str) -> str:
    """Any HTTP answer to `GET /` means the host is reachable."""
    started = time.monotonic()
    async with session_from_args(args, base_url=url, max_retries=0) as km:
        try:
            await km.request("GET", "/")
        except APIError as exc:
            status = exc.status
        except APIConnectionError as exc:
            return f"UNREACHABLE ({type(exc).__name__})"
        except KommunicateError:
            status = 200  # an answer we cannot read is still an answer
        else:
            status = 200
    ms = (time.monotonic() - started) * 1000
    return f"reachable (HTTP {status}, {ms:.0f} ms)"


async def _try(
    call: Callable[[], Awaitable[object]],
) -> tuple[bool, str]:
    try:
        await call()
    except APIError as exc:
        return False, f"refused: {exc}"
    except APIConnectionError as exc:
        return False, f"no answer: {exc}"
    except KommunicateError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, "works"


def _chat_probe(
    km: KommunicateSession, user: str | None = None
) -> Callable[[], Awaitable[object]]:
    method, path, params = _CHAT_PROBE
    return lambda: km.request(
        method, path, host="chat", params=params, on_behalf_of=user
    )


async def _families(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    probe = f"{_CHAT_PROBE[0]} {_CHAT_PROBE[1]}"
    async with session_from_args(args) as km:
        config = km.config
        ok, result = await _try(lambda: km.users.get_many([config.on_behalf_of]))
        rows.append(
            Row(
                "services (Platform API)",
                "Api-Key",
                "POST /rest/ws/user/v2/detail",
                result,
                "default" if ok else f"check {ENV_API_KEY} and --base-url",
                ok,
            )
        )
        ok, result = await _try(_chat_probe(km))
        rows.append(
            Row(
                "chat paths on base_url",
                "Api-Key + Of-User-Id",
                probe,
                result,
                "default (no chat_auth, no login)"
                if ok
                else "use chat_auth= or users.login",
                ok,
            )
        )
    async with session_from_args(args, base_url=config.chat_url) as on_chat:
        ok, result = await _try(_chat_probe(on_chat))
        rows.append(
            Row(
                "chat paths on chat_url",
                "Api-Key + Of-User-Id",
                probe,
                result,
                f"base_url={config.chat_url} serves them with Api-Key"
                if ok
                else "not with Api-Key",
                ok,
            )
        )
    rows.append(await _admin_row(args, probe))
    rows.append(await _user_row(args, probe))
    if args.write_test is not None:
        async with session_from_args(args) as km:
            ref: int | str = (
                int(args.write_test) if args.write_test.isdigit() else args.write_test
            )
            ok, result = await _try(
                lambda: km.messages.send(ref, "kommunicate-async doctor: test message")
            )
        rows.append(
            Row(
                "message send (--write-test)",
                "Api-Key",
                "POST /rest/ws/message/v2/send",
                result,
                "default" if ok else "check the conversation id",
                ok,
            )
        )
    return rows


async def _admin_row(args: argparse.Namespace, probe: str) -> Row:
    password = os.environ.get(ENV_ADMIN_PASSWORD, "")
    if (
        not args.admin
        or not password
        or not args.app_id
        and not os.environ.get("KOMMUNICATE_APP_ID")
    ):
        return Row(
            "chat paths on chat_url",
            "chat_auth=ChatAuth.admin",
            probe,
            f"not tried (needs --admin EMAIL, {ENV_ADMIN_PASSWORD} and the app id)",
            "",
            None,
        )
    auth = ChatAuth.admin(args.admin, password)
    async with session_from_args(args, chat_auth=auth) as km:
        ok, result = await _try(_chat_probe(km))
    return Row(
        "chat paths on chat_url",
        "chat_auth=ChatAuth.admin",
        probe,
        result,
        "chat_auth=ChatAuth.admin(email, password)" if ok else "",
        ok,
    )


async def _user_row(args: argparse.Namespace, probe: str) -> Row:
    if not args.user:
        return Row(
            "chat paths on chat_url",
            "a user's token (users.login)",
            probe,
            "not tried (needs --user USER and the app id)",
            "",
            None,
        )
    password = os.environ.get(ENV_USER_PASSWORD) or None
    async with session_from_args(args) as km:

        async def login_then_probe() -> None:
            await km.users.login(args.user, password=password)
            await _chat_probe(km, args.user)()

        ok, result = await _try(login_then_probe)
    return Row(
        "chat paths on chat_url",
        "a user's token (users.login)",
        probe,
        result,
        "km.users.login(user) then on_behalf_of=user" if ok else "",
        ok,
    )


def _table(rows: list[Row]) -> list[str]:
    head = ("path family", "credentials", "call", "result", "setting")
    cells = [head] + [
        (r.family, r.credentials, r.call, _short(r.result), r.setting) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [
        "  ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip()
        for c in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def run_doctor(args: argparse.Namespace, out: Printer) -> int:
    """Check the configuration; with --live, the hosts and each path family."""
    config_lines = _config_lines(args)
    report: dict[str, Any] = {"configuration": dict(config_lines)}
    out.line("configuration:")
    for name, value in config_lines:
        out.line(f"  {name:<9} {value}")
    if dict(config_lines)["API key"] == "MISSING":
        out.document(report)
        raise ConfigurationError(
            f"no Kommunicate API key: set {ENV_API_KEY} "
            "(Dashboard → Settings → Install → API Key)"
        )
    if not args.live:
        out.line("(configuration only: add --live to call your account, read-only)")
        out.document(report)
        return 0
    config = session_from_args(args).config
    reach = {
        name: await _reach(args, url)
        for name, url in (
            ("base_url", config.base_url),
            ("chat_url", config.chat_url),
            ("app_url", config.app_url),
        )
    }
    report["hosts"] = reach
    out.line("hosts:")
    for name, text in reach.items():
        out.line(f"  {name:<9} {text}")
    rows = await _families(args)
    report["families"] = [
        {
            "family": r.family,
            "credentials": r.credentials,
            "call": r.call,
            "result": r.result,
            "setting": r.setting,
            "ok": r.ok,
        }
        for r in rows
    ]
    out.line("path families:")
    for line in _table(rows):
        out.line("  " + line)
    out.document(report)
    return 0 if rows[0].ok else 1
