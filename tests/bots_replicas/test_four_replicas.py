"""Four bot replica processes on one Redis, for real (run by .ci/run: `pytest -m
botreplicas`, which starts redis-server; without REDIS_URL the test starts its own).

The replicas are examples/multi_replica_bot.py's aiohttp server (tests/bots_replicas/
replica.py logs each handler run in Redis). This process is Kommunicate: a
FakeKommunicate for the late answers, and a load balancer (`BotReplicas`) that
delivers CONVERSATIONS x 5 messages, each conversation's messages one after the
other (the next once the previous was answered, inline or with the interim):

- 10% of the messages are redelivered to a different replica than the first try,
  while or after it runs (the first try's answer is dropped, as if lost);
- 3% of the handlers outlive the reply deadline: their answer is posted late, and the
  next message of the conversation arrives while they still run;
- replica 0 is SIGKILLed once a third of the messages are in: its open requests are
  retried on the others (which take the runs over after the lease), and its late
  runs are finished by the others too.

Asserted: every message's handler completed exactly once, in order within each
conversation; every message got exactly one answer in its conversation (inline, or
posted late: a late post counts once per dedupe key, as Kommunicate dedupes); none
was lost; no request was refused.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import socket
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

import aiohttp
import anyio
import pytest

from kommunicate_async.testing import BotReplicas, FakeKommunicate, ReplicaDelivery

if TYPE_CHECKING:
    from redis.asyncio import Redis

pytestmark = pytest.mark.botreplicas
_log = logging.getLogger(__name__)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPLICA = os.path.join(ROOT, "tests", "bots_replicas", "replica.py")
CONVERSATIONS = int(os.environ.get("BOTREPLICAS_CONVERSATIONS", "2000"))
MESSAGES = 5
REPLICAS = 4
AT_ONCE = 150  # conversations in flight
HEADER = ("X-Bot-Token", "replicas-s3cret")
LOGS = os.environ.get("BOTREPLICAS_LOGS")
"""A directory for each replica's log (INFO), to look into a failure."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def _listening(port: int) -> None:
    with anyio.fail_after(20):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            await stream.aclose()
            return


class Traffic:
    """The load: each conversation's messages, redeliveries, slow handlers."""

    def __init__(self, lb: BotReplicas, groups: list[int]) -> None:
        self.lb = lb
        self.groups = groups
        self.random = random.Random(21)
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.redelivered = 0
        self.posts: list[tuple[float, float, ReplicaDelivery]] = []
        """(start, end, delivery) of every POST, first tries included."""

    async def conversation(self, group: int) -> None:
        for seq in range(1, MESSAGES + 1):
            slow = self.random.random() < 0.03
            delay = (
                self.random.randint(1500, 1800) if slow else self.random.randint(0, 15)
            )
            text = f"m{seq} d{delay}"
            if self.random.random() < 0.10:
                await self._redelivered(group, text)
            else:
                start = time.monotonic()
                found = await self.lb.deliver(text, group_id=group)
                self._done(start, found)
            self.sent += 1

    async def _redelivered(self, group: int, text: str) -> None:
        self.redelivered += 1
        key, _ = self.lb.fake.bots.prepare_bot_request(
            "", text, group_id=group, bot_id=self.lb.bot_id, header=self.lb.header
        )
        first = self.lb.pick()
        start = time.monotonic()
        lost = asyncio.create_task(self._lost(key, first))
        await asyncio.sleep(self.random.random() * 0.05)
        if self.random.random() < 0.5:
            await lost  # the retry comes after the first try was answered (and lost)
        again = time.monotonic()
        self._done(again, await self.lb.redeliver(key, exclude=first))
        tried = await lost
        if tried is not None:
            self.posts.append((start, time.monotonic(), tried))

    async def _lost(self, key: str, replica: int) -> ReplicaDelivery | None:
        """A first try whose answer never makes it back: the redelivery is its
        retry (so a dead replica is not retried elsewhere here)."""
        try:
            return await self.lb.redeliver(
                key, replica=replica, apply=False, failover=False
            )
        except aiohttp.ClientError:
            return None

    def _done(self, start: float, found: ReplicaDelivery) -> None:
        self.statuses[found.status] += 1
        self.posts.append((start, time.monotonic(), found))

    def at_risk(self, killed_at: float) -> int:
        """Runs the killed replica (0) may have had in hand when it died: requests
        open then, and late runs (answered `[]`) from the 2 s before."""
        return sum(
            1
            for start, end, found in self.posts
            if found.replicas[0] == 0
            and (
                start <= killed_at <= end
                or (
                    found.replica == 0
                    and found.body == b"[]"
                    and killed_at - 2 <= end <= killed_at
                )
            )
        )

    async def run(self) -> None:
        queue = list(self.groups)

        async def worker() -> None:
            while queue:
                await self.conversation(queue.pop())

        await asyncio.gather(*(worker() for _ in range(AT_ONCE)))


async def _spawn(
    env: dict[str, str], port: int, namespace: str
) -> asyncio.subprocess.Process:
    log = os.path.join(LOGS, f"replica-{port}.log") if LOGS else os.devnull
    with open(log, "wb") as stderr:  # noqa: ASYNC230 - a local file, once
        return await asyncio.create_subprocess_exec(
            sys.executable,
            REPLICA,
            str(port),
            namespace,
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )


