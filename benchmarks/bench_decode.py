"""Decode speed of a 50-conversation list and a 1000-message list.

library   the reply decoder every call uses (envelope or bare, typed models)
msgspec   a bare msgspec typed decode of the same shape (the floor)
json      json.loads to dicts
orjson    orjson.loads to dicts
pydantic  pydantic v2 models of the same shape (model_validate_json)

  python -m benchmarks.bench_decode [--repeat 200]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from typing import TYPE_CHECKING, Any

import msgspec
import orjson
from pydantic import BaseModel, ConfigDict, Field

from benchmarks._common import emit, table
from kommunicate_async._pipeline.reply import reply_decoder
from kommunicate_async.models._base import Envelope
from kommunicate_async.models.conversation import ConversationPage
from kommunicate_async.models.message import MessagePage

if TYPE_CHECKING:
    from collections.abc import Callable


def conversations_body(n: int = 50) -> bytes:
    groups = [
        {
            "id": 10_000_000 + i,
            "clientGroupId": f"order-{i}",
            "name": f"Order {i}",
            "adminId": "bot",
            "membersId": [f"user-{i}", "agent@acme.io", "bot"],
            "membersName": [f"User {i}", "Agent", "Bot"],
            "unreadCount": i % 3,
            "type": 10,
            "createdAtTime": 1763985000000 + i,
            "updatedAtTime": 1763985600000 + i,
            "metadata": {
                "CONVERSATION_ASSIGNEE": "agent@acme.io",
                "CONVERSATION_STATUS": "0",
                "KM_TEAM_ID": "42",
                "SKIP_ROUTING": "true",
                "KM_CONVERSATION_TITLE": f"Order {i}",
                "conversationMetadata": '{"plan":"gold","orders":3}',
            },
        }
        for i in range(n)
    ]
    return msgspec.json.encode(
        {
            "status": "success",
            "generatedAt": 1,
            "response": {"groups": groups, "lastFetchTime": 1},
        }
    )


def messages_body(n: int = 1000) -> bytes:
    messages = [
        {
            "key": f"5-{i:016x}-1763985600{i:03d}",
            "userKey": "uk",
            "to": "user-1",
            "contactIds": "user-1",
            "groupId": 12345678,
            "clientGroupId": "order-991",
            "message": f"message number {i} with some text",
            "sent": True,
            "delivered": True,
            "read": False,
            "createdAtTime": 1763985600000 - i,
            "type": 4,
            "source": 1,
            "status": 3,
            "contentType": 0,
            "metadata": {"skipBot": "true", "n": str(i)},
        }
        for i in range(n)
    ]
    return msgspec.json.encode(
        {"message": messages, "userDetails": [], "groupFeeds": []}
    )


class PConversation(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: int
    client_group_id: str | None = Field(default=None, alias="clientGroupId")
    name: str = ""
    members_id: list[str] = Field(default_factory=list, alias="membersId")
    metadata: dict[str, str] = Field(default_factory=dict)
    admin_id: str | None = Field(default=None, alias="adminId")
    unread_count: int | None = Field(default=None, alias="unreadCount")
    created_at_time: int | None = Field(default=None, alias="createdAtTime")
    updated_at_time: int | None = Field(default=None, alias="updatedAtTime")
    type: int | None = None


class PPage(BaseModel):
    groups: list[PConversation] = Field(default_factory=list)


class PEnvelope(BaseModel):
    status: str
    response: PPage | None = None


class PMessage(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    message: str = ""
    created_at_time: int = Field(default=0, alias="createdAtTime")
    metadata: dict[str, str] = Field(default_factory=dict)
    group_id: int | None = Field(default=None, alias="groupId")
    client_group_id: str | None = Field(default=None, alias="clientGroupId")
    contact_ids: str | None = Field(default=None, alias="contactIds")
    to: str | None = None
    type: int | None = None
    content_type: int | None = Field(default=None, alias="contentType")
    status: int | None = None


class PMessages(BaseModel):
    message: list[PMessage] = Field(default_factory=list)


def interleaved(
    fns: dict[str, Callable[[], Any]], rounds: int
) -> dict[str, list[float]]:
    """Microseconds per call of each decoder, measured round by round in turn.

    Interleaving puts every decoder under the same machine conditions in each round;
    the collector is off while timing (as `timeit` does), so a collection triggered
    by one decoder's garbage is not billed to another.
    """
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            gc.collect()
            gc.disable()
            try:
                started = time.perf_counter()
                for _ in range(5):
                    fn()
                samples[name].append((time.perf_counter() - started) / 5 * 1e6)
            finally:
                gc.enable()
    return samples


def main(rounds: int) -> None:
    cases = {
        "50 conversations": (
            conversations_body(),
            ConversationPage,
            Envelope[ConversationPage],
            PEnvelope,
        ),
        "1000 messages": (messages_body(), MessagePage, MessagePage, PMessages),
    }
    rows, result = [], {}
    for label, (body, model, floor_type, pmodel) in cases.items():
        library = reply_decoder(model)
        floor = msgspec.json.Decoder(floor_type)
        samples = interleaved(
            {
                "library": lambda: library.decode(body),  # noqa: B023
                "msgspec": lambda: floor.decode(body),  # noqa: B023
                "json": lambda: json.loads(body),  # noqa: B023
                "orjson": lambda: orjson.loads(body),  # noqa: B023
                "pydantic": lambda: pmodel.model_validate_json(body),  # noqa: B023
            },
            rounds,
        )
        floor_us = samples["msgspec"]
        for name, values in samples.items():
            ratios = sorted(v / f for v, f in zip(values, floor_us, strict=True))
            rows.append(
                [
                    label,
                    name,
                    statistics.median(values),
                    statistics.median(ratios),
                    f"{ratios[len(ratios) // 10]:.2f}-"
                    f"{ratios[-len(ratios) // 10 - 1]:.2f}",
                ]
            )
        key = "conversations50" if label.startswith("50") else "messages1000"
        med = {name: statistics.median(values) for name, values in samples.items()}
        result[key] = {
            "library_us": round(med["library"], 1),
            "library_vs_floor": round(
                statistics.median(
                    [v / f for v, f in zip(samples["library"], floor_us, strict=True)]
                ),
                3,
            ),
            "json_vs_library": round(med["json"] / med["library"], 2),
            "pydantic_vs_library": round(med["pydantic"] / med["library"], 2),
        }
    print(table(["payload", "decoder", "us", "x floor", "p10-p90"], rows))
    emit("decode", result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    main(parser.parse_args().rounds)
