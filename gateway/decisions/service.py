"""Posting decisions (idempotent on the prefecture's reference), correcting them, reading them.

A correction adds a version and never changes an earlier one; an identity fix seals a
new identity and leaves the old one in place, so every version stays readable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from audit.pseudonyms import pseudonym
from gateway import tenancy
from gateway.decisions import repository
from gateway.decisions.models import (
    ENDING_CORRECTIONS,
    CorrectionKind,
    Decision,
    DecisionStatus,
    DecisionVersion,
)
from gateway.decisions.schemas import (
    CorrectionOut,
    DecisionOut,
    DisclosureOut,
    PermitOut,
    VersionOut,
)
from gateway.disclosures import repository as disclosure_repository
from gateway.disclosures import service as disclosures
from gateway.errors import Conflict, FieldError, InvalidField, InvalidFields
from gateway.identities import consistency
from gateway.identities import repository as identities_repository
from gateway.identities import service as identities
from gateway.identities.agdref import parse_agdref
from gateway.identities.crypto import Shredded
from gateway.identities.models import Identity
from gateway.identities.schemas import IdentityIn, IdentityOut
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id
from policies.evaluate import DecisionFacts

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller
    from gateway.decisions.schemas import CorrectionIn, DecisionIn
    from gateway.identities.service import IdentityKeys
    from policies.loader import LoadedPolicy


@dataclass(frozen=True)
class Posted:
    decision: Decision
    created: bool
    subjects: list[str]


def body_digest(keys: IdentityKeys, document: dict[str, Any]) -> str:
    """A keyed digest of a request body: compares bodies without keeping a readable hash."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return pseudonym(keys.blind_index_key, "body", canonical)


def _extra(permit_number: str | None) -> dict[str, Any]:
    # The permit number identifies the person's file: it is sealed with the identity.
    return {"permit_number": permit_number} if permit_number else {}


def seal_identity(
    keys: IdentityKeys, payload: DecisionIn, matching: identities.Keys | None = None
) -> dict[str, Any]:
    """The identity row of a decision: the person, and the permit number, sealed."""
    permit_number = payload.permit.number if payload.permit else None
    return identities.seal_row(keys, payload.identity, _extra(permit_number), matching)


@dataclass(frozen=True)
class NewDecision:
    """The column values of a new decision's three rows, for the ORM or a bulk insert."""

    identity: dict[str, Any]
    decision: dict[str, Any]
    version: dict[str, Any]
    match_keys: list[dict[str, str]]


def new_decision(
    caller: Caller,
    keys: IdentityKeys,
    payload: DecisionIn,
    digest: str,
    request_id: str | None,
    decision_id: str | None = None,
    identity: dict[str, Any] | None = None,
) -> NewDecision:
    """The rows of a new decision; ``identity`` when its row was sealed beforehand."""
    departement = tenancy.prefecture_departement(caller, payload.departement)
    identity = identity or seal_identity(keys, payload)
    now = utcnow()
    decision_id = decision_id or new_id()
    decision = {
        "id": decision_id,
        "prefecture_id": caller.acting_for,
        "reference": payload.reference,
        "departement": departement,
        "kind": str(payload.kind),
        "status": str(DecisionStatus.ACTIVE),
        "current_version": 1,
        "created_at": now,
        "updated_at": now,
    }
    version = {
        "decision_id": decision_id,
        "version": 1,
        "identity_id": identity["id"],
        "kind": str(payload.kind),
        "withdrawn_document": payload.withdrawn_document,
        "removal_measures": [str(m) for m in payload.removal_measures],
        "public_order": payload.public_order,
        "decision_date": payload.decision_date,
        "notification_date": payload.notification_date,
        "effect_date": payload.effect_date,
        "permit_category": payload.permit.category if payload.permit else None,
        "permit_expiry": payload.permit.expiry_date if payload.permit else None,
        "legal_basis": payload.legal_basis,
        "status": str(DecisionStatus.ACTIVE),
        "correction_kind": None,
        "correction_reference": None,
        "correction_date": None,
        "body_digest": digest,
        "request_id": request_id,
        "created_at": now,
    }
    match_keys = identities.match_key_rows(keys, identity["id"], payload.identity.document())
    return NewDecision(identity, decision, version, match_keys)


def reference_conflict(decision: Decision) -> Conflict:
    return Conflict(
        f"reference {decision.reference!r} was already used for decision {decision.id} "
        "with a different body; a change to a decision is a correction",
        errors=[FieldError("reference", "reference-reused", "same reference, different body")],
        slug="reference-reused",
    )


def replay_or_conflict(session: Session, existing: Decision, digest: str) -> Decision:
    if repository.version(session, existing.id, 1).body_digest != digest:
        raise reference_conflict(existing)
    return existing


def facts_of(payload: DecisionIn, departement: str, identity: dict[str, Any]) -> DecisionFacts:
    """What the policy decides on, for a new decision and its identity row's values."""
    return DecisionFacts(
        kind=str(payload.kind),
        public_order=payload.public_order,
        correction=False,
        prefecture_departement=departement,
        residence_departement=payload.identity.residence_departement,
        subject_indexes=subject_indexes(identity),
        effect_date=payload.effect_date or payload.notification_date or payload.decision_date,
    )


