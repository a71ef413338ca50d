"""Sealing: a fund's pending disclosures, most urgent first, into signed, chained batches.

One batch is one transaction: the batch row (its exact signed bytes) and the state of
its disclosures commit together or not at all, so a crash leaves the whole batch or
nothing. The records are selected locked (``FOR UPDATE OF disclosures SKIP LOCKED`` on
PostgreSQL; SQLite has a single writer), so a correction arriving meanwhile cannot cancel
a record being sealed: it waits for the batch, then rectifies what was sent; what arrives
while a batch is built goes into the next one. The final update still checks that every
record moved from pending; should one not have, the batch is rolled back and built again,
a bounded number of times, then the fund waits for the next run (a warning, never an
error). The batch's ``seq`` is the fund's last plus one, taken under a per-fund lock
(``pg_advisory_xact_lock`` on PostgreSQL; SQLite has a single writer), with the unique
``(fund_id, seq)`` constraint behind it. A sealer that finds the lock held (another
worker, an express run beside a regular one) waits for that batch to commit, then seals
what is still pending: a run leaves nothing of its classes behind for a fund it was given,
unless the lock stays held past ``LOCK_WAIT_S`` (a warning; the next run takes it). The
format is in ``docs/batches.md``.
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from joserfc import jwe, jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import Connection

from audit.actions import AuditAction
from audit.canonical import canonical_json
from connectors import wire
from gateway.auditlog.writer import record
from gateway.batches import repository
from gateway.batches.models import Batch, BatchState
from gateway.batches.storage import seal_content
from gateway.identities import repository as identities_repository
from gateway.identities.crypto import IdentityCryptoError, Sealed
from gateway.keys import KeyUse
from gateway.participants import repository as participants
from gateway.participants.models import ParticipantStatus
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
    from gateway.participants.models import Participant
    from policies.loader import LoadedPolicy

log = logging.getLogger("gateway.sealing")

MAX_CONFLICTS = 5  # batches of one fund rebuilt in a row before it waits for the next run
LOCK_WAIT_S = 60.0  # longest wait for a fund's lock (held one batch at a time: a second or so)


@dataclass(frozen=True)
class SealedBatch:
    id: str
    fund_id: str
    seq: int
    record_count: int
    digest: str
    express: bool


def express_ranks(loaded: LoadedPolicy) -> list[int]:
    """The priority ranks the policy seals express (its classes marked ``express``)."""
    return [rank for rank, klass in enumerate(loaded.policy.priority.classes) if klass.express]


class _Projections:
    """The canonical bytes of each record's ``data``, computed once per sealing run.

    A decision owed to several funds of one profile has the same ``data`` for each: its
    identity is decrypted and projected once, not once per fund. Bounded, oldest out.
    """

    def __init__(self, identity_keys: IdentityKeys, limit: int = 50_000) -> None:
        self.identity_keys = identity_keys
        self.limit = limit
        self.identities: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
        self.data: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self.lock = threading.Lock()  # shared by the run's sealing threads

    def load(self, session: Session, rows: Sequence[Row[Any]]) -> dict[str, Any]:
        """The identities of ``rows`` (None when shredded), decrypting the unknown ones.

        The answer holds every identity the rows need, whatever another thread evicts.
        """
        wanted = {row.identity_id for row in rows}
        with self.lock:
            found = {i: self.identities[i] for i in wanted if i in self.identities}
        missing = list(wanted - found.keys())
        for identity_id, ciphertext, nonce, wrapped_key, kek_id in identities_repository.sealed(
            session, missing
        ):
            sealed = Sealed(ciphertext, nonce, wrapped_key, kek_id)
            try:
                plaintext = self.identity_keys.cipher.decrypt(sealed, identity_id.encode())
                found[identity_id] = json.loads(plaintext).get("identity", {})
            except IdentityCryptoError:
                found[identity_id] = None  # shredded: the decision's facts only
        with self.lock:
            self.identities.update(found)
            while len(self.identities) > self.limit:
                self.identities.popitem(last=False)
        return found

    def data_of(
        self, row: Row[Any], identity: dict[str, Any] | None, fields: list[str], profile: str
    ) -> bytes:
        """The canonical bytes of the record's ``data`` for this profile."""
        key = (row.identity_id, row.decision_id, row.version, row.priority_class, profile)
        found = self.data.get(key)
        if found is None:
            # Unchecked: every value comes from typed columns and the sealed document's
            # strings (no float); the tests compare these bytes with an RFC 8785 encoder.
            found = canonical_json(project(_values(row, identity), fields), checked=False)
            with self.lock:
                self.data[key] = found
                if len(self.data) > self.limit:
                    self.data.popitem(last=False)
        return found


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _values(row: Row[Any], identity: dict[str, Any] | None) -> dict[str, Any]:
    """Every disclosable value of the record, before the profile cuts it down."""
    values: dict[str, Any] = {
        "kind_class": BROAD_KINDS.get(row.kind),
        "reference": row.reference,
        "decision_date": _iso(row.decision_date),
        "notification_date": _iso(row.notification_date),
        "effect_date": _iso(row.effect_date),
        "permit_expiry": _iso(row.permit_expiry),
        "priority_class": row.priority_class,
    }
    if identity is None:
        return values  # shredded: only the decision's own facts remain
    for name in _IDENTITY_FIELDS:
        values[name] = identity.get(name)
    values["first_names"] = identity.get("first_names") or None
    return values