async def _answers(fake: FakeKommunicate, group: int) -> Counter[str]:
    """Each answer text in the conversation, a late post once per dedupe key."""
    seen: set[str] = set()
    texts: Counter[str] = Counter()
    for message in fake.messages(group):
        if not message.text.startswith("answer "):
            continue
        mark = message.metadata.get("kmDedupeKey")
        if mark is not None:
            if mark in seen:
                continue
            seen.add(mark)
        texts[message.text] += 1
    return texts


async def _all_done(redis: Redis, log: str, groups: list[int]) -> dict[int, list[str]]:
    async with redis.pipeline(transaction=False) as pipe:
        for group in groups:
            pipe.lrange(f"{log}:done:{group}", 0, -1)
        found = await pipe.execute()
    return {
        g: [s.decode() for s in done] for g, done in zip(groups, found, strict=True)
    }


async def test_four_replicas_one_answer_one_order(redis_url: str) -> None:
    from redis.asyncio import Redis

    namespace = f"e2e-{os.getpid()}-{time.time_ns()}"
    log = f"e2e:{namespace}"
    expected = [f"m{seq}" for seq in range(1, MESSAGES + 1)]
    async with FakeKommunicate(log_limit=0) as fake:
        groups = [
            fake.state.create_group(
                name=f"c{i}",
                members=["user", "bot"],
                client_group_id=None,
                metadata={},
                admin_id="bot",
            ).id
            for i in range(CONVERSATIONS)
        ]
        env = {
            **os.environ,
            "PYTHONPATH": ROOT,
            "REDIS_URL": redis_url,
            "BOT_TOKEN": HEADER[1],
            "HOST": "127.0.0.1",
            "KOMMUNICATE_API_KEY": fake.api_key,
            "KOMMUNICATE_BASE_URL": fake.url,
            "KOMMUNICATE_CHAT_URL": fake.url,
        }
        ports = [_free_port() for _ in range(REPLICAS)]
        replicas = [await _spawn(env, port, namespace) for port in ports]
        redis = Redis.from_url(redis_url)
        started = time.monotonic()
        try:
            for port in ports:
                await _listening(port)
            urls = [f"http://127.0.0.1:{port}/bot" for port in ports]
            async with BotReplicas(
                fake, urls, header=HEADER, connections=400, http_timeout=30
            ) as lb:
                traffic = Traffic(lb, groups)
                load = asyncio.create_task(traffic.run())
                with anyio.fail_after(120):
                    while traffic.sent < CONVERSATIONS * MESSAGES // 3:  # noqa: ASYNC110
                        await asyncio.sleep(0.02)
                os.kill(
                    replicas[0].pid, signal.SIGKILL
                )  # requests and late runs in flight
                killed_at = time.monotonic()
                await replicas[0].wait()
                with anyio.fail_after(240):
                    await load
            settle = time.monotonic() + 30  # the late answers still on their way
            while time.monotonic() < settle:
                done = await _all_done(redis, log, groups)
                if all(len(d) >= MESSAGES for d in done.values()):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.5)  # a duplicate run would show by now
            done = await _all_done(redis, log, groups)
        finally:
            for replica in replicas:
                if replica.returncode is None:
                    replica.send_signal(signal.SIGTERM)
            for replica in replicas:
                try:
                    await asyncio.wait_for(replica.wait(), 20)
                except TimeoutError:
                    replica.kill()
                    await replica.wait()
            await redis.aclose()
        took = time.monotonic() - started
        answers = {group: await _answers(fake, group) for group in groups}
        stored = {
            group: [
                (m.sender, m.text, m.metadata.get("kmDedupeKey"))
                for m in fake.messages(group)
            ]
            for group in groups
        }
    _log.warning(
        f"{CONVERSATIONS} conversations x {MESSAGES} messages over {REPLICAS} replicas "
        f"(one killed), {traffic.redelivered} redelivered: {took:.1f} s"
    )
    assert set(traffic.statuses) == {200}, traffic.statuses  # none refused
    killed = str(replicas[0].pid)
    twice = 0
    for group in groups:
        runs = [entry.split("@") for entry in done[group]]
        order = [
            seq for i, (seq, _) in enumerate(runs) if i == 0 or runs[i - 1][0] != seq
        ]
        assert order == expected, (group, done[group])  # in order, none lost
        for seq in expected:
            pids = [pid for s, pid in runs if s == seq]
            if len(pids) == 2:
                # The one crash window (docs/guides/many-replicas.md): the killed
                # replica completed the handler but died before recording its
                # answer; the retry ran it again, on a live replica.
                assert killed in pids and pids[-1] != killed, (group, done[group])
                twice += 1
            else:
                assert len(pids) == 1, (group, done[group])
    at_risk = traffic.at_risk(killed_at)
    _log.warning(
        f"{twice} of the {at_risk} runs in hand on the killed replica had completed "
        "unrecorded, and ran again"
    )
    assert twice <= at_risk  # only runs in hand on the killed replica, at the kill
    for group in groups:
        want = Counter(f"answer {group} {seq}" for seq in expected)
        assert answers[group] == want, (group, stored[group])  # exactly one each
