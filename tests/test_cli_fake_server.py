"""`kommunicate-async fake-server` in this process: what it prints, and that the
fake it starts answers the library with the key it printed."""

from __future__ import annotations

import io

import anyio
import msgspec

from kommunicate_async import KommunicateSession
from kommunicate_async._cli._fake_server import serve
from kommunicate_async._cli._output import Printer
from kommunicate_async._cli._parser import build_parser
from tests.test_cli import free_port


async def _serve_until_printed(argv: list[str]) -> tuple[str, dict[str, str]]:
    args = build_parser().parse_args(["fake-server", *argv])
    out = io.StringIO()
    printer = Printer(json="--json" in argv, out=out)
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve, args, printer)
        with anyio.fail_after(10):
            while not out.getvalue().endswith("\n"):  # noqa: ASYNC110 - its output
                await anyio.sleep(0.01)
        printed = out.getvalue()
        address: dict[str, str] = {}
        if "--json" in argv:
            address = msgspec.json.decode(printed)
        url = address.get("url") or printed.split()[3]
        async with KommunicateSession(
            api_key="local-key", base_url=url, chat_url=url
        ) as km:
            chat = await km.conversations.create(["u"])
            assert chat.id
        tg.cancel_scope.cancel()
    return printed, address


async def test_it_prints_the_exports_and_serves_with_that_key() -> None:
    port = free_port()
    printed, _ = await _serve_until_printed(
        ["--port", str(port), "--api-key", "local-key"]
    )
    url = f"http://127.0.0.1:{port}"
    assert (
        printed.splitlines()[0]
        == f"FakeKommunicate listening on {url} (Ctrl-C to stop)"
    )
    assert f"export KOMMUNICATE_BASE_URL={url} KOMMUNICATE_CHAT_URL={url}" in printed
    assert "export KOMMUNICATE_API_KEY=local-key" in printed


async def test_json_prints_one_document() -> None:
    port = free_port()
    _, address = await _serve_until_printed(
        ["--port", str(port), "--api-key", "local-key", "--json", "--bare", "yes"]
    )
    assert address == {
        "url": f"http://127.0.0.1:{port}",
        "api_key": "local-key",
        "app_id": "fake-app",
    }
