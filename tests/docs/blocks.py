"""The code blocks of README.md and docs/**/*.md, and how the tests run them.

Conventions (docs/guides/testing.md shows them in use):

- A ```` ```python ```` block runs as written: executed as `__main__` in a folder
  holding the sample files the guides name, with `KOMMUNICATE_*` pointing at a
  `FakeKommunicate` that has agents, a team and a conversation `"c1"`. Every
  top-level `async def` it defines whose parameters are only `km` and `chat` is
  then called with a session and a new conversation of that fake.
- A block whose first line is `# NAME.py`, `# NAME.toml` or `# NAME.ini` is a file
  of a project: a page's project files are written into a new folder and pytest
  runs there (a name seen again on the same page starts the next project).
- `<!-- docs-test: skip REASON -->` just above a block (a blank line between
  them is fine) leaves it out.
  Only for shell snippets or blocks that need a service the default run has not
  (a Temporal server); another test must run such a block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_FENCE = re.compile(r"^```(\w*)\s*$")
_PROJECT_FILE = re.compile(r"^# ([\w./-]+\.(?:py|toml|ini))\s*$")
_SKIP = re.compile(r"^<!-- docs-test: skip (.+) -->\s*$")


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced code block of a Markdown page."""

    page: Path
    line: int
    """1-based line of its opening fence."""
    lang: str
    code: str
    heading: str
    """The nearest heading above it, without its `#`s."""
    skip: str | None = None
    """Why it is left out (`<!-- docs-test: skip ... -->`), or None."""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def project_file(self) -> str | None:
        """The file name a project block is written to, or None."""
        first = self.code.split("\n", 1)[0]
        found = _PROJECT_FILE.match(first)
        return None if found is None else found.group(1)


def pages() -> list[Path]:
    """README.md and every docs/**/*.md, found anew on every run."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of `page`, in order."""
    found: list[Block] = []
    lines = page.read_text().splitlines()
    heading, i = "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#") and not line.startswith("#!"):
            heading = line.lstrip("#").strip()
        fence = _FENCE.match(line)
        if fence is None or not fence.group(1):
            i += 1
            continue
        end = lines.index("```", i + 1)
        above = [text for text in lines[max(0, i - 2) : i] if text.strip()]
        skip = _SKIP.match(above[-1]) if above else None
        found.append(
            Block(
                page,
                i + 1,
                fence.group(1),
                "\n".join(lines[i + 1 : end]) + "\n",
                heading,
                None if skip is None else skip.group(1),
            )
        )
        i = end + 1
    return found


OWN_RUNNER = {"docs/guides/observability.md": "tests/otel/test_guide.py"}
"""Pages whose blocks a test of their own runs in a subprocess: they set
process-wide state (the global OpenTelemetry providers, once a process)."""


def runnable() -> list[Block]:
    """Every Python block of every page that runs on its own."""
    return [
        b
        for page in pages()
        if str(page.relative_to(ROOT)) not in OWN_RUNNER
        for b in blocks(page)
        if b.lang == "python" and b.project_file is None and b.skip is None
    ]


def projects() -> list[tuple[str, dict[str, str]]]:
    """Every page's pytest projects: (where, {file name: text})."""
    found: list[tuple[str, dict[str, str]]] = []
    for page in pages():
        current: dict[str, str] = {}
        where = ""
        for b in blocks(page):
            name = b.project_file
            if name is None or b.skip is not None:
                continue
            if name in current:
                found.append((where, current))
                current = {}
            if not current:
                where = b.where
            current[name] = b.code
        if current:
            found.append((where, current))
    return found


def block(path: str, heading: str, index: int = 0) -> str:
    """The code of the `index`-th Python block under `heading` in `path` (a path
    from the repository root): how a test names the block it checks."""
    found = [
        b.code
        for b in blocks(ROOT / path)
        if b.lang == "python" and b.heading == heading
    ]
    assert len(found) > index, f"no Python block {index} under {heading!r} in {path}"
    return found[index]
