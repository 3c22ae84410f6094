"""Conversation state: `ctx.state`, typed values with compare-and-set and a TTL.

    count = await ctx.state.update("turns", lambda n: n + 1, type=int, default=0)
    await ctx.state.set("cart", cart, ttl=3600)           # any msgspec-encodable value
    cart = await ctx.state.get("cart", type=Cart)          # None when absent

Values live in a `StateStore`: `MemoryStateStore` (one process, bounded) by default,
`kommunicate_async.bots.redis.RedisStateStore` when replicas share state. Each value
carries a version: `update` reads, applies your function, and writes only if nobody
wrote in between (else it reads again), so concurrent updates from several replicas
never lose one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar, overload

import msgspec

from .._compat import override
from .._errors import CoordinationError, InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DEFAULT_STATE_TTL",
    "ConversationState",
    "MemoryStateStore",
    "StateConflictError",
    "StateStore",
]

T = TypeVar("T")
DEFAULT_STATE_TTL: Final = 7 * 24 * 3600.0
"""Seconds a value is kept after its last write, unless `ttl=` says otherwise."""
_TRIES: Final = 16
_MAX_VALUE: Final = 256 * 1024
"""Bytes a value may take once encoded."""


class StateConflictError(CoordinationError):
    """`update` lost the compare-and-set race too many times in a row."""


class StateStore(Protocol):
    """Versioned values by (scope, name); `save` is a compare-and-set."""

    async def load(self, scope: str, name: str) -> tuple[bytes | None, int]:
        """The value (None: absent) and its version (0: absent)."""
        ...

    async def save(
        self, scope: str, name: str, value: bytes, *, expect: int | None, ttl: float
    ) -> int | None:
        """Write `value` if the version is still `expect` (None: whatever it is);
        the new version, or None when another write came first."""
        ...

    async def delete(self, scope: str, name: str) -> None:
        """Forget the value."""
        ...


class MemoryStateStore:
    """A bounded in-process `StateStore`: the least recently written go first past
    `max_keys`; values expire after their TTL."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._values: OrderedDict[tuple[str, str], tuple[float, int, bytes]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._values)

    def _live(self, key: tuple[str, str]) -> tuple[float, int, bytes] | None:
        found = self._values.get(key)
        if found is not None and found[0] < time.monotonic():
            del self._values[key]
            return None
        return found

    async def load(self, scope: str, name: str) -> tuple[bytes | None, int]:
        found = self._live((scope, name))
        return (None, 0) if found is None else (found[2], found[1])

    async def save(
        self, scope: str, name: str, value: bytes, *, expect: int | None, ttl: float
    ) -> int | None:
        key = (scope, name)
        found = self._live(key)
        version = 0 if found is None else found[1]
        if expect is not None and expect != version:
            return None
        self._values[key] = (time.monotonic() + ttl, version + 1, value)
        self._values.move_to_end(key)
        while len(self._values) > self.max_keys:
            self._values.popitem(last=False)
        return version + 1

    async def delete(self, scope: str, name: str) -> None:
        self._values.pop((scope, name), None)


class ConversationState:
    """The state of one conversation (`ctx.state`)."""

    __slots__ = ("_scope", "_store")

    def __init__(self, store: StateStore, scope: str) -> None:
        self._store = store
        self._scope = scope

    @override
    def __repr__(self) -> str:
        return f"ConversationState(scope={self._scope!r})"

    @overload
    async def get(self, name: str, *, type: type[T]) -> T | None: ...
    @overload
    async def get(self, name: str, *, type: type[T], default: T) -> T: ...
    @overload
    async def get(self, name: str) -> Any: ...

    async def get(
        self,
        name: str,
        *,
        type: Any = Any,
        default: Any = None,
    ) -> Any:
        """The value of `name` decoded as `type` (`default` when absent)."""
        raw, _ = await self._store.load(self._scope, _name(name))
        return default if raw is None else msgspec.json.decode(raw, type=type)

    async def set(self, name: str, value: object, *, ttl: float | None = None) -> None:
        """Set `name` to `value` (anything msgspec encodes), whatever it was."""
        await self._store.save(
            self._scope, _name(name), _encode(value), expect=None, ttl=_ttl(ttl)
        )

    async def update(
        self,
        name: str,
        change: Callable[[T], T],
        *,
        type: type[T],
        default: T,
        ttl: float | None = None,
    ) -> T:
        """Apply `change` to the current value (or `default`) and write the result,
        retrying when another writer came first; returns what was written.

        Raises:
            StateConflictError: it lost the race 16 times in a row.
        """
        key = _name(name)
        for _ in range(_TRIES):
            raw, version = await self._store.load(self._scope, key)
            current = default if raw is None else msgspec.json.decode(raw, type=type)
            new = change(current)
            saved = await self._store.save(
                self._scope, key, _encode(new), expect=version, ttl=_ttl(ttl)
            )
            if saved is not None:
                return new
        raise StateConflictError(
            f"state {name!r} kept changing under update ({_TRIES} tries)"
        )

    async def delete(self, name: str) -> None:
        """Forget `name`."""
        await self._store.delete(self._scope, _name(name))


def _name(name: str) -> str:
    given: object = name  # callers may pass anything at run time
    if not isinstance(given, str) or not 0 < len(given) <= 200:
        raise InvalidRequestError("a state name is a str of 1 to 200 characters")
    return name


def _ttl(ttl: float | None) -> float:
    if ttl is None:
        return DEFAULT_STATE_TTL
    if not 0 < ttl <= 365 * 86400:
        raise InvalidRequestError("ttl must be > 0 and at most a year, in seconds")
    return float(ttl)


def _encode(value: object) -> bytes:
    try:
        raw = msgspec.json.encode(value)
    except (TypeError, msgspec.EncodeError) as exc:
        raise InvalidRequestError(f"state values must encode as JSON: {exc}") from None
    if len(raw) > _MAX_VALUE:
        raise InvalidRequestError(
            f"a state value is at most {_MAX_VALUE} bytes encoded"
        )
    return raw
