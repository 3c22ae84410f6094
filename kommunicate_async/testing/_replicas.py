"""Delivering bot traffic to N replicas of one bot, as a load balancer would.

    async with BotReplicas(fake, [a.bot_url, b.bot_url], header=HEADER) as lb:
        first = await lb.deliver("hi", group_id=chat.id)          # round robin
        again = await lb.redeliver(first.key, exclude=first.replica)  # the other one

A request whose replica cannot be reached (refused, reset, killed mid-request) is
retried on another live one, as Kommunicate's retry through a load balancer would be;
the dead replica is taken out of the rotation (`down`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import aiohttp
import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

    from ._server import FakeKommunicate

__all__ = ["BotReplicas", "ReplicaDelivery"]


@dataclass(frozen=True, slots=True)
class ReplicaDelivery:
    """One delivery: the answer that counted and which replicas were tried."""

    key: str
    status: int
    body: bytes
    replicas: tuple[int, ...]
    """Every replica tried, in order; the last one answered."""
    replies: tuple[dict[str, Any], ...] = ()

    @property
    def replica(self) -> int:
        """The replica that answered."""
        return self.replicas[-1]


class BotReplicas:
    """A load balancer in front of the replicas at `urls` (each a bot URL).

    Args:
        fake: the FakeKommunicate the messages are stored in and answers applied to.
        urls: each replica's bot URL (`RunningBot.bot_url`).
        header: the dashboard header every request carries.
        bot_id: the bot the messages are routed to.
        policy: "round_robin", or "first" (always the first live replica unless a
            delivery names one).
        http_timeout: seconds a request may take (Kommunicate's own wait).
        connections: open connections at most, over all replicas.
    """

    def __init__(
        self,
        fake: FakeKommunicate,
        urls: Sequence[str],
        *,
        header: tuple[str, str] | None = None,
        bot_id: str = "bot",
        policy: Literal["round_robin", "first"] = "round_robin",
        http_timeout: float = 60.0,
        connections: int = 100,
    ) -> None:
        if not urls:
            raise ValueError("BotReplicas needs at least one replica URL")
        self.fake = fake
        self.urls = list(urls)
        self.header = header
        self.bot_id = bot_id
        self.policy = policy
        self.live = set(range(len(self.urls)))
        self._turns = itertools.count()
        self._timeout = aiohttp.ClientTimeout(total=http_timeout)
        self._connections = connections
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> BotReplicas:
        self._http = aiohttp.ClientSession(
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(limit=self._connections),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def down(self, replica: int) -> None:
        """Take `replica` out of the rotation (it died, or is being drained)."""
        self.live.discard(replica)

    def pick(self, exclude: int | None = None) -> int:
        """The next live replica (not `exclude` when another one is live)."""
        choices = sorted(self.live - {exclude}) or sorted(self.live)
        if not choices:
            raise RuntimeError("no live replica left")
        if self.policy == "first":
            return choices[0]
        return choices[next(self._turns) % len(choices)]

    async def deliver(
        self,
        text: str,
        *,
        group_id: int,
        replica: int | None = None,
        sender: str = "user",
        event: str | None = None,
        attachments: Sequence[Mapping[str, Any]] = (),
        chat_context: Mapping[str, Any] | None = None,
        apply: bool = True,
    ) -> ReplicaDelivery:
        """Store `text` and POST it to `replica` (default: the policy's pick);
        apply the answer unless `apply=False` (an answer lost on its way back)."""
        key, _ = self.fake.bots.prepare_bot_request(
            "",
            text,
            group_id=group_id,
            bot_id=self.bot_id,
            sender=sender,
            event=event,
            attachments=attachments,
            chat_context=chat_context,
            header=self.header,
        )
        return await self.redeliver(key, replica=replica, apply=apply)

    async def redeliver(
        self,
        key: str,
        *,
        replica: int | None = None,
        exclude: int | None = None,
        apply: bool = True,
        failover: bool = True,
    ) -> ReplicaDelivery:
        """POST message `key`'s request again: to `replica`, or to the policy's pick
        other than `exclude` (a retry that the load balancer sent elsewhere).

        `failover=False`: a replica that cannot be reached is not retried elsewhere
        (the `aiohttp.ClientError` is raised); the caller plays the retry.
        """
        tried: list[int] = []
        target = self.pick(exclude) if replica is None else replica
        while True:
            tried.append(target)
            try:
                status, raw = await self._post(key, target)
            except (aiohttp.ClientConnectionError, aiohttp.ServerTimeoutError):
                if not failover:
                    raise
                self.down(target)
                target = self.pick(target)
                continue
            return self._finish(key, tuple(tried), status, raw, apply)

    async def _post(self, key: str, replica: int) -> tuple[int, bytes]:
        if self._http is None:
            raise RuntimeError("use BotReplicas as `async with`")
        _, body, headers = self.fake.bots.sent[key]
        async with self._http.post(self.urls[replica], data=body, headers=headers) as r:
            return r.status, await r.read()

    def _finish(
        self, key: str, tried: tuple[int, ...], status: int, raw: bytes, apply: bool
    ) -> ReplicaDelivery:
        replies: list[dict[str, Any]] = []
        if status == 200:
            decoded: object = msgspec.json.decode(raw)
            if isinstance(decoded, list):
                replies = [
                    cast("dict[str, Any]", r)
                    for r in cast("list[object]", decoded)
                    if isinstance(r, dict)
                ]
        if apply:
            request = msgspec.json.decode(self.fake.bots.sent[key][1])
            group = self.fake.conversation(int(request["groupId"]))
            self.fake.bots.apply(group, self.bot_id, replies)
        return ReplicaDelivery(key, status, raw, tried, tuple(replies))
