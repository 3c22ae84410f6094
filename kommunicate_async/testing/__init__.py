"""Test helpers: `FakeKommunicate`, an in-memory Kommunicate, and fault plans.

The package root never imports this module (it pulls in aiohttp.web).
"""

from __future__ import annotations

from .._public import claim
from ._bot_server import RunningBot, serve_bot
from ._bots import BotDelivery
from ._faults import Fault, FaultPlan, RouteFaults
from ._flow import BotTestFlow, VirtualClock
from ._kong import KongLimit
from ._replicas import BotReplicas, ReplicaDelivery
from ._server import FakeKommunicate, LoggedRequest
from ._state import FakeGroup, FakeMessage, FakeState, FakeUser

__all__ = [
    "BotDelivery",
    "BotReplicas",
    "BotTestFlow",
    "FakeGroup",
    "FakeKommunicate",
    "FakeMessage",
    "FakeState",
    "FakeUser",
    "Fault",
    "FaultPlan",
    "KongLimit",
    "LoggedRequest",
    "ReplicaDelivery",
    "RouteFaults",
    "RunningBot",
    "VirtualClock",
    "serve_bot",
]

claim(__name__, globals())  # reprs and tracebacks read the public path
