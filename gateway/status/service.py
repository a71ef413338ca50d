"""Answering status checks: exact matching on identifiers, then on names and dates.

Each item is validated on its own: a malformed one gets its errors by position and the
others are still answered. A person living outside the fund's territory is not the
fund's to check: that item is refused (``outside-territory``) and audited; so is an item
that does not say where the person lives, from a fund with a territory
(``residence-departement-required``). Only a fund national by registration checks anyone.

A person is found first through the keyed blind indexes of the NIR or NIA and of the
AGDREF number sent (``exact``); failing that, through the keyed blocking keys of the
names and birth date (``gateway.identities.matching``), whose few candidates are opened and
graded ``strong`` or ``weak``. Only decisions of the kinds the policy discloses count (an
OQTF alone is recorded, never disclosed, so never answered).

The answer carries the result and how it matched; for an exact or strong match of an
adverse decision, its broad kind, reference and dates. A weak match names no decision:
it may be a namesake, and the fund confirms with an identifier. Nothing the fund did
not send comes back: no name, no identifier, no public-order ground. Each check is an
audit event naming the person by pseudonym, with the agent, case and match level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from audit.actions import AuditAction, AuditOutcome
from connectors.importers import LineError, validation_errors
from gateway import tenancy
from gateway.auditlog.writer import AuditDraft, append_rows, as_row
from gateway.decisions.models import Decision, DecisionStatus, DecisionVersion
from gateway.identities import service as identities
from gateway.identities.crypto import IdentityCryptoError
from gateway.identities.matching import (
    RANK,
    Level,
    Profile,
    blocking_keys,
    compare,
    identity_conflict,
)
from gateway.status import repository
from gateway.status.schemas import Adverse, CheckError, CheckIn, CheckOut, Result
from policies.evaluate import BROAD_KINDS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller
    from gateway.identities.service import IdentityKeys
    from policies.model import Policy


@dataclass
class _Check:
    """One valid item, what it is looked up by, and what was found."""

    position: int
    item: CheckIn
    profile: Profile
    indexes: list[str]
    pseudonyms: list[str]
    match_keys: list[str] = field(default_factory=list)
    found: dict[str, tuple[Decision, DecisionVersion]] = field(default_factory=dict)
    level: Level = Level.NONE


@dataclass
class _Found:
    """What the lookup of a block's checks found, in one round trip."""

    by_index: list[tuple[str, str]]  # (blind index of an identifier, identity id)
    by_key: dict[str, list[str]]  # blocking key -> identity ids
    sealed: dict[str, Any]  # identity id -> its sealed columns


def _look_up(session: Session, keys: IdentityKeys, checks: list[_Check]) -> _Found:
    """The identities the checks' identifiers and blocking keys point at, and their rows.

    One statement for both, so a check unknown by its identifiers costs no second round
    trip (the blocking keys of a check its identifiers match go unused).
    """
    for check in checks:
        check.match_keys = identities.blind_indexes(
            keys, "match", blocking_keys(check.profile, swaps=True)
        )
    indexes = {index for check in checks for index in check.indexes}
    rows = repository.lookup(session, indexes, {k for check in checks for k in check.match_keys})
    found = _Found([], {}, {})
    for row in rows:
        found.sealed[row.id] = row
        if row.value in indexes:  # an identifier's index (another kind of MAC than a key's)
            found.by_index.append((row.value, row.id))
        else:
            found.by_key.setdefault(row.value, []).append(row.id)
    return found


