"""The README's CSV example is read by `send-batch` as written (issue 20)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from kommunicate_async._cli import main

if TYPE_CHECKING:
    import pytest

    from kommunicate_async.testing import FakeKommunicate

README_PATH = Path(__file__).resolve().parents[2] / "README.md"
README = README_PATH.read_text()


def test_send_batch_reads_the_readmes_csv_example(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    block = re.search(r"```csv\n(.*?)```", README, re.S)
    assert block is not None
    source = tmp_path / "campaign.csv"
    source.write_text(block.group(1))
    for ref in ("order-991", "order-992"):
        threaded_fake.state.create_group(
            name=ref, members=["u"], client_group_id=ref, metadata={}, admin_id="bot"
        )
    checkpoint = tmp_path / "campaign.checkpoint.jsonl"
    command = re.search(r"`kommunicate-async (send-batch campaign\.csv[^`]*)`", README)
    assert command is not None
    argv = command.group(1).split()
    argv[1], argv[3] = str(source), str(checkpoint)
    assert main(argv) == 0
    assert "2 delivered, 0 failed" in capsys.readouterr().out
    (first,) = threaded_fake.messages("order-991")
    assert first.text == "Hello Ann, your order shipped"
    assert first.metadata["order"] == "991"
    assert [m.text for m in threaded_fake.messages("order-992")] == [
        "Hello Bob, your order shipped"
    ]
    # the bulk-send snippet (moved to its guide) names its checkpoint apart from
    # any input; the README's one-liner does too
    bulk = (README_PATH.parent / "docs" / "guides" / "bulk-sends.md").read_text()
    assert 'checkpoint="campaign.checkpoint.jsonl"' in bulk
    assert 'checkpoint="campaign.jsonl"' not in README + bulk