def subject_indexes(identity: dict[str, Any] | Identity) -> tuple[str, ...]:
    """The blind indexes of the person's identifiers, as subscriptions store them."""
    values = (
        (identity.get("bi_agdref"), identity.get("bi_ssn"))
        if isinstance(identity, dict)
        else (identity.bi_agdref, identity.bi_ssn)
    )
    return tuple(value for value in values if value)


def contradictions(policy: LoadedPolicy, identity: IdentityIn) -> list[consistency.Contradiction]:
    """What a decision's identity number contradicts; refused unless the policy flags it.

    Returns the contradictions the policy accepts (stored as the identity row's flags);
    raises ``InvalidFields`` naming both fields of each, and its rule, where it refuses.
    """
    found = consistency.of_document(identity.document(), prefix="identity.")
    if found and policy.policy.identities.nir_contradiction == "refuse":
        raise InvalidFields(
            "; ".join(f"{c.fields[0]} contradicts {c.fields[1]} ({c.rule})" for c in found),
            [FieldError(field, c.rule, c.message) for c in found for field in c.fields],
        )
    return found


def post(
    session: Session,
    caller: Caller,
    keys: IdentityKeys,
    policy: LoadedPolicy,
    payload: DecisionIn,
    request_id: str | None,
) -> Posted:
    subjects = identities.subject_pseudonyms(keys, payload.identity)
    digest = body_digest(keys, payload.digest_document())
    existing = repository.find_by_reference(session, caller.acting_for, payload.reference)
    if existing is not None:
        return Posted(
            replay_or_conflict(session, existing, digest), created=False, subjects=subjects
        )
    contradictions(policy, payload.identity)
    rows = new_decision(caller, keys, payload, digest, request_id)
    decision = Decision(**rows.decision)
    try:
        with session.begin_nested():
            session.add_all([Identity(**rows.identity), decision])
            session.flush()
            session.add(DecisionVersion(**rows.version))
            identities_repository.add_match_keys(session, rows.match_keys)
            session.flush()
            planned = disclosures.plan(
                session,
                policy,
                decision_id=decision.id,
                version=1,
                facts=facts_of(payload, decision.departement, rows.identity),
            )
            disclosure_repository.add(session, planned)
    except IntegrityError:
        # Someone posted the same reference at the same moment: theirs stands.
        existing = repository.find_by_reference(session, caller.acting_for, payload.reference)
        if existing is None:
            raise
        return Posted(
            replay_or_conflict(session, existing, digest), created=False, subjects=subjects
        )
    return Posted(decision, created=True, subjects=subjects)


def correct(
    session: Session,
    keys: IdentityKeys,
    policy: LoadedPolicy,
    decision: Decision,
    payload: CorrectionIn,
    request_id: str | None,
) -> tuple[bool, list[str]]:
    """Add a correction as a new version; (created, subject pseudonyms)."""
    digest = body_digest(keys, payload.model_dump(mode="json"))
    existing = repository.correction_by_reference(session, decision.id, payload.reference)
    current = repository.version(session, decision.id, decision.current_version)
    identity_row = identities_repository.get(session, current.identity_id)
    if existing is not None:
        if existing.body_digest != digest:
            raise Conflict(
                f"correction reference {payload.reference!r} was already used with another body",
                errors=[
                    FieldError("reference", "reference-reused", "same reference, different body")
                ],
                slug="reference-reused",
            )
        return False, _subjects_of(keys, identity_row)
    ending = ENDING_CORRECTIONS.get(payload.kind)
    if ending is not None and decision.status != DecisionStatus.ACTIVE:
        raise Conflict(
            f"decision {decision.id} is already {decision.status}",
            errors=[
                FieldError(
                    "kind",
                    "decision-already-ended",
                    "only a data-correction applies to an ended decision",
                )
            ],
            slug="decision-already-ended",
        )
    new_identity_id = current.identity_id
    subjects = _subjects_of(keys, identity_row)
    _check_dates(
        payload.decision_date or current.decision_date,
        payload.notification_date or current.notification_date,
        payload.effect_date or current.effect_date,
    )
    if payload.identity is not None:
        contradictions(policy, payload.identity)
    if payload.identity is not None or payload.new_permit is not None:
        try:
            document = identities.open_document(keys, identity_row)
        except Shredded:
            document = {}
        # A new permit replaces the number, even by none when its number is not known.
        old_number = document.get("permit_number")
        permit_number = payload.new_permit.number if payload.new_permit else old_number
        if payload.identity is not None or permit_number != old_number:
            if payload.identity is None and "identity" not in document:
                raise Conflict("the identity of this decision was purged", slug="identity-purged")
            identity_in = payload.identity or IdentityIn.model_validate(document["identity"])
            new_identity = identities.seal(keys, identity_in, _extra(permit_number))
            session.add(new_identity)
            session.flush()
            new_identity_id = new_identity.id
            match_keys = identities.match_key_rows(keys, new_identity_id, identity_in.document())
            identities_repository.add_match_keys(session, match_keys)
            subjects = sorted({*subjects, *identities.subject_pseudonyms(keys, identity_in)})
    number = decision.current_version + 1
    status = ending or DecisionStatus(decision.status)
    version = DecisionVersion(
        decision_id=decision.id,
        version=number,
        identity_id=new_identity_id,
        kind=current.kind,
        withdrawn_document=current.withdrawn_document,
        removal_measures=list(current.removal_measures),
        public_order=current.public_order,
        decision_date=payload.decision_date or current.decision_date,
        notification_date=payload.notification_date or current.notification_date,
        effect_date=payload.effect_date or current.effect_date,
        permit_category=(
            payload.new_permit.category if payload.new_permit else current.permit_category
        ),
        permit_expiry=(
            payload.new_permit.expiry_date if payload.new_permit else current.permit_expiry
        ),
        legal_basis=current.legal_basis,
        status=status,
        correction_kind=payload.kind,
        correction_reference=payload.reference,
        correction_date=payload.correction_date,
        body_digest=digest,
        request_id=request_id,
    )
    session.add(version)
    decision.current_version = number
    decision.status = status
    decision.updated_at = utcnow()
    session.flush()
    facts = DecisionFacts(
        kind=current.kind,
        public_order=current.public_order,
        correction=True,
        prefecture_departement=decision.departement,
        residence_departement=None,
        correction_kind=str(payload.kind),
    )
    planned = disclosures.plan(
        session, policy, decision_id=decision.id, version=number, facts=facts
    )
    disclosure_repository.add(session, planned)
    return True, subjects


