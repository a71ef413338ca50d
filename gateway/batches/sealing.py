"""Sealing: a fund's pending disclosures, most urgent first, into signed, chained batches.

One batch is one transaction: the batch row (its exact signed bytes) and the state of
its disclosures commit together or not at all, so a crash leaves the whole batch or
nothing. The batch's ``seq`` is the fund's last plus one, taken under a per-fund lock
(``pg_try_advisory_xact_lock`` on PostgreSQL: a second worker skips a fund being sealed
rather than wait; SQLite has a single writer), with the unique ``(fund_id, seq)``
constraint behind it. The format is in ``docs/batches.md``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zlib
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from joserfc import jwe, jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import func, select, text, update

from audit.actions import AuditAction
from audit.merkle import root as merkle_root
from audit.writer import record
from gateway.batches.canonical import canonical_json
from gateway.batches.models import Batch, BatchState
from gateway.decisions.models import Decision, DecisionVersion
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.identities.crypto import IdentityCryptoError, Sealed
from gateway.identities.models import Identity
from gateway.keys import KeyUse
from gateway.participants.models import Participant, ParticipantStatus
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id
from policies.evaluate import BROAD_KINDS
from policies.projection import project

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from sqlalchemy import Row
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.identities.service import IdentityKeys
    from gateway.keys import GatewayKeys
    from policies.loader import LoadedPolicy

BATCH_TYPE = "gateway-batch+json"
SIGNING_ALG = "EdDSA"  # RFC 8037; what Java, .NET and Python JOSE libraries all verify
ENCRYPTION = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM"}
_LOCK_NAMESPACE = 0x5EA1  # the first key of the two-key advisory lock: sealing


@dataclass(frozen=True)
class SealedBatch:
    id: str
    fund_id: str
    seq: int
    record_count: int
    digest: str
    express: bool


def digest_of(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def express_ranks(loaded: LoadedPolicy) -> list[int]:
    """The priority ranks the policy seals express (its classes marked ``express``)."""
    return [rank for rank, klass in enumerate(loaded.policy.priority.classes) if klass.express]


def _lock(session: Session, fund_id: str) -> bool:
    """Take the fund's sealing lock for this transaction; False if another holds it."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already made this the only writer
    key = zlib.crc32(fund_id.encode()) - 2**31  # a signed 32-bit key
    taken = session.execute(
        text("SELECT pg_try_advisory_xact_lock(:namespace, :key)"),
        {"namespace": _LOCK_NAMESPACE, "key": key},
    ).scalar_one()
    return bool(taken)


def funds_with_pending(session: Session, ranks: Collection[int] | None) -> list[str]:
    statement = select(Disclosure.fund_id).where(Disclosure.state == DisclosureState.PENDING)
    if ranks is not None:
        statement = statement.where(Disclosure.priority_rank.in_(list(ranks)))
    return sorted(set(session.scalars(statement.distinct())))


