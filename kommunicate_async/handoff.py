"""A handoff policy: pick who takes a conversation over by availability and hours.

    from kommunicate_async.handoff import HandoffPolicy

    policy = HandoffPolicy(preferred_agent="ann@acme.io", team_id="42",
                           team_agents=["ann@acme.io", "bob@acme.io"])
    decision = await policy.decide(km, conversation)   # pure reads
    decision = await policy.apply(km, conversation)    # decide, then act

The steps, first that fits wins (docs/wire.md#handoff):

1. out of the team's business hours: the offline message;
2. the preferred agent, if online;
3. an online agent of the team (`team_agents`, or anyone online without a team);
4. the team (`KM_TEAM_ID`: Kommunicate routes it within the team);
5. the routing rules;
6. nobody online: the offline message, then keep the bot, or resolve.

An assignee change answered `AGENT_BUSY` moves on to the next step. Every
decision is logged (logger `kommunicate_async.handoff`) with its reason. Kommunicate's
widget applies similar rules on the client side only; no SDK offers this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Literal

from ._errors import InvalidRequestError, KommunicateError
from ._validate import check_id, check_ids, check_text
from .models.assignee import AssignOutcome
from .models.conversation import ConversationStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ._session import KommunicateSession
    from .bots._reply import Reply
    from .models.agent import Availability
    from .models.business_hours import BusinessHours
    from .models.conversation import ConversationRef

__all__ = [
    "DEFAULT_OFFLINE_MESSAGE",
    "HandoffDecision",
    "HandoffPolicy",
    "HandoffStep",
    "OfflineAction",
]

log: Final = logging.getLogger("kommunicate_async.handoff")

DEFAULT_OFFLINE_MESSAGE: Final = (
    "Our team is offline right now. Leave a message and we will get back to you."
)
_HANDOFF_MESSAGE: Final = "our agents will get back to you"
_NOBODY_ONLINE: Final = "no agent is online"

OfflineAction = Literal["keep_bot", "resolve", "nothing"]
"""After the offline message: let the bot keep the conversation, resolve it, or
leave it as it is (open and with the bot)."""


class HandoffStep(StrEnum):
    """Where a conversation goes."""

    PREFERRED_AGENT = "preferred_agent"
    TEAM_AGENT = "team_agent"
    TEAM = "team"
    RULES = "rules"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class HandoffDecision:
    """A step and why it was chosen.

    Attributes:
        step: where the conversation goes.
        reason: one line saying why (also logged).
        agent: the agent, for the agent steps.
        team_id: the team, for the team step.
        message: the offline message, for the offline step.
        offline_action: what follows the offline message.
        skipped: (step, reason) of each step tried and passed over, in order
            (an `AGENT_BUSY` agent included).
        outcome: the assignee change's answer once applied, if any.
    """

    step: HandoffStep
    reason: str
    agent: str | None = None
    team_id: str | None = None
    message: str | None = None
    offline_action: OfflineAction = "keep_bot"
    skipped: tuple[tuple[HandoffStep, str], ...] = ()
    outcome: AssignOutcome | None = None

    @property
    def is_offline(self) -> bool:
        """No person takes over now."""
        return self.step is HandoffStep.OFFLINE


@dataclass(frozen=True, slots=True)
class HandoffPolicy:
    """Who takes a conversation over, by availability and business hours.

    Attributes:
        preferred_agent: tried first, when online.
        team_id: the conversation's team: its hours, its agents, then the team.
        team_agents: the team's agents in order of preference (Kommunicate has no
            team-members call); None: any online agent when `team_id` is None,
            and no agent step for a team.
        use_rules: fall back to the routing rules when an agent is online but no
            step above fits.
        check_hours: skip to the offline message out of business hours.
        offline_message: the text out of hours or with nobody online; None: the
            team's away message, else `DEFAULT_OFFLINE_MESSAGE`.
        offline_action: after the offline message, "keep_bot" (the default),
            "resolve" the conversation, or "nothing".
        handoff_message: what a bot says when a person takes over.
        clock: the time source for the hours check (tests pass a fixed one).
    """

    preferred_agent: str | None = None
    team_id: str | None = None
    team_agents: tuple[str, ...] | None = None
    use_rules: bool = True
    check_hours: bool = True
    offline_message: str | None = None
    offline_action: OfflineAction = "keep_bot"
    handoff_message: str = _HANDOFF_MESSAGE
    clock: Callable[[], datetime] | None = field(default=None, compare=False)

    def __init__(
        self,
        *,
        preferred_agent: str | None = None,
        team_id: str | int | None = None,
        team_agents: Iterable[str] | None = None,
        use_rules: bool = True,
        check_hours: bool = True,
        offline_message: str | None = None,
        offline_action: OfflineAction = "keep_bot",
        handoff_message: str = _HANDOFF_MESSAGE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        set_ = object.__setattr__  # frozen: assign once, here
        set_(
            self,
            "preferred_agent",
            None
            if preferred_agent is None
            else check_id(preferred_agent, "preferred_agent"),
        )
        if isinstance(team_id, bool):
            raise InvalidRequestError("team_id must be a str or int")
        set_(
            self,
            "team_id",
            None if team_id is None else check_id(str(team_id), "team_id"),
        )
        set_(
            self,
            "team_agents",
            None
            if team_agents is None
            else tuple(check_ids(team_agents, "team_agents", allow_empty=True)),
        )
        for name, flag in (("use_rules", use_rules), ("check_hours", check_hours)):
            if not isinstance(flag, bool):
                raise InvalidRequestError(f"{name} must be a bool")
        set_(self, "use_rules", use_rules)
        set_(self, "check_hours", check_hours)
        set_(
            self,
            "offline_message",
            None
            if offline_message is None
            else check_text(offline_message, "offline_message"),
        )
        if offline_action not in ("keep_bot", "resolve", "nothing"):
            raise InvalidRequestError(
                "offline_action must be 'keep_bot', 'resolve' or 'nothing'"
            )
        set_(self, "offline_action", offline_action)
        set_(self, "handoff_message", check_text(handoff_message, "handoff_message"))
        set_(self, "clock", clock)

    # -- deciding -------------------------------------------------------------------

    async def decide(
        self,
        km: KommunicateSession,
        conversation: ConversationRef,
        *,
        exclude: Iterable[str] = (),
    ) -> HandoffDecision:
        """The step this policy picks now; reads only (hours, availability).

        `exclude`: agents to pass over (those found busy). A failed read never
        blocks a handoff: unknown hours count as open, unknown availability
        skips the agent steps (both logged).
        """
        skipped: list[tuple[HandoffStep, str]] = []
        busy = set(exclude)
        hours = await self._hours(km)
        if hours is not None and not hours.is_open(self._now()):
            return self._offline(
                await self._offline_text(km, conversation, hours),
                _closed_reason(hours),
                skipped,
                conversation,
            )
        availability = await self._availability(km, skipped)
        online = None if availability is None else list(availability.online)
        # The steps in order; each either decides or notes in `skipped` why not.
        decision = self._preferred_step(online, busy, skipped)
        if decision is None:
            decision = self._team_agent_step(online, busy, skipped)
        if decision is None:
            decision = self._routing_step(online, skipped)
        if decision is not None:
            return self._logged(decision, conversation)
        someone = online is None or bool(online)
        reason = _NOBODY_ONLINE if not someone else "no step applies (rules off)"
        return self._offline(
            await self._offline_text(km, conversation, hours),
            reason,
            skipped,
            conversation,
        )

    def _preferred_step(
        self,
        online: list[str] | None,
        busy: set[str],
        skipped: list[tuple[HandoffStep, str]],
    ) -> HandoffDecision | None:
        """Step 2: the preferred agent, when free and known to be online."""
        agent = self.preferred_agent
        if agent is None:
            return None
        if agent in busy:
            skipped.append((HandoffStep.PREFERRED_AGENT, f"{agent} is busy"))
        elif online is None:
            skipped.append((HandoffStep.PREFERRED_AGENT, "availability unknown"))
        elif agent in online:
            return HandoffDecision(
                HandoffStep.PREFERRED_AGENT,
                f"preferred agent {agent} is online",
                agent=agent,
                skipped=tuple(skipped),
            )
        else:
            skipped.append((HandoffStep.PREFERRED_AGENT, f"{agent} is not online"))
        return None

    def _team_agent_step(
        self,
        online: list[str] | None,
        busy: set[str],
        skipped: list[tuple[HandoffStep, str]],
    ) -> HandoffDecision | None:
        """Step 3: a free online agent of the team (or anyone, without a team)."""
        found = self._team_agent(online, busy, skipped)
        if found is None:
            return None
        return HandoffDecision(
            HandoffStep.TEAM_AGENT,
            f"{found} is online" + (f" in team {self.team_id}" if self.team_id else ""),
            agent=found,
            team_id=self.team_id,
            skipped=tuple(skipped),
        )

    def _routing_step(
        self, online: list[str] | None, skipped: list[tuple[HandoffStep, str]]
    ) -> HandoffDecision | None:
        """Steps 4 and 5: the team, then the routing rules, when someone may be
        online (unknown availability counts as someone: Kommunicate decides)."""
        someone = online is None or bool(online)
        unknown = " (availability unknown)" if online is None else ""
        if self.team_id is not None:
            if someone:
                return HandoffDecision(
                    HandoffStep.TEAM,
                    f"team {self.team_id} routes it" + unknown,
                    team_id=self.team_id,
                    skipped=tuple(skipped),
                )
            skipped.append((HandoffStep.TEAM, _NOBODY_ONLINE))
        if self.use_rules:
            if someone:
                return HandoffDecision(
                    HandoffStep.RULES,
                    "the routing rules pick an agent" + unknown,
                    skipped=tuple(skipped),
                )
            skipped.append((HandoffStep.RULES, _NOBODY_ONLINE))
        return None

    def _team_agent(
        self,
        online: list[str] | None,
        busy: set[str],
        skipped: list[tuple[HandoffStep, str]],
    ) -> str | None:
        if online is None:
            return None
        candidates = self._candidates(online)
        if candidates is None:
            return None  # a team's members are unknown: the team step routes it
        for agent in candidates:
            if agent in busy:
                skipped.append((HandoffStep.TEAM_AGENT, f"{agent} is busy"))
            elif agent in online:
                return agent
        if candidates:
            skipped.append(
                (HandoffStep.TEAM_AGENT, "no free agent of the team is online")
            )
        return None

    def _candidates(self, online: list[str]) -> list[str] | None:
        """The agents the team-agent step tries, in order (the preferred agent
        was tried already); None when the step does not apply."""
        if self.team_agents is not None:
            return [a for a in self.team_agents if a != self.preferred_agent]
        if self.team_id is None:
            return [a for a in online if a != self.preferred_agent]
        return None

    def _offline(
        self,
        message: str,
        reason: str,
        skipped: list[tuple[HandoffStep, str]],
        conversation: ConversationRef,
    ) -> HandoffDecision:
        return self._logged(
            HandoffDecision(
                HandoffStep.OFFLINE,
                reason,
                message=message,
                team_id=self.team_id,
                offline_action=self.offline_action,
                skipped=tuple(skipped),
            ),
            conversation,
        )

    def _logged(
        self, decision: HandoffDecision, conversation: ConversationRef
    ) -> HandoffDecision:
        log.info(
            "handoff of %s: %s (%s)%s",
            _name(conversation),
            decision.step.value,
            decision.reason,
            "".join(f"; skipped {s.value}: {r}" for s, r in decision.skipped),
        )
        return decision

    def _now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now().astimezone()

    async def _hours(self, km: KommunicateSession) -> BusinessHours | None:
        if not self.check_hours:
            return None
        try:
            return await km.business_hours.get(self.team_id)
        except KommunicateError as exc:
            # No settings (a plan without business hours) or a failed read: open.
            log.info(
                "handoff: business hours unknown (%s); treated as open",
                type(exc).__name__,
            )
            return None

    async def _availability(
        self, km: KommunicateSession, skipped: list[tuple[HandoffStep, str]]
    ) -> Availability | None:
        try:
            return await km.agents.availability()
        except KommunicateError as exc:
            log.info("handoff: availability unknown (%s)", type(exc).__name__)
            skipped.append(
                (HandoffStep.TEAM_AGENT, f"availability unknown ({type(exc).__name__})")
            )
            return None

    async def _offline_text(
        self,
        km: KommunicateSession,
        conversation: ConversationRef,
        hours: BusinessHours | None,
    ) -> str:
        if self.offline_message is not None:
            return self.offline_message
        if hours is not None and hours.message:
            return hours.message
        try:
            away = await km.business_hours.away_message(conversation)
        except KommunicateError:
            away = None
        return (away.text if away is not None else None) or DEFAULT_OFFLINE_MESSAGE

    # -- acting ---------------------------------------------------------------------

    async def apply(
        self,
        km: KommunicateSession,
        conversation: ConversationRef,
        decision: HandoffDecision | None = None,
        *,
        send_offline_message: bool = True,
        max_busy: int = 10,
    ) -> HandoffDecision:
        """Decide (unless `decision` is given) and carry the step out.

        An agent step assigns the agent; an `AGENT_BUSY` answer passes that agent
        over and decides again (at most `max_busy` times). The team step moves the
        conversation to the team (`KM_TEAM_ID`), the rules step asks the routing
        rules (`assignee/change` without an assignee), the offline step sends the
        offline message (unless `send_offline_message=False`, as a bot that
        answers with it does) and resolves the conversation if the policy says so.

        Returns:
            The decision carried out, with the assignee change's `outcome`.
        """
        busy: list[str] = []
        if decision is None:
            decision = await self.decide(km, conversation)
        for _ in range(max_busy + 1):
            if decision.step not in (
                HandoffStep.PREFERRED_AGENT,
                HandoffStep.TEAM_AGENT,
            ):
                return await self._route(
                    km, conversation, decision, send_offline_message
                )
            assert decision.agent is not None
            outcome = await km.assignees.change(conversation, decision.agent)
            if outcome is not AssignOutcome.AGENT_BUSY:
                return replace(decision, outcome=outcome)
            log.info(
                "handoff of %s: %s is busy (AGENT_BUSY), next step",
                _name(conversation),
                decision.agent,
            )
            busy.append(decision.agent)
            decision = await self.decide(km, conversation, exclude=busy)
        raise InvalidRequestError(f"more than {max_busy} agents answered AGENT_BUSY")

    async def _route(
        self,
        km: KommunicateSession,
        conversation: ConversationRef,
        decision: HandoffDecision,
        send_offline_message: bool,
    ) -> HandoffDecision:
        """Carry out a step without an agent (team, rules, offline): no
        `AGENT_BUSY` retry applies to these."""
        if decision.step is HandoffStep.TEAM:
            assert decision.team_id is not None
            await km.conversations.update_team(conversation, decision.team_id)
            return decision
        if decision.step is HandoffStep.RULES:
            outcome = await km.assignees.apply_rules(conversation)
            return replace(decision, outcome=outcome)
        if send_offline_message and decision.message:
            await km.messages.send(conversation, decision.message)
        if decision.offline_action == "resolve":
            await km.conversations.set_status(conversation, ConversationStatus.RESOLVED)
        return decision

    async def reply(
        self,
        km: KommunicateSession,
        conversation: ConversationRef,
        *,
        message: str | None = None,
    ) -> Reply:
        """Apply the policy and return what a bot says (`Reply.handoff(policy=…)`):
        `message` (else `handoff_message`) when a person takes over, else the
        offline message, which is the bot's own answer (so not sent twice).
        """
        from .bots._reply import Reply

        decision = await self.apply(km, conversation, send_offline_message=False)
        said = message or self.handoff_message
        return Reply((decision.message or said) if decision.is_offline else said)


def _closed_reason(hours: BusinessHours) -> str:
    """Why the offline step was taken out of hours (logged with the decision)."""
    team = hours.team_name or hours.team_id or "default"
    return f"out of business hours (team {team}, {hours.timezone})"


def _name(conversation: ConversationRef) -> str:
    found = getattr(conversation, "id", conversation)
    return repr(found)