def _exact(
    session: Session, keys: IdentityKeys, checks: list[_Check], kinds: list[str], found: _Found
) -> None:
    """Find each check's decisions through the blind indexes of the identifiers it sent.

    The identities found are opened and compared with the check's: those that contradict
    it (``identity_conflict``) are an identity conflict, answered ``conflict``, unless
    another identity found through the identifiers agrees.
    """
    pairs = found.by_index
    by_identity = repository.decisions_of(session, {identity for _, identity in pairs}, kinds)
    by_index: dict[str, set[str]] = {}
    for index, identity_id in pairs:
        if identity_id in by_identity:
            by_index.setdefault(index, set()).add(identity_id)
    opened = {i for identities_found in by_index.values() for i in identities_found}
    profiles = _profiles(keys, found, opened)
    for check in checks:
        matched = {i for index in check.indexes for i in by_index.get(index, ())}
        if not matched:
            continue
        asked = check.profile
        agreeing = {
            i for i in matched if i not in profiles or not identity_conflict(asked, profiles[i])
        }
        check.found = {d.id: (d, v) for i in sorted(agreeing or matched) for d, v in by_identity[i]}
        check.level = Level.EXACT if agreeing else Level.CONFLICT


def _profiles(keys: IdentityKeys, found: _Found, identity_ids: set[str]) -> dict[str, Profile]:
    """The matching profiles of stored identities, opened; a shredded one is left out."""
    profiles: dict[str, Profile] = {}
    for identity_id in identity_ids:
        try:
            document = identities.open_sealed(keys, found.sealed[identity_id])
        except IdentityCryptoError:
            continue  # shredded since its keys were read
        profiles[identity_id] = Profile.of(document.get("identity", {}))
    return profiles


def check_errors(errors: Iterable[LineError]) -> list[CheckError]:
    return [CheckError(field=e.field, rule=e.rule, message=e.message) for e in errors]


def _parse(position: int, raw: Any) -> CheckIn | CheckOut:
    try:
        return CheckIn.model_validate(raw)
    except ValidationError as error:
        return CheckOut(position=position, errors=check_errors(validation_errors(error, "check")))


def _outside(check: _Check, caller: Caller) -> CheckOut | None:
    """The refusal of a check on a person the fund may not check: elsewhere, or unsaid."""
    residence = check.item.identity.residence_departement
    rule = tenancy.fund_check_refusal(caller, residence)
    if rule is None:
        return None
    message = (
        f"département {residence} is outside this fund's territory"
        if rule == tenancy.OUTSIDE_TERRITORY
        else "a fund with a territory states where the person lives (residence_departement)"
    )
    error = CheckError(field="identity.residence_departement", rule=rule, message=message)
    return CheckOut(position=check.position, errors=[error])


def _answer(check: _Check) -> CheckOut:
    # Built from trusted values: constructed, not validated (a sweep makes millions). Every
    # field is given: a default factory would cost pydantic a signature inspection each.
    active = [(d, v) for d, v in check.found.values() if d.status == DecisionStatus.ACTIVE]
    if not check.found:
        result = Result.NONE_KNOWN
    elif not active:
        result = Result.CORRECTED
    else:
        result = Result.ADVERSE_DECISION
    # A weak match may be a namesake, a conflict another person: no decision either way.
    if not active or check.level in {Level.WEAK, Level.CONFLICT}:
        return CheckOut.model_construct(
            position=check.position, result=result, match=check.level, decision=None, errors=[]
        )
    latest, version = max(active, key=lambda pair: (pair[0].created_at, pair[0].id))
    decision = Adverse.model_construct(
        kind_class=BROAD_KINDS.get(latest.kind, "refusal"),
        reference=latest.reference,
        notification_date=version.notification_date,
        effect_date=version.effect_date,
    )
    return CheckOut.model_construct(
        position=check.position, result=result, match=check.level, decision=decision, errors=[]
    )