_IDENTITY_FIELDS = (
    "social_security_number",
    "agdref_number",
    "birth_name",
    "usage_name",
    "sex",
    "birth_date",
    "place_of_birth",
    "nationality",
    "residence_departement",
)
_DATA_MARKER = "\x00data\x00"
_QUOTED_MARKER = canonical_json(_DATA_MARKER)


def _plain(value: str) -> bool:
    """True if the string's canonical JSON form is the string between two quotes."""
    return value.isascii() and value.isprintable() and '"' not in value and "\\" not in value


def _record(row: Row[Any], data: bytes) -> bytes:
    """The record's canonical bytes, its ``data`` spliced in already canonical.

    Its own members are ids, vocabulary words and ISO dates: written straight, in the
    sorted order RFC 8785 gives them, unless one would need escaping (then the general
    serialiser writes the record). The tests compare both with an RFC 8785 encoder.
    """
    kind = wire.RECTIFICATION_RECORD if row.correction else wire.DECISION_RECORD
    texts = [row.decision_id, row.id, row.status]
    correction = None
    if row.correction and row.correction_kind:
        correction = {"kind": row.correction_kind, "date": _iso(row.correction_date)}
        texts += [row.correction_kind, correction["date"] or ""]
    if not _plain("".join(texts)):  # each is plain if and only if they are together
        built: dict[str, Any] = {
            "record_id": row.id,
            "type": kind,
            "decision_id": row.decision_id,
            "version": row.version,
            "status": row.status,
            "data": _DATA_MARKER,
        }
        if correction is not None:
            built["correction"] = correction
        return canonical_json(built).replace(_QUOTED_MARKER, data, 1)
    head = b"{"
    if correction is not None:
        head += canonical_json(correction) + b","
        head = b'{"correction":' + head[1:]
    return b"".join(
        (
            head,
            b'"data":',
            data,
            f',"decision_id":"{row.decision_id}","record_id":"{row.id}",'
            f'"status":"{row.status}","type":"{kind}","version":{int(row.version)}}}'.encode(),
        )
    )


def _profiles(loaded: LoadedPolicy, regime: str | None) -> dict[str, list[str]]:
    profiles: dict[str, list[str]] = {
        name: list(fields) for name, fields in loaded.policy.profiles.items()
    }
    route = loaded.policy.routing.regimes.get(regime or "")  # type: ignore[call-overload]
    profiles[""] = profiles[route.profile] if route is not None else []
    return profiles


def _sign(keys: GatewayKeys, payload: bytes) -> tuple[str, bytes]:
    entry, key = keys.active(KeyUse.BATCH)
    header = {"alg": wire.BATCH_SIGNING_ALG, "kid": entry.kid, "typ": wire.BATCH_TYPE}
    with warnings.catch_warnings():
        # joserfc flags EdDSA as superseded by RFC 9864's "Ed25519"; funds' libraries
        # verify EdDSA today, so it stays the name in the header.
        warnings.simplefilter("ignore", SecurityWarning)
        token = jws.serialize_compact(header, payload, key, algorithms=[wire.BATCH_SIGNING_ALG])
    return entry.kid, token.encode("ascii")


def _encrypt(jwk: dict[str, Any], signed: bytes) -> bytes:
    key_type = ECKey if jwk.get("kty") == "EC" else OKPKey
    key = key_type.import_key(jwk)
    header: dict[str, Any] = {"alg": wire.ENCRYPTION_ALG, "enc": wire.ENCRYPTION_ENC, "cty": "JOSE"}
    if jwk.get("kid"):
        header["kid"] = jwk["kid"]
    algorithms = [wire.ENCRYPTION_ALG, wire.ENCRYPTION_ENC]
    token = jwe.encrypt_compact(header, signed, key, algorithms=algorithms)
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


class SealingConflict(Exception):
    """A record changed state while its batch was being built (a correction cancelled it)."""


