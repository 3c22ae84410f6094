"""Check a built docs site: every public name has its entry in the API reference.

python -m tests.docs.check_site SITE_DIR      (.ci/run, after `mkdocs build`)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.test_exported_members import PUBLIC_ALL


def missing_names(site: Path) -> list[str]:
    """`module.name` of every public name without an anchor in the reference."""
    anchors: set[str] = set()
    for page in (site / "reference").rglob("*.html"):
        anchors.update(re.findall(r'id="([^"]+)"', page.read_text()))
    return [
        f"{module}.{name}"
        for module, names in PUBLIC_ALL.items()
        for name in names
        if f"{module}.{name}" not in anchors
    ]


def main(argv: list[str]) -> int:
    missing = missing_names(Path(argv[0]))
    for name in missing:
        print(f"not in the API reference: {name}", file=sys.stderr)  # noqa: T201
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
