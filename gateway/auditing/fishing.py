"""Status checks that look like fishing rather than checking one's own affiliates.

A fund checks the people it holds a file on: it knows their NIR and lives in its
territory. An agent who keeps asking about people by name alone and finding nobody, who
gets many weak matches (namesakes, half-known identities), or who asks about people
living outside the fund's territory, or without saying where they live, is probing the
register. Each pattern is counted
per agent from the audit events of the checks, in the database (a sweep is millions of
events), and an agent is flagged when a pattern passes its threshold over enough checks.
The flags are for auditors to look into: they accuse no one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from audit.actions import AuditOutcome
from gateway import tenancy
from gateway.auditing import repository

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

MIN_CHECKS = 20  # fewer checks say nothing about a pattern
WEAK_SHARE = 0.2  # of an agent's checks answered by a weak match
UNMATCHED_BY_NAME_SHARE = 0.5  # of an agent's checks by name alone that found nobody
OUTSIDE_TERRITORY = 5  # checks refused as outside the fund's territory, any share
UNSTATED_RESIDENCE = 5  # checks refused for not saying where the person lives, any share


@dataclass
class AgentChecks:
    """One agent's checks in a period, counted by what they suggest."""

    agent_id: str | None
    checks: int = 0
    weak: int = 0
    conflicts: int = 0  # an identifier matched a person the identity sent contradicts
    by_name: int = 0  # sent with no identifier
    by_name_unmatched: int = 0
    outside_territory: int = 0
    without_departement: int = 0  # refused: no residence département from a territorial fund
    reasons: list[str] = field(default_factory=list)

    def flag(self) -> AgentChecks:
        """Name the patterns past their threshold (``reasons``); returns itself."""
        total = self.checks + self.outside_territory + self.without_departement
        self.reasons = []
        if self.outside_territory >= OUTSIDE_TERRITORY:
            self.reasons.append("outside-territory")
        if self.without_departement >= UNSTATED_RESIDENCE:
            self.reasons.append("residence-unstated")
        if total >= MIN_CHECKS and self.weak >= WEAK_SHARE * self.checks > 0:
            self.reasons.append("weak-matches")
        if self.by_name >= MIN_CHECKS and self.by_name_unmatched >= (
            UNMATCHED_BY_NAME_SHARE * self.by_name
        ):
            self.reasons.append("unmatched-by-name")
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def agent_checks(
    session: Session, fund_id: str, since: datetime, until: datetime
) -> list[AgentChecks]:
    """Every agent of the fund who checked in the period, with the counts of each pattern."""
    rows = repository.agent_check_counts(session, fund_id, since, until)
    agents: dict[str | None, AgentChecks] = defaultdict(lambda: AgentChecks(None))
    for agent_id, outcome, level, refused_by, with_identifiers, count in rows:
        agent = agents[agent_id]
        agent.agent_id = agent_id
        if outcome == AuditOutcome.REFUSED:
            agent.outside_territory += count if refused_by == tenancy.OUTSIDE_TERRITORY else 0
            agent.without_departement += count if refused_by == tenancy.RESIDENCE_REQUIRED else 0
            continue
        agent.checks += count
        agent.weak += count if level == "weak" else 0
        agent.conflicts += count if level == "conflict" else 0
        if not with_identifiers:
            agent.by_name += count
            agent.by_name_unmatched += count if level == "none" else 0
    return [agents[key].flag() for key in sorted(agents, key=lambda key: key or "")]
