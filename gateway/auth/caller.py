"""The ``Caller`` of each request: who, with which scopes, for whom and for what purpose.

A plain value, built by ``gateway.auth.dependencies.authenticate`` once the request's
token, participant, scopes, delegation, agent and purpose are checked. Repositories take
it to filter what the caller may see (``gateway.tenancy``).
"""

from __future__ import annotations

from dataclasses import dataclass

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