def seal_one(
    session: Session,
    keys: GatewayKeys,
    projections: _Projections,
    loaded: LoadedPolicy,
    fund: Participant,
    *,
    ranks: Collection[int] | None,
    max_records: int,
) -> SealedBatch | None:
    """Seal the fund's next batch in the caller's transaction; None if nothing is pending.

    The records are row-locked as they are selected (``repository.pending_records``) and
    the fund's lock keeps other sealers away, so they are still pending when the final
    update moves them. Should one not be (a row changed by something that ignored the
    locks), this raises ``SealingConflict``: the caller rolls back and builds the batch
    again from what is pending then.
    """
    rows = repository.pending_records(session, fund.id, ranks, max_records)
    if not rows:
        return None
    identities = projections.load(session, rows)
    previous = repository.last_batch(session, fund.id)
    seq = previous.seq + 1 if previous is not None else 1
    profiles = _profiles(loaded, fund.regime)
    records = []
    for row in rows:
        profile = row.profile if row.profile in profiles else ""
        data = projections.data_of(row, identities[row.identity_id], profiles[profile], profile)
        records.append(_record(row, data))
    express = ranks is not None
    batch_id = new_id()
    now = utcnow()
    header = {
        "batch_id": batch_id,
        "fund_id": fund.id,
        "seq": seq,
        "previous_digest": previous.digest if previous is not None else None,
        "created_at": wire.timestamp(now),
        "policy_version": loaded.version,
        "express": express,
        "record_count": len(records),
        "merkle_root": wire.merkle_root_hex(records),
    }
    kid, content = _sign(keys, _payload(header, records))
    if fund.encryption_jwk:
        content = _encrypt(fund.encryption_jwk, content)
    digest = wire.digest_of(content)
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
            **seal_content(projections.identity_keys.cipher, batch_id, content),
            state=BatchState.SEALED,
            created_at=now,
        )
    )
    session.flush()
    updated = repository.seal_records(session, [row.id for row in rows], batch_id, now)
    if updated != len(rows):
        raise SealingConflict(f"{len(rows) - updated} records changed meanwhile")
    record(
        session,
        AuditAction.BATCH_SEALED,
        acting_for=fund.id,
        object_ids=[batch_id],
        detail={"fund_id": fund.id, "seq": seq, "records": len(records), "express": express},
    )
    return SealedBatch(batch_id, fund.id, seq, len(records), digest, express)


def _seal_fund(
    sessions: sessionmaker[Session],
    keys: GatewayKeys,
    projections: _Projections,
    loaded: LoadedPolicy,
    fund_id: str,
    ranks: Collection[int] | None,
    max_records: int,
    lock_wait_s: float,
) -> list[SealedBatch]:
    """The fund's batches, one transaction each, until nothing of ``ranks`` is pending.

    Another sealer holding the fund (a second worker, or an express run while this is a
    regular one) is waited for, batch by batch: what it leaves pending is sealed here, so
    a run never skips a fund because it was busy. Never raises for a conflict or a lock
    held too long: after ``MAX_CONFLICTS`` rebuilt batches in a row, or ``lock_wait_s``
    without the lock, the fund is left with a warning and its records wait for the next
    run.
    """
    sealed: list[SealedBatch] = []
    conflicts = 0
    while True:
        try:
            with sessions.begin() as session:
                fund = participants.get(session, fund_id)
                if fund is None or fund.status != ParticipantStatus.ACTIVE:
                    break  # a suspended fund's records wait for it
                if not repository.lock_for_sealing(session, fund_id, wait_s=lock_wait_s):
                    log.warning(
                        "sealing left for the next run: the fund's lock stayed held",
                        extra={"fund_id": fund_id, "waited_s": lock_wait_s},
                    )
                    break
                batch = seal_one(
                    session,
                    keys,
                    projections,
                    loaded,
                    fund,
                    ranks=ranks,
                    max_records=max_records,
                )
        except SealingConflict as conflict:
            conflicts += 1
            if conflicts > MAX_CONFLICTS:
                log.warning(
                    "sealing left for the next run: records kept changing",
                    extra={"fund_id": fund_id, "conflicts": conflicts, "detail": str(conflict)},
                )
                break
            continue  # rolled back: build the batch again from what is pending now
        if batch is None:
            break
        conflicts = 0
        sealed.append(batch)
    return sealed


def seal(
    sessions: sessionmaker[Session],
    keys: GatewayKeys,
    identity_keys: IdentityKeys,
    loaded: LoadedPolicy,
    *,
    express_only: bool = False,
    max_records: int = 5000,
    fund_ids: Collection[str] | None = None,
    workers: int = 2,
    lock_wait_s: float = LOCK_WAIT_S,
) -> list[SealedBatch]:
    """Seal every fund's pending disclosures (or only the express classes'), batch by batch.

    On PostgreSQL, ``workers`` funds are sealed at once (threads: the database works while
    Python builds the next batch); SQLite has one writer, so one. A fund another sealer
    holds is waited for (up to ``lock_wait_s`` per batch), never skipped.
    """
    ranks = express_ranks(loaded) if express_only else None
    if ranks is not None and not ranks:
        return []
    with sessions() as session:
        funds = [
            fund_id
            for fund_id in repository.funds_with_pending(session, ranks)
            if fund_ids is None or fund_id in fund_ids
        ]
        if session.get_bind().dialect.name != "postgresql" or isinstance(
            sessions.kw.get("bind"), Connection
        ):
            workers = 1  # one writer (SQLite), or one connection to share (not at once)
    projections = _Projections(identity_keys)

    def one(fund_id: str) -> list[SealedBatch]:
        return _seal_fund(
            sessions, keys, projections, loaded, fund_id, ranks, max_records, lock_wait_s
        )

    if workers <= 1 or len(funds) <= 1:
        return [batch for fund_id in funds for batch in one(fund_id)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seal") as pool:
        return [batch for batches in pool.map(one, funds) for batch in batches]
