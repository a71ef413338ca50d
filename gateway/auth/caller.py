"""The ``Caller`` of each request: who, with which scopes, for whom and for what purpose.

A plain value, built by ``gateway.auth.dependencies.authenticate`` once the request's
token, participant, scopes, delegation, agent and purpose are checked. Repositories take
it to filter what the caller may see (``gateway.tenancy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.auth.scopes import Scope
from gateway.participants.models import ParticipantKind


@dataclass(frozen=True)
class Caller:
    """The authenticated participant, and the participant whose data it acts on.

    ``acting_for`` is the participant itself unless a delegate (a national centre) names
    one of the participants it may act for; ``territory`` is that participant's.
    """

    participant_id: str
    kind: ParticipantKind
    acting_for: str
    scopes: frozenset[Scope]
    territory: tuple[str, ...]
    national: bool
    purpose: str
    agent_id: str | None
    case_reference: str | None
    dpop_bound: bool

    def as_document(self) -> dict[str, Any]:
        """The caller as JSON, for work done later in its name (an import's worker)."""
        return {
            "participant_id": self.participant_id,
            "kind": str(self.kind),
            "acting_for": self.acting_for,
            "scopes": sorted(str(scope) for scope in self.scopes),
            "territory": list(self.territory),
            "national": self.national,
            "purpose": self.purpose,
            "agent_id": self.agent_id,
            "case_reference": self.case_reference,
            "dpop_bound": self.dpop_bound,
        }

    @classmethod
    def from_document(cls, given: dict[str, Any]) -> Caller:
        """The caller ``as_document`` gave, as authenticated then."""
        return cls(
            participant_id=given["participant_id"],
            kind=ParticipantKind(given["kind"]),
            acting_for=given["acting_for"],
            scopes=frozenset(Scope(scope) for scope in given["scopes"]),
            territory=tuple(given["territory"]),
            national=given["national"],
            purpose=given["purpose"],
            agent_id=given["agent_id"],
            case_reference=given["case_reference"],
            dpop_bound=given["dpop_bound"],
        )
