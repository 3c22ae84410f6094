"""docs/guides/observability.md runs as written and prints what it says it prints.

Its blocks set the process's global OpenTelemetry providers (once a process, by the
API's rule), so they run in a subprocess of their own, one after the other, as a
reader pasting them into one script would.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "observability.md"


def test_every_block_runs_and_prints_what_the_guide_says() -> None:
    text = GUIDE.read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    expected = "".join(re.findall(r"prints\n\n```text\n(.*?)```", text, re.S))
    assert code.count("asyncio.run(") == 3 and expected.count("\n") == 9
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == expected


def test_the_metric_table_names_every_instrument() -> None:
    from kommunicate_async._telemetry import _names

    text = GUIDE.read_text()
    instruments = [v for k, v in vars(_names).items() if k.startswith("M_")]
    assert len(instruments) == 11
    for name in instruments:
        assert f"| `{name}` |" in text, name
