"""Exported names report the package users import them from."""

from __future__ import annotations

from types import FunctionType
from typing import Any

from msgspec import Struct

__all__ = ["claim"]


def claim(package: str, namespace: dict[str, Any]) -> None:
    """Set `__module__` of the classes and functions in `namespace["__all__"]` to
    `package`, so reprs, tracebacks and docs read the public path (e.g.
    `kommunicate_async.bots.BotApp`, not `kommunicate_async.bots._app.BotApp`).

    Only what a module inside `package` defines: a re-export (the root's
    `CoordinationError` in `.scaleout`) keeps the path of the package that owns
    it. msgspec Structs keep theirs: msgspec resolves their (string) annotations
    in `__module__`.
    """
    inside = f"{package}."
    for name in namespace["__all__"]:
        obj = namespace[name]
        if not isinstance(obj, type | FunctionType):
            continue
        if isinstance(obj, type) and issubclass(obj, Struct):
            continue
        if obj.__module__.startswith(inside):
            obj.__module__ = package
