"""Static checks: `interim=` and `fallback=` take exactly one reply or a sequence.

Nothing here runs: mypy (strict, `warn_unused_ignores`) fails if an accepted form
is refused, or if a refused form is accepted (its `type: ignore` is then unused).
"""

from __future__ import annotations

from kommunicate_async import rich
from kommunicate_async.bots import BotApp, Reply

menu = rich.suggested_replies("Pick one", ["A", "B"])

# Accepted: a str (ONE message), a Reply, a RichMessage, a sequence of those.
BotApp(None, interim="One moment", fallback="Sorry")
BotApp(None, interim=Reply("One moment"), fallback=Reply.handoff())
BotApp(None, interim=menu, fallback=menu)
BotApp(None, interim=["One moment", Reply("…"), menu], fallback=(Reply("a"), "b"))

# Refused: anything else.
BotApp(None, interim=42)  # type: ignore[arg-type]
BotApp(None, fallback={"message": "hi"})  # type: ignore[arg-type]
BotApp(None, fallback=[1, 2])  # type: ignore[list-item]
BotApp(None, interim=b"bytes")  # type: ignore[arg-type]
