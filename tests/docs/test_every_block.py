"""Every Python block of README.md and docs/**/*.md runs (tests/docs/blocks.py says
how), so a page cannot drift from the code. Pages added later are picked up."""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import TYPE_CHECKING, Any

import pytest

from tests.docs.blocks import OWN_RUNNER, ROOT, Block, pages, projects, runnable
from tests.fresh_project import run_pytest
from tests.threaded_fake import ThreadedFake

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from kommunicate_async.testing import FakeKommunicate

SAMPLE_FILES = {
    "campaign.csv": "conversation,text\nc1,hello\nc1,again\n",
    "campaign.jsonl": '{"conversation": "c1", "text": "hello"}\n',
    "invoice.pdf": "%PDF-1.4 invoice",
}
"""The files the guides' blocks read, in the folder they run in."""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKommunicate]:
    """A fake with what the guides' examples expect: agents, a team, a conversation
    `c1`; the environment pointing at it; the sample files in the current folder."""
    with ThreadedFake() as fake:
        fake.add_agent("ann@acme.io")
        fake.add_agent("bob@acme.io")
        fake.add_team("Default Team", timezone="UTC", hours={"1": "0900-1700"})
        fake.state.create_group(
            name="c",
            members=["user-1"],
            client_group_id="c1",
            metadata={},
            admin_id="bot",
        )
        for name, value in {
            "KOMMUNICATE_API_KEY": fake.api_key,
            "KOMMUNICATE_APP_ID": fake.app_id,
            "KOMMUNICATE_BASE_URL": fake.url,
            "KOMMUNICATE_CHAT_URL": fake.url,
            "KOMMUNICATE_APP_URL": fake.url,
        }.items():
            monkeypatch.setenv(name, value)
        for name, text in SAMPLE_FILES.items():
            (tmp_path / name).write_text(text)
        monkeypatch.chdir(tmp_path)
        yield fake


def _callables(namespace: dict[str, Any], where: str) -> list[Any]:
    """The block's own `async def f(km)` / `f(km, chat)` functions."""
    return [
        value
        for value in namespace.values()
        if inspect.iscoroutinefunction(value)
        and value.__code__.co_filename == where
        and 0 < len(inspect.signature(value).parameters) <= 2
        and set(inspect.signature(value).parameters) <= {"km", "chat"}
    ]


async def _call(fake: FakeKommunicate, function: Any) -> None:
    async with fake.session() as km:
        chat = await km.conversations.create(["user-1"])
        arguments = {"km": km, "chat": chat}
        names = inspect.signature(function).parameters
        await function(**{name: arguments[name] for name in names})


@pytest.mark.parametrize("code_block", runnable(), ids=lambda b: b.where)
def test_the_block_runs(code_block: Block, world: FakeKommunicate) -> None:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(code_block.code, code_block.where, "exec"), namespace)
    for function in _callables(namespace, code_block.where):
        asyncio.run(_call(world, function))


def test_the_runner_finds_the_pages_and_their_blocks() -> None:
    names = {
        str(p.relative_to(p.parents[1] if p.parent.name == "guides" else p.parent))
        for p in pages()
    }
    assert {"README.md", "guides/testing.md", "guides/calls.md"} <= names
    found = runnable()
    assert len(found) >= 15
    # what the default run leaves out, and why, stays short and explained
    from tests.docs.blocks import blocks

    skipped = [b for p in pages() for b in blocks(p) if b.skip is not None]
    assert len(skipped) <= 2 and all(len(b.skip or "") > 20 for b in skipped)
    for page, runner in OWN_RUNNER.items():  # run elsewhere, not nowhere
        assert page in (ROOT / runner).read_text().replace(os.sep, "/") or (
            page.rsplit("/", 1)[-1] in (ROOT / runner).read_text()
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("where", "files"), projects(), ids=[where for where, _ in projects()]
)
def test_the_project_runs_warning_free_in_a_fresh_folder(
    where: str, files: dict[str, str], tmp_path: Path
) -> None:
    """The pytest configuration and files a page shows, copied into a new folder:
    pytest passes and prints no warning at all (`-W error` for ResourceWarning)."""
    env_before = dict(os.environ)
    done = run_pytest(tmp_path, files)
    assert dict(os.environ) == env_before
    output = done.stdout + done.stderr
    assert done.returncode == 0, where + "\n" + output
    assert "1 passed" in done.stdout and "warning" not in output.lower(), output