def _match_names(
    session: Session, keys: IdentityKeys, checks: list[_Check], kinds: list[str], found: _Found
) -> None:
    """Grade the checks no identifier matched against their blocking keys' candidates."""
    unmatched = [check for check in checks if not check.found]
    by_key = found.by_key
    # Open and grade every candidate first: a sealed row costs less to open and compare
    # than a decision costs to load, and most candidates are turned down.
    wanted = {i for check in unmatched for key in check.match_keys for i in by_key.get(key, ())}
    profiles = _profiles(keys, found, wanted)
    grades: list[dict[str, Level]] = []
    for check in unmatched:
        candidates = {i for key in check.match_keys for i in by_key.get(key, ()) if i in profiles}
        grades.append({i: compare(check.profile, profiles[i]) for i in candidates})
    kept = {i for graded in grades for i, level in graded.items() if level is not Level.NONE}
    by_identity = repository.decisions_of(session, kept, kinds)
    for check, graded in zip(unmatched, grades, strict=True):
        decided = {i: level for i, level in graded.items() if i in by_identity}
        best = max(decided.values(), key=RANK.__getitem__, default=Level.NONE)
        if best is Level.NONE:
            continue
        chosen = sorted(i for i, level in decided.items() if level is best)
        check.level = best
        check.found = {d.id: (d, v) for i in chosen for d, v in by_identity[i]}
        # The person found is concerned by the check too: their access report lists it.
        for identity_id in chosen:
            person = profiles[identity_id]
            check.pseudonyms += identities.pseudonyms_of(keys, person.agdref, person.ssn)
        check.pseudonyms = list(dict.fromkeys(check.pseudonyms))


def check(
    session: Session,
    caller: Caller,
    keys: IdentityKeys,
    policy: Policy,
    items: Sequence[tuple[int, Any]],
    request_id: str | None,
    *,
    events: list[AuditDraft] | None = None,
) -> list[CheckOut]:
    """The answer to each (position, item), in order; one audit event per check, refused too.

    The events are appended in ``session``'s transaction, or to ``events`` if given: the
    caller then makes them durable before it answers.
    """
    checks: list[_Check] = []
    answers: dict[int, CheckOut] = {}
    drafts: list[AuditDraft] = []
    for position, raw in items:
        parsed = _parse(position, raw)
        if isinstance(parsed, CheckOut):
            answers[position] = parsed
            continue
        profile = Profile.of_identity(parsed.identity)
        indexes = identities.identifier_indexes(keys, profile.agdref, profile.ssn)
        pseudonyms = identities.pseudonyms_of(keys, profile.agdref, profile.ssn)
        check = _Check(position, parsed, profile, indexes, pseudonyms)
        if refusal := _outside(check, caller):
            answers[position] = refusal
            drafts.append(_event(caller, request_id, check, [], AuditOutcome.REFUSED, refusal))
        else:
            checks.append(check)
    kinds = [str(kind) for kind in policy.eligibility.disclosed]
    looked_up = _look_up(session, keys, checks)
    _exact(session, keys, checks, kinds, looked_up)
    _match_names(session, keys, checks, kinds, looked_up)
    for check in checks:
        answer = answers[check.position] = _answer(check)
        found = list(check.found)
        drafts.append(_event(caller, request_id, check, found, AuditOutcome.SUCCESS, answer))
    if events is None:
        append_rows(session, [as_row(draft) for draft in drafts])
    else:
        events += drafts
    return [answers[position] for position, _ in items]


def _event(
    caller: Caller,
    request_id: str | None,
    check: _Check,
    decision_ids: list[str],
    outcome: AuditOutcome,
    answer: CheckOut,
) -> AuditDraft:
    """The check's audit event: how it matched, or the rule that refused it."""
    item = check.item
    detail: dict[str, Any] = {"position": answer.position, "identifiers": bool(check.indexes)}
    if answer.errors:
        detail["rule"] = answer.errors[0].rule
    else:
        detail |= {"match": str(answer.match), "result": str(answer.result)}
    return AuditDraft(
        action=AuditAction.STATUS_CHECKED,
        request_id=request_id,
        outcome=outcome,
        participant_id=caller.participant_id,
        participant_kind=str(caller.kind),
        acting_for=caller.acting_for,
        agent_id=item.agent_id or caller.agent_id,
        case_reference=item.case_reference or caller.case_reference,
        purpose=caller.purpose,
        object_ids=decision_ids,
        subject_pseudonyms=check.pseudonyms,
        detail=detail,
    )
