"""`python -m benchmarks [NAME ...]`: run the benchmarks (all by default).

Names: decode, send, faults, million, cpu, bot. Each runs in its own process (so one
benchmark's memory never shows in another's RSS) and prints a table and a final
`BENCH <name> {json}` line. See benchmarks/README.md for what they measure.
"""

from __future__ import annotations

import subprocess
import sys

NAMES = ("decode", "send", "faults", "million", "cpu", "bot")

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(NAMES)
    unknown = [name for name in chosen if name not in NAMES]
    if unknown:
        raise SystemExit(
            f"unknown benchmark {unknown[0]!r}; choose from {', '.join(NAMES)}"
        )
    for name in chosen:
        print(f"\n===== {name}", flush=True)
        subprocess.run([sys.executable, "-m", f"benchmarks.bench_{name}"], check=True)