def _pending(
    session: Session, fund_id: str, ranks: Collection[int] | None, limit: int
) -> Sequence[Row[Any]]:
    statement = (
        select(
            Disclosure.id,
            Disclosure.decision_id,
            Disclosure.version,
            Disclosure.correction,
            Disclosure.priority_class,
            Disclosure.profile,
            Decision.reference,
            Decision.kind,
            DecisionVersion.status,
            DecisionVersion.decision_date,
            DecisionVersion.notification_date,
            DecisionVersion.effect_date,
            DecisionVersion.permit_expiry,
            DecisionVersion.correction_kind,
            DecisionVersion.correction_date,
            Identity.id.label("identity_id"),
            Identity.ciphertext,
            Identity.nonce,
            Identity.wrapped_key,
            Identity.kek_id,
            Identity.residence_departement,
        )
        .join(Decision, Decision.id == Disclosure.decision_id)
        .join(
            DecisionVersion,
            (DecisionVersion.decision_id == Disclosure.decision_id)
            & (DecisionVersion.version == Disclosure.version),
        )
        .join(Identity, Identity.id == DecisionVersion.identity_id)
        .where(Disclosure.fund_id == fund_id, Disclosure.state == DisclosureState.PENDING)
        .order_by(Disclosure.priority_rank, Disclosure.created_at, Disclosure.id)
        .limit(limit)
        .with_for_update(of=Disclosure, skip_locked=True)
    )
    if ranks is not None:
        statement = statement.where(Disclosure.priority_rank.in_(list(ranks)))
    found: Sequence[Row[Any]] = session.execute(statement).all()  # type: ignore[assignment]
    return found


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _values(identity_keys: IdentityKeys, row: Row[Any]) -> dict[str, Any]:
    """Every disclosable value of the record, before the profile cuts it down."""
    values: dict[str, Any] = {
        "kind_class": BROAD_KINDS.get(row.kind),
        "reference": row.reference,
        "decision_date": _iso(row.decision_date),
        "notification_date": _iso(row.notification_date),
        "effect_date": _iso(row.effect_date),
        "permit_expiry": _iso(row.permit_expiry),
        "priority_class": row.priority_class,
        "residence_departement": row.residence_departement,
    }
    sealed = Sealed(row.ciphertext, row.nonce, row.wrapped_key, row.kek_id)
    try:
        document = json.loads(identity_keys.cipher.decrypt(sealed, row.identity_id.encode()))
    except IdentityCryptoError:
        return values  # shredded: only the decision's own facts remain
    identity = document.get("identity", {})
    values.update(
        {
            name: identity.get(name)
            for name in (
                "social_security_number",
                "agdref_number",
                "birth_name",
                "usage_name",
                "sex",
                "birth_date",
                "place_of_birth",
                "nationality",
            )
        }
    )
    values["first_names"] = identity.get("first_names") or None
    return values


def _record(row: Row[Any], data: dict[str, Any]) -> dict[str, Any]:
    built: dict[str, Any] = {
        "record_id": row.id,
        "type": "rectification" if row.correction else "decision",
        "decision_id": row.decision_id,
        "version": row.version,
        "status": row.status,
        "data": data,
    }
    if row.correction and row.correction_kind:
        built["correction"] = {"kind": row.correction_kind, "date": _iso(row.correction_date)}
    return built


def _profiles(loaded: LoadedPolicy, regime: str | None) -> dict[str, list[str]]:
    profiles: dict[str, list[str]] = {
        name: list(fields) for name, fields in loaded.policy.profiles.items()
    }
    route = loaded.policy.routing.regimes.get(regime or "")  # type: ignore[call-overload]
    profiles[""] = profiles[route.profile] if route is not None else []
    return profiles


def _sign(keys: GatewayKeys, payload: bytes) -> tuple[str, bytes]:
    entry, key = keys.active(KeyUse.BATCH)
    header = {"alg": SIGNING_ALG, "kid": entry.kid, "typ": BATCH_TYPE}
    with warnings.catch_warnings():
        # joserfc flags EdDSA as superseded by RFC 9864's "Ed25519"; funds' libraries
        # verify EdDSA today, so it stays the name in the header.
        warnings.simplefilter("ignore", SecurityWarning)
        token = jws.serialize_compact(header, payload, key, algorithms=[SIGNING_ALG])
    return entry.kid, token.encode("ascii")


def _encrypt(jwk: dict[str, Any], signed: bytes) -> bytes:
    key_type = ECKey if jwk.get("kty") == "EC" else OKPKey
    key = key_type.import_key(jwk)
    header: dict[str, Any] = {**ENCRYPTION, "cty": "JOSE"}
    if jwk.get("kid"):
        header["kid"] = jwk["kid"]
    token = jwe.encrypt_compact(header, signed, key, algorithms=list(ENCRYPTION.values()))
    return token.encode("ascii")


def _payload(header: dict[str, Any], records: list[bytes]) -> bytes:
    """The batch's canonical bytes: the header's, with the records spliced in sorted place.

    ``records`` sorts between ``record_count`` and ``seq`` among the header's keys; the
    placeholder is replaced by the records' own canonical bytes, which is what a
    canonical serialisation of the whole object would write, without serialising each
    record twice.
    """
    marker = "\x00records\x00"
    skeleton = canonical_json({**header, "records": marker})
    quoted = canonical_json(marker)
    return skeleton.replace(quoted, b"[" + b",".join(records) + b"]", 1)