def _check_dates(decided: date, notified: date | None, effective: date | None) -> None:
    """The rules of ``DecisionIn`` on the dates a data correction leaves."""
    if notified is not None and notified < decided:
        raise InvalidField(
            "notification_date",
            "notification-before-decision",
            "the notification date is before the decision",
        )
    if effective is not None and effective < decided:
        raise InvalidField(
            "effect_date", "effect-before-decision", "the effect date is before the decision"
        )


def _subjects_of(keys: IdentityKeys, row: Identity) -> list[str]:
    try:
        document = identities.open_document(keys, row)
    except Shredded:
        return []
    return identities.subject_pseudonyms(keys, IdentityIn.model_validate(document["identity"]))


def describe(
    session: Session, keys: IdentityKeys, decision: Decision
) -> tuple[DecisionOut, list[str]]:
    """The decision with every version, identities decrypted for the prefecture that sent them."""
    versions_out = []
    subjects: set[str] = set()
    for version, identity_row in repository.versions(session, decision.id):
        identity_out = None
        permit_number = None
        try:
            document = identities.open_document(keys, identity_row)
        except Shredded:
            document = None
        if document is not None:
            stored = document["identity"]
            identity_out = IdentityOut.model_validate(
                {
                    **stored,
                    "agdref_possible_lost_leading_zero": bool(
                        stored.get("agdref_number")
                        and parse_agdref(stored["agdref_number"]).possible_lost_leading_zero
                    ),
                    "nir_contradictions": (identity_row.nir_contradictions or "").split(),
                }
            )
            subjects.update(identities.subject_pseudonyms(keys, identity_out))
            permit_number = document.get("permit_number")
        permit = None
        if version.permit_category or version.permit_expiry or permit_number:
            permit = PermitOut(
                category=version.permit_category,
                number=permit_number,
                expiry_date=version.permit_expiry,
            )
        correction = None
        if version.correction_kind and version.correction_reference and version.correction_date:
            correction = CorrectionOut(
                kind=CorrectionKind(version.correction_kind),
                reference=version.correction_reference,
                correction_date=version.correction_date,
            )
        versions_out.append(
            VersionOut(
                version=version.version,
                status=DecisionStatus(version.status),
                kind=version.kind,  # type: ignore[arg-type]
                withdrawn_document=version.withdrawn_document,  # type: ignore[arg-type]
                removal_measures=version.removal_measures,
                public_order=version.public_order,
                decision_date=version.decision_date,
                notification_date=version.notification_date,
                effect_date=version.effect_date,
                permit=permit,
                legal_basis=version.legal_basis,
                correction=correction,
                identity=identity_out,
                created_at=version.created_at,
            )
        )
    out = DecisionOut(
        id=decision.id,
        reference=decision.reference,
        departement=decision.departement,
        kind=decision.kind,  # type: ignore[arg-type]
        status=DecisionStatus(decision.status),
        current_version=decision.current_version,
        created_at=decision.created_at,
        updated_at=decision.updated_at,
        versions=versions_out,
        disclosures=[
            DisclosureOut.model_validate(d, from_attributes=True)
            for d in disclosure_repository.of_decision(session, decision.id)
        ],
    )
    return out, sorted(subjects)
