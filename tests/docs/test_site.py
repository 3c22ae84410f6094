"""The docs site: every page in the nav, every public module in the API reference,
and (slow, with the `docs` extra) a strict build that documents every public name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.docs.blocks import ROOT
from tests.docs.check_site import missing_names
from tests.test_exported_members import PUBLIC_ALL

if TYPE_CHECKING:
    from pathlib import Path

MKDOCS = (ROOT / "mkdocs.yml").read_text()


def test_every_page_is_in_the_nav() -> None:
    listed = set(re.findall(r"(?m)^\s+- (?:[^:\n]+: )?(\S+\.md)\s*$", MKDOCS))
    pages = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert pages - listed == set(), "add these pages to mkdocs.yml's nav"
    assert listed - pages == set()


def test_every_public_module_has_a_reference_page() -> None:
    directives = {
        line.removeprefix("::: ").strip()
        for page in (ROOT / "docs" / "reference").glob("*.md")
        for line in page.read_text().splitlines()
        if line.startswith("::: ")
    }
    assert set(PUBLIC_ALL) <= directives


def test_the_check_reports_a_name_missing_from_a_site(tmp_path: Path) -> None:
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "rich.html").write_text(
        '<h2 id="kommunicate_async.rich.Card">Card</h2>'
    )
    missing = missing_names(tmp_path)
    assert "kommunicate_async.rich.Card" not in missing
    assert "kommunicate_async.rich.Button" in missing


@pytest.mark.slow
def test_the_site_builds_strict_with_every_public_name(tmp_path: Path) -> None:
    pytest.importorskip("mkdocstrings", reason="needs the docs extra (.ci/run builds)")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert missing_names(tmp_path) == []


def test_the_readme_links_to_files_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)", readme)
    assert len(targets) >= 10
    assert [t for t in targets if not (ROOT / t).is_file()] == []
