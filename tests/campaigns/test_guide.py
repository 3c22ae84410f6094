"""docs/guides/campaigns.md: every Python block runs as written and prints what
its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

GUIDE = (
    Path(__file__).resolve().parents[2] / "docs" / "guides" / "campaigns.md"
).read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE, re.S)
EXPECTED = [
    ["120 3"],
    ["200 0 0"],
    ["10 10 5"],
    ["3 3 4"],
    ["refused: True", "True"],
]


def test_the_guide_has_the_blocks_this_test_knows() -> None:
    assert len(BLOCKS) == len(EXPECTED)
    for block, expected in zip(BLOCKS, EXPECTED, strict=True):
        said = re.findall(r"print\(.*\)  # (.*?)(?: \(.*)?$", block, re.M)
        assert said == expected  # the comments are what the test checks


@pytest.mark.parametrize(
    ("block", "expected"), list(zip(BLOCKS, EXPECTED, strict=True))
)
def test_a_guide_block_runs_and_prints_what_it_says(
    block: str, expected: list[str]
) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "docs/guides/campaigns.md", "exec"), {"__name__": "guide"})
    assert out.getvalue().splitlines() == expected
