"""The README's first screen: its two commands, and a quick-start that runs as written;
the guides' main blocks run as written with their results checked
(tests/docs/test_every_block.py runs every block of every page)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kommunicate_async.testing import FakeKommunicate
from tests.docs.blocks import block, projects
from tests.threaded_fake import ThreadedFake

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_first_screen_has_exactly_the_two_commands() -> None:
    first_screen = README.split("## Quick start")[0]
    commands = [
        line.strip() for line in first_screen.splitlines() if line.startswith("    ")
    ]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/kommunicate-async demo",
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest",
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README test command" in ci and 'bash -c "$readme_test_command"' in ci
    # the README command leaves the slow tests out; CI runs them right after it
    assert ci.index('bash -c "$readme_test_command"') < ci.index(
        ".venv/bin/python -m pytest -q -m slow"
    )


@pytest.mark.slow
def test_quick_start_runs_as_written() -> None:
    block = re.search(r"## Quick start\n\n```python\n(.*?)```", README, re.S)
    assert block is not None
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 15
    with ThreadedFake() as fake:
        env = {
            **os.environ,
            "KOMMUNICATE_API_KEY": fake.api_key,
            "KOMMUNICATE_BASE_URL": fake.url,
            "KOMMUNICATE_CHAT_URL": fake.url,
        }
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        group_id, key, outcome, unread = done.stdout.split()
        assert (outcome, unread) == ("UPDATED", "1")
        assert fake.messages(int(group_id))[0].key == key
        assert fake.conversation(int(group_id)).metadata["CONVERSATION_STATUS"] == "2"


def test_rich_messages_block_runs_as_written(tmp_path: Path, monkeypatch: Any) -> None:
    code = block("docs/guides/rich-and-files.md", "Rich messages and files")
    namespace: dict[str, Any] = {}
    exec(compile(code, "rich-and-files.md", "exec"), namespace)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "invoice.pdf").write_bytes(b"%PDF-1.4 invoice")

    async def scenario() -> None:
        async with FakeKommunicate() as fake, fake.session() as km:
            chat = await km.conversations.create(["user-1"])
            await namespace["offer_help"](km, chat)
            question, invoice = fake.messages(chat.id)
            assert question.metadata["templateId"] == "6"
            assert invoice.text == "Your invoice"
            assert invoice.file_meta is not None
            assert invoice.file_meta["name"] == "invoice.pdf"

    asyncio.run(scenario())


def test_bots_block_runs_as_written() -> None:
    code = block("docs/guides/bots.md", "Bots")
    assert len(code.strip().splitlines()) <= 20
    namespace: dict[str, Any] = {}
    exec(compile(code, "bots.md", "exec"), namespace)

    async def scenario() -> None:
        from kommunicate_async.testing import serve_bot

        async with (
            FakeKommunicate(routing_agent="agent@acme.io") as fake,
            fake.session() as km,
        ):
            chat = await km.conversations.create(["user-1"])
            async with serve_bot(namespace["build_bot"](km, "s3cret")) as server:
                header = ("X-Bot-Token", "s3cret")
                hi = await fake.deliver_bot_message(
                    server.bot_url, "hi", group_id=chat.id, bot_id="bot", header=header
                )
                human = await fake.deliver_bot_message(
                    server.bot_url,
                    "Human",
                    group_id=chat.id,
                    bot_id="bot",
                    header=header,
                )
            assert hi.replies == [{"message": "You said: hi"}]
            assert human.replies[0]["metadata"] == {"KM_ASSIGN_TO": ""}
            assert (
                fake.conversation(chat.id).metadata["CONVERSATION_ASSIGNEE"]
                == "agent@acme.io"
            )

    asyncio.run(scenario())


@pytest.mark.slow
def test_bulk_send_block_runs_as_written(tmp_path: Path) -> None:
    code = block("docs/guides/bulk-sends.md", "Sending in bulk")
    (tmp_path / "campaign.csv").write_text("conversation,text\nc1,hello\nc1,again\n")
    with ThreadedFake() as fake:
        fake.state.create_group(
            name="c", members=["u"], client_group_id="c1", metadata={}, admin_id="bot"
        )
        env = {
            **os.environ,
            "KOMMUNICATE_API_KEY": fake.api_key,
            "KOMMUNICATE_BASE_URL": fake.url,
            "KOMMUNICATE_CHAT_URL": fake.url,
        }
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[:3] == ["2", "0", "0"]
        assert sorted(m.text for m in fake.messages("c1")) == ["again", "hello"]
    assert (tmp_path / "campaign.checkpoint.jsonl").exists()


def test_the_testing_section_is_a_project_to_copy() -> None:
    """README's configuration, conftest and test: run in a fresh folder, warning
    free, by tests/docs/test_every_block.py (slow)."""
    [files] = [f for where, f in projects() if where.startswith("README.md")]
    assert list(files) == ["pyproject.toml", "conftest.py", "test_greeting.py"]
    assert 'asyncio_mode = "auto"' in files["pyproject.toml"]
    assert 'asyncio_default_fixture_loop_scope = "function"' in files["pyproject.toml"]
    assert "@pytest.fixture\nasync def chat(" in files["conftest.py"]  # the user's own


def test_request_block_runs_as_written() -> None:
    code = block(
        "docs/guides/calls.md", "Calling an endpoint the library does not wrap"
    )
    namespace: dict[str, Any] = {}
    exec(compile(code, "calls.md", "exec"), namespace)

    async def scenario() -> None:
        async with FakeKommunicate() as fake, fake.session() as km:
            chat = await km.conversations.create(["user-1"])
            assert await namespace["group_support"](km, chat.id) == chat.id
            [call] = fake.requests_to("GET /rest/ws/group/v2/info")
            assert call.query == {"groupId": str(chat.id)}

    asyncio.run(scenario())
