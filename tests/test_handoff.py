"""The handoff policy: every branch, table-driven, against FakeKommunicate.

Each row sets who is online or busy and the team's hours, then applies a policy
and checks the decision, its reason and what the fake then holds (assignee, team,
status, messages). Availability and hours come from code-only SDK calls (N13,
N20: UNCERTAIN, docs/wire.md#handoff); an unreadable one never blocks a handoff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from kommunicate_async import InvalidRequestError
from kommunicate_async.handoff import (
    DEFAULT_OFFLINE_MESSAGE,
    HandoffDecision,
    HandoffPolicy,
    HandoffStep,
)
from kommunicate_async.models.assignee import AssignOutcome
from kommunicate_async.testing import FakeKommunicate, FaultPlan, RouteFaults

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession

MONDAY_NOON = datetime(2026, 1, 5, 12, tzinfo=UTC)
SUNDAY_NOON = datetime(2026, 1, 4, 12, tzinfo=UTC)
WEEKDAYS = {str(d): "0900-1800" for d in range(1, 6)}


@dataclass
class Case:
    name: str
    policy: dict[str, Any]
    online: list[str] = field(default_factory=list[str])
    away: list[str] = field(default_factory=list[str])
    busy: list[str] = field(default_factory=list[str])
    hours: dict[str, str] | None = None
    at: datetime = MONDAY_NOON
    step: HandoffStep = HandoffStep.RULES
    agent: str | None = None
    reason: str = ""
    assignee: str | None = None
    team: str | None = None
    status: str = "0"
    said: str | None = None
    skipped: list[str] = field(default_factory=list[str])


CASES = [
    Case(
        "preferred agent online",
        {"preferred_agent": "ann"},
        online=["bob", "ann"],
        step=HandoffStep.PREFERRED_AGENT,
        agent="ann",
        reason="preferred agent ann is online",
        assignee="ann",
    ),
    Case(
        "preferred away -> an online agent of the team",
        {"preferred_agent": "ann", "team_id": 7, "team_agents": ["cid", "bob"]},
        online=["bob"],
        away=["ann", "cid"],
        step=HandoffStep.TEAM_AGENT,
        agent="bob",
        reason="bob is online in team 7",
        assignee="bob",
        skipped=["preferred_agent"],
    ),
    Case(
        "preferred busy (AGENT_BUSY) -> next agent",
        {"preferred_agent": "ann", "team_agents": ["bob"]},
        online=["ann", "bob"],
        busy=["ann"],
        step=HandoffStep.TEAM_AGENT,
        agent="bob",
        assignee="bob",
        reason="bob is online",
        skipped=["preferred_agent"],
    ),
    Case(
        "no team: any online agent",
        {},
        online=["dan"],
        step=HandoffStep.TEAM_AGENT,
        agent="dan",
        assignee="dan",
        reason="dan is online",
    ),
    Case(
        "team agents all busy -> the team",
        {"team_id": "7", "team_agents": ["bob"]},
        online=["bob", "eve"],
        busy=["bob"],
        step=HandoffStep.TEAM,
        reason="team 7 routes it",
        team="7",
        skipped=["team_agent"],
    ),
    Case(
        "team without known members -> the team",
        {"team_id": "7"},
        online=["eve"],
        step=HandoffStep.TEAM,
        team="7",
        reason="team 7 routes it",
    ),
    Case(
        "every candidate busy, no team -> the rules",
        {"team_agents": ["bob"]},
        online=["bob", "eve"],
        busy=["bob"],
        step=HandoffStep.RULES,
        reason="the routing rules pick an agent",
        assignee="eve",  # the fake's rules: the first online agent
    ),
    Case(
        "nobody online -> offline message, bot keeps it",
        {"team_id": "7", "offline_message": "Back tomorrow at 9."},
        away=["ann"],
        step=HandoffStep.OFFLINE,
        reason="no agent is online",
        said="Back tomorrow at 9.",
        skipped=["team", "rules"],
    ),
    Case(
        "nobody online -> offline, resolve",
        {"offline_action": "resolve"},
        step=HandoffStep.OFFLINE,
        reason="no agent is online",
        said=DEFAULT_OFFLINE_MESSAGE,
        status="2",
    ),
    Case(
        "out of hours -> the team's away message",
        {"preferred_agent": "ann"},
        online=["ann"],
        hours=WEEKDAYS,
        at=SUNDAY_NOON,
        step=HandoffStep.OFFLINE,
        reason="out of business hours (team Default Team, Europe/Paris)",
        said="Closed on weekends",
    ),
    Case(
        "within hours -> the agent",
        {"preferred_agent": "ann"},
        online=["ann"],
        hours=WEEKDAYS,
        step=HandoffStep.PREFERRED_AGENT,
        agent="ann",
        assignee="ann",
        reason="preferred agent ann is online",
    ),
    Case(
        "hours not checked",
        {"preferred_agent": "ann", "check_hours": False},
        online=["ann"],
        hours=WEEKDAYS,
        at=SUNDAY_NOON,
        step=HandoffStep.PREFERRED_AGENT,
        agent="ann",
        assignee="ann",
        reason="preferred agent ann is online",
    ),
    Case(
        "rules off, nobody fits -> offline",
        {"use_rules": False, "team_agents": []},
        online=["eve"],
        step=HandoffStep.OFFLINE,
        reason="no step applies (rules off)",
        said=DEFAULT_OFFLINE_MESSAGE,
    ),
]


@pytest.fixture
def kommunicate_session_options() -> dict[str, Any]:
    """`session` (the root's, on `fake`) makes no retries here."""
    return {"max_retries": 0}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_branch_table(
    case: Case,
    fake: FakeKommunicate,
    session: KommunicateSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for agent in case.online:
        fake.add_agent(agent)
    for agent in case.away:
        fake.add_agent(agent, online=False)
    fake.state.busy_agents.update(case.busy)
    if case.hours is not None:
        fake.add_team(
            "Default Team",
            timezone="Europe/Paris",
            hours=case.hours,
            message="Closed on weekends",
        )
    chat = await session.conversations.create(["user-1", "bot"])
    policy = HandoffPolicy(**case.policy, clock=lambda: case.at)
    with caplog.at_level(logging.INFO, "kommunicate_async.handoff"):
        decision = await policy.apply(session, chat)
    assert (decision.step, decision.agent) == (case.step, case.agent)
    assert decision.reason == case.reason
    assert [s.value for s, _ in decision.skipped][: len(case.skipped)] == case.skipped
    assert any(case.reason in r.getMessage() for r in caplog.records)
    group = fake.conversation(chat.id)
    assert group.metadata.get("CONVERSATION_ASSIGNEE") == case.assignee
    assert group.metadata.get("KM_TEAM_ID") == case.team
    assert group.metadata["CONVERSATION_STATUS"] == case.status
    said = [m.text for m in fake.messages(chat.id)]
    assert said == ([case.said] if case.said else [])
    if case.assignee is not None and case.step is not HandoffStep.RULES:
        assert decision.outcome is AssignOutcome.UPDATED


async def test_decide_only_reads(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    fake.add_agent("ann")
    chat = await session.conversations.create(["user-1"])
    before = len(fake.requests)
    decision = await HandoffPolicy(preferred_agent="ann").decide(session, chat)
    assert decision == HandoffDecision(
        HandoffStep.PREFERRED_AGENT,
        "preferred agent ann is online",
        agent="ann",
    )
    methods = {r.method for r in list(fake.requests)[before:]}
    assert methods == {"GET"}
    assert fake.conversation(chat.id).metadata.get("CONVERSATION_ASSIGNEE") is None


async def test_unknown_availability_still_hands_off() -> None:
    """A failing availability read skips the agent steps, never the handoff."""
    async with FakeKommunicate(
        faults=FaultPlan(
            seed=1,
            routes={"GET /users/availability/status": RouteFaults(error_500=1.0)},
        )
    ) as broken:
        async with broken.session(max_retries=0) as session:
            chat = await session.conversations.create(["user-1"])
            policy = HandoffPolicy(preferred_agent="ann", team_id="7")
            decision = await policy.apply(session, chat)
    assert decision.step is HandoffStep.TEAM
    assert decision.reason == "team 7 routes it (availability unknown)"
    assert (HandoffStep.PREFERRED_AGENT, "availability unknown") in decision.skipped


async def test_busy_loop_is_bounded(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    fake.add_agent("ann")
    fake.state.busy_agents.add("ann")
    chat = await session.conversations.create(["user-1"])
    sticky = HandoffDecision(HandoffStep.PREFERRED_AGENT, "forced", agent="ann")
    policy = HandoffPolicy(preferred_agent="ann")
    with pytest.raises(InvalidRequestError):
        await _always_busy(policy).apply(session, chat, sticky, max_busy=1)


def _always_busy(policy: HandoffPolicy) -> HandoffPolicy:
    class Stubborn(HandoffPolicy):
        async def decide(
            self,
            km: Any,  # noqa: ARG002
            conversation: Any,  # noqa: ARG002
            *,
            exclude: Any = (),  # noqa: ARG002
        ) -> HandoffDecision:
            return HandoffDecision(HandoffStep.PREFERRED_AGENT, "forced", agent="ann")

    return Stubborn(preferred_agent=policy.preferred_agent)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"preferred_agent": ""},
        {"team_id": True},
        {"team_agents": [""]},
        {"use_rules": "no"},
        {"offline_message": ""},
        {"offline_action": "delete"},
        {"handoff_message": ""},
    ],
)
def test_policy_refuses_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        HandoffPolicy(**kwargs)