def seal_one(
    session: Session,
    keys: GatewayKeys,
    identity_keys: IdentityKeys,
    loaded: LoadedPolicy,
    fund: Participant,
    *,
    ranks: Collection[int] | None,
    max_records: int,
) -> SealedBatch | None:
    """Seal the fund's next batch in the caller's transaction; None if nothing is pending."""
    rows = _pending(session, fund.id, ranks, max_records)
    if not rows:
        return None
    previous = session.execute(
        select(Batch.seq, Batch.digest)
        .where(Batch.fund_id == fund.id)
        .order_by(Batch.seq.desc())
        .limit(1)
    ).first()
    seq = previous.seq + 1 if previous is not None else 1
    profiles = _profiles(loaded, fund.regime)
    records = []
    for row in rows:
        fields = profiles.get(row.profile, profiles[""])
        data = project(_values(identity_keys, row), fields)
        records.append(canonical_json(_record(row, data)))
    express = ranks is not None
    batch_id = new_id()
    now = utcnow()
    header = {
        "batch_id": batch_id,
        "fund_id": fund.id,
        "seq": seq,
        "previous_digest": previous.digest if previous is not None else None,
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "policy_version": loaded.version,
        "express": express,
        "record_count": len(records),
        "merkle_root": merkle_root(records).hex(),
    }
    kid, content = _sign(keys, _payload(header, records))
    if fund.encryption_jwk:
        content = _encrypt(fund.encryption_jwk, content)
    digest = digest_of(content)
    session.add(
        Batch(
            id=batch_id,
            fund_id=fund.id,
            seq=seq,
            digest=digest,
            previous_digest=header["previous_digest"],
            express=express,
            record_count=len(records),
            merkle_root=header["merkle_root"],
            policy_version=loaded.version,
            kid=kid,
            encrypted=bool(fund.encryption_jwk),
            content=content,
            state=BatchState.SEALED,
            created_at=now,
        )
    )
    session.flush()
    ids = [row.id for row in rows]
    for start in range(0, len(ids), 10_000):
        session.execute(
            update(Disclosure)
            .where(Disclosure.id.in_(ids[start : start + 10_000]))
            .values(state=DisclosureState.SEALED, batch_id=batch_id, updated_at=now)
        )
    record(
        session,
        AuditAction.BATCH_SEALED,
        acting_for=fund.id,
        object_ids=[batch_id],
        detail={"fund_id": fund.id, "seq": seq, "records": len(records), "express": express},
    )
    return SealedBatch(batch_id, fund.id, seq, len(records), digest, express)


def seal(
    sessions: sessionmaker[Session],
    keys: GatewayKeys,
    identity_keys: IdentityKeys,
    loaded: LoadedPolicy,
    *,
    express_only: bool = False,
    max_records: int = 5000,
    fund_ids: Collection[str] | None = None,
) -> list[SealedBatch]:
    """Seal every fund's pending disclosures (or only the express classes'), batch by batch."""
    ranks = express_ranks(loaded) if express_only else None
    if ranks is not None and not ranks:
        return []
    with sessions() as session:
        funds = funds_with_pending(session, ranks)
    sealed: list[SealedBatch] = []
    for fund_id in funds:
        if fund_ids is not None and fund_id not in fund_ids:
            continue
        while True:
            with sessions.begin() as session:
                fund = session.get(Participant, fund_id)
                if fund is None or fund.status != ParticipantStatus.ACTIVE:
                    break  # a suspended fund's records wait for it
                if not _lock(session, fund_id):
                    break  # another worker is sealing this fund
                batch = seal_one(
                    session,
                    keys,
                    identity_keys,
                    loaded,
                    fund,
                    ranks=ranks,
                    max_records=max_records,
                )
            if batch is None:
                break
            sealed.append(batch)
    return sealed


def pending_count(session: Session) -> int:
    statement = select(func.count()).where(Disclosure.state == DisclosureState.PENDING)
    return int(session.scalar(statement) or 0)
