"""Run pytest in a new project folder with this environment (nothing installed)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def run_pytest(folder: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Write `files` into `folder` and run `pytest -q` there; leaks fail the run."""
    for name, text in files.items():
        (folder / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + ["-W", "error::ResourceWarning"],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=120,
    )
