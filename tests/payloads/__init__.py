"""Recorded sample bodies, one file per endpoint, shaped as the reference shows them."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def load(name: str) -> bytes:
    """The bytes of `payloads/<name>.json`."""
    return (_HERE / f"{name}.json").read_bytes()
