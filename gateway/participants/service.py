"""Registering, suspending and reactivating participants."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.auth.jwks import key_set
from gateway.errors import Conflict, InvalidField, NotFound
from gateway.participants import repository
from gateway.participants.models import (
    Delegation,
    Participant,
    ParticipantKind,
    ParticipantStatus,
    ParticipantTerritory,
)
from gateway.participants.schemas import ParticipantOut
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.participants.schemas import ParticipantSpec


def register(session: Session, spec: ParticipantSpec) -> Participant:
    if repository.get(session, spec.id) is not None:
        raise Conflict(f"participant {spec.id!r} already exists")
    for principal_id in spec.acts_for:
        principal = repository.get(session, principal_id)
        if principal is None or principal.kind != spec.kind:
            raise InvalidField(
                "acts_for",
                "existing-participant-of-same-kind",
                f"{principal_id!r} is not a registered {spec.kind}",
            )
    participant = Participant(
        id=spec.id,
        kind=spec.kind,
        name=spec.name,
        status=ParticipantStatus.ACTIVE,
        regime=spec.regime,
        national=spec.national,
        jwks=spec.jwks,
        encryption_jwk=spec.encryption_jwk,
        push_endpoint=str(spec.push_endpoint) if spec.push_endpoint else None,
        require_dpop=spec.require_dpop,
        territories=[ParticipantTerritory(departement=code) for code in spec.departements],
        delegations=[Delegation(principal_id=principal) for principal in spec.acts_for],
    )
    session.add(participant)
    session.flush()
    return participant


def set_status(
    session: Session,
    participant_id: str,
    status: ParticipantStatus,
    *,
    by: str | None = None,
) -> Participant:
    """Suspend or reactivate a participant; ``by`` is the operator asking, if one is.

    An operator cannot suspend itself, nor the last active operator (over the API or on
    the host's command line): the gateway would be left with no one to administer it.
    """
    participant = repository.get(session, participant_id)
    if participant is None:
        raise NotFound(f"no participant {participant_id!r}")
    if status == ParticipantStatus.SUSPENDED and participant.kind == ParticipantKind.OPERATOR:
        _keep_an_operator(session, participant, by)
    participant.status = status
    participant.updated_at = utcnow()
    session.flush()
    return participant


def _keep_an_operator(session: Session, participant: Participant, by: str | None) -> None:
    if by is not None and participant.id == by:
        raise Conflict(
            f"{participant.id} cannot suspend itself: another operator must",
            slug="cannot-suspend-self",
        )
    active = repository.active_operators(session)
    if active == [participant.id]:
        raise Conflict(
            f"{participant.id} is the last active operator: register or reactivate another "
            "operator first",
            slug="last-active-operator",
        )


MAX_KEYS = 5  # the registered signing keys of one participant: the current, the next, spares


def _thumbprint(jwk: dict[str, Any]) -> str:
    return key_set({"keys": [jwk]}).keys[0].thumbprint()


def add_key(session: Session, participant_id: str, jwk: dict[str, Any]) -> Participant:
    """Register a participant's next signing key (a normalised public JWK) beside the others.

    Both authenticate until the old one is retired: the overlap in which the participant
    moves its systems to the new key.
    """
    participant = repository.get(session, participant_id)
    if participant is None:
        raise NotFound(f"no participant {participant_id!r}")
    keys = list(participant.jwks.get("keys", []))
    thumbprint = _thumbprint(jwk)
    for known in keys:
        if known["kid"] == jwk["kid"] or _thumbprint(known) == thumbprint:
            raise Conflict(
                f"{participant_id} has this key, or a key with kid {jwk['kid']!r}, already",
                slug="key-exists",
            )
    if len(keys) >= MAX_KEYS:
        raise Conflict(
            f"{participant_id} has {len(keys)} keys, the most allowed: retire one first",
            slug="too-many-keys",
        )
    participant.jwks = {"keys": [*keys, jwk]}
    participant.updated_at = utcnow()
    session.flush()
    return participant


def retire_key(session: Session, participant_id: str, kid: str) -> Participant:
    """Remove a key: client assertions signed with it are refused from now on.

    The last key is never retired: the participant could not authenticate any more.
    """
    participant = repository.get(session, participant_id)
    if participant is None:
        raise NotFound(f"no participant {participant_id!r}")
    keys = list(participant.jwks.get("keys", []))
    kept = [key for key in keys if key.get("kid") != kid]
    if len(kept) == len(keys):
        raise NotFound(f"{participant_id} has no key {kid!r}")
    if not kept:
        raise Conflict(
            f"{kid!r} is the only key of {participant_id}: register the next one first",
            slug="last-key",
        )
    participant.jwks = {"keys": kept}
    participant.updated_at = utcnow()
    session.flush()
    return participant


def describe(participant: Participant) -> ParticipantOut:
    return ParticipantOut(
        id=participant.id,
        kind=participant.kind,  # type: ignore[arg-type]
        name=participant.name,
        status=participant.status,
        regime=participant.regime,  # type: ignore[arg-type]
        national=participant.national,
        departements=participant.departements,
        acts_for=participant.acts_for,
        push_endpoint=participant.push_endpoint,
        require_dpop=participant.require_dpop,
        key_ids=[key["kid"] for key in participant.jwks.get("keys", [])],
        has_encryption_key=participant.encryption_jwk is not None,
        created_at=participant.created_at,
        updated_at=participant.updated_at,
    )
