"""`Router`: a bot's handlers in a module of their own, with their own middleware.

    support = Router()

    @support.on_message(when=filters.text("human"))
    async def human(request: BotRequest, ctx: BotContext) -> Reply:
        return Reply.handoff()

    app.include(support)      # its routes join the app's, in order, where included

Middleware is `async def mw(request, ctx, call_next)`: it runs around every handler run
(`return await call_next(request, ctx)` to go on), for enrichment, per-user limits
and metrics. An exception in middleware is a handler failure: the fallback answers,
and it is logged. An app's middleware wraps everything; a router's only its routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .._compat import override
from .._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

    from ._handlers import BotContext, MessageHandler
    from ._payloads import BotRequest

__all__ = ["CallNext", "Middleware", "Route", "Router", "chain", "filters_of"]

CallNext: TypeAlias = "Callable[[BotRequest, BotContext], Awaitable[Any]]"
Middleware: TypeAlias = "Callable[[BotRequest, BotContext, CallNext], Awaitable[Any]]"
Filter: TypeAlias = "Callable[[BotRequest], bool]"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Route:
    """One handler and what it takes: a bot, an event (None: plain messages), and
    filters that must all match."""

    handler: MessageHandler
    bot_id: str | None
    event: str | None
    filters: tuple[Filter, ...] = ()

    def matches(self, request: BotRequest) -> bool:
        if self.bot_id is not None and self.bot_id != request.bot_id:
            return False
        if self.event != request.event:
            return False
        return all(check(request) for check in self.filters)


def filters_of(when: Filter | Iterable[Filter] | None) -> tuple[Filter, ...]:
    """`when=` as a tuple of filters (one filter, a sequence of them, or None)."""
    if when is None:
        return ()
    found = (when,) if callable(when) else tuple(when)
    if not all(callable(f) for f in found):
        raise ConfigurationError("when= takes filters: (BotRequest) -> bool callables")
    return found


class _Step:
    """`handler` behind one middleware, still named after the handler in logs."""

    __slots__ = ("__qualname__", "_middleware", "_next")

    def __init__(self, middleware: Middleware, after: CallNext) -> None:
        self._middleware = middleware
        self._next = after
        self.__qualname__ = getattr(after, "__qualname__", type(after).__name__)

    async def __call__(self, request: BotRequest, ctx: BotContext) -> Any:
        return await self._middleware(request, ctx, self._next)


def chain(middleware: Sequence[Middleware], handler: CallNext) -> CallNext:
    """`handler` wrapped by `middleware`, the first one outermost."""
    call = handler
    for step in reversed(middleware):
        call = _Step(step, call)
    return call


class Router:
    """Routes and middleware to include into a `BotApp` (or another router)."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.routes: list[Route] = []
        self.middleware: list[Middleware] = []
        self.default: MessageHandler | None = None

    @override
    def __repr__(self) -> str:
        return f"Router({self.name!r}, routes={len(self.routes)})"

    def on_message(
        self,
        *,
        bot_id: str | None = None,
        event: str | None = None,
        when: Filter | Iterable[Filter] | None = None,
    ) -> Callable[[F], F]:
        """Register a handler: `@router.on_message(when=filters.text("hi"))`."""
        checks = filters_of(when)

        def register(func: F) -> F:
            self.add(Route(_handler(func), bot_id, event, checks))
            return func

        return register

    def on_event(
        self,
        event: str,
        *,
        bot_id: str | None = None,
        when: Filter | Iterable[Filter] | None = None,
    ) -> Callable[[F], F]:
        """Register a handler for one `eventName`."""
        return self.on_message(bot_id=bot_id, event=event, when=when)

    def on_default(self, handler: F) -> F:
        """The handler for plain messages no route matched (one per router)."""
        self.default = _handler(handler)
        return handler

    def use(self, middleware: F) -> F:
        """Add middleware around this router's handlers (in the order added)."""
        if not callable(middleware):
            raise ConfigurationError(
                f"middleware must be an async function: {middleware!r}"
            )
        self.middleware.append(middleware)
        return middleware

    def add(self, route: Route) -> None:
        self.routes.append(route)

    def include(self, router: Router) -> None:
        """Add `router`'s routes (wrapped in its middleware) here, after the ones
        already registered; its default applies when this router has none. Routes
        the included router gets later are not added."""
        if router is self:
            raise ConfigurationError("a router cannot include itself")
        for route in router.routes:
            self.add(
                Route(
                    chain(router.middleware, route.handler),
                    route.bot_id,
                    route.event,
                    route.filters,
                )
            )
        if router.default is not None and self.default is None:
            self.default = chain(router.middleware, router.default)

    def route(self, request: BotRequest) -> MessageHandler | None:
        """The first matching route's handler; else the default (plain messages)."""
        for route in self.routes:
            if route.matches(request):
                return route.handler
        return self.default if request.event is None else None


def _handler(func: Callable[..., Any]) -> MessageHandler:
    if not callable(func):
        raise TypeError(f"a handler must be an async function, not {func!r}")
    return func
