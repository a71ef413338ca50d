"""A fund's signed receipt for a batch: verified, stored byte for byte, applied once.

Used by both ways a receipt arrives: posted by the fund (pull mode) and returned by its
endpoint (push mode). The format is in ``docs/batches.md``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from joserfc import jws
from joserfc.errors import JoseError
from sqlalchemy.exc import IntegrityError

from connectors import wire
from gateway.auth.jose import ParticipantRegistry
from gateway.auth.jwks import verification_key_set
from gateway.batches import repository
from gateway.batches.models import Batch, BatchState, Receipt, RecordOutcome
from gateway.errors import Conflict, FieldError, GatewayError
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.participants.models import Participant

# Room for a receipt of a whole batch: joserfc stops at 128 KB by default.
_REGISTRY = ParticipantRegistry(algorithms=list(wire.RECEIPT_ALGORITHMS))
_REGISTRY.max_payload_length = wire.MAX_RECEIPT_BYTES


class InvalidReceipt(GatewayError):
    status = 422
    slug = "invalid-receipt"
    title = "Invalid receipt"

    def __init__(self, rule: str, message: str, field: str = "receipt") -> None:
        super().__init__(message, errors=[FieldError(field, rule, message)])
        self.rule = rule


@dataclass(frozen=True)
class Recorded:
    receipt: Receipt
    created: bool  # False: the same receipt had been recorded before


def _verify(signers: list[Participant], content: bytes) -> tuple[dict[str, Any], str | None]:
    try:
        text = content.decode("ascii").strip()
    except UnicodeDecodeError:
        raise InvalidReceipt("jws-compact", "a receipt is a compact JWS (ASCII)") from None
    try:
        # An Ed25519 key verifies an "EdDSA" header as well as an "Ed25519" one.
        keys = verification_key_set(
            {"keys": [key for signer in signers for key in signer.jwks["keys"]]}
        )
        verified = jws.deserialize_compact(text, keys, registry=_REGISTRY)
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidReceipt(
            "signature",
            "the receipt is not a compact JWS signed with one of the fund's registered keys",
        ) from error
    try:
        claims = json.loads(verified.payload)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidReceipt("payload", "the receipt's payload is not a JSON object") from error
    if not isinstance(claims, dict):
        raise InvalidReceipt("payload", "the receipt's payload is not a JSON object")
    kid = verified.headers().get("kid")
    return claims, kid if isinstance(kid, str) else None


def _check_claims(claims: dict[str, Any], batch: Batch) -> datetime:
    missing = [name for name in wire.RECEIPT_MEMBERS if name not in claims]
    if missing:
        raise InvalidReceipt("claims", f"the receipt lacks {', '.join(missing)}")
    given = dict(claims)
    if isinstance(given["batch_digest"], str):
        # Hex in either case: .NET writes its digests in upper case.
        given["batch_digest"] = given["batch_digest"].lower()
    for name, expected in (
        ("batch_id", batch.id),
        ("fund_id", batch.fund_id),
        ("seq", batch.seq),
        ("batch_digest", batch.digest),
    ):
        if given[name] != expected or type(given[name]) is not type(expected):
            raise InvalidReceipt(
                f"{name.replace('_', '-')}-mismatch",
                f"the receipt's {name} is not this batch's: it is for another batch",
                field=name,
            )
    try:
        received = datetime.fromisoformat(str(claims["received_at"]))
    except ValueError as error:
        raise InvalidReceipt(
            "date", "received_at is not an ISO 8601 date-time", "received_at"
        ) from error
    if received.tzinfo is None:
        raise InvalidReceipt("date", "received_at must carry its time zone", "received_at")
    return received


def _outcomes(session: Session, claims: dict[str, Any], batch: Batch) -> dict[str, str]:
    outcomes = claims["outcomes"]
    if not isinstance(outcomes, list):
        raise InvalidReceipt("outcomes", "outcomes is a list", "outcomes")
    found: dict[str, str] = {}
    for position, item in enumerate(outcomes):
        where = f"outcomes.{position}"
        if not isinstance(item, dict) or set(item) != {"record_id", "outcome"}:
            raise InvalidReceipt("outcome-shape", "each outcome is {record_id, outcome}", where)
        if item["outcome"] not in wire.OUTCOMES:
            raise InvalidReceipt(
                "outcome-unknown",
                f"unknown outcome; one of: {', '.join(sorted(wire.OUTCOMES))}",
                where,
            )
        if item["record_id"] in found:
            raise InvalidReceipt("outcome-twice", "a record has two outcomes", where)
        found[str(item["record_id"])] = str(item["outcome"])
    records = repository.record_ids(session, batch.id)
    if set(found) != records:
        raise InvalidReceipt(
            "outcomes-incomplete",
            f"the receipt must give one outcome for each of the batch's {len(records)} "
            f"records; {len(set(found) - records)} unknown, {len(records - set(found))} missing",
            "outcomes",
        )
    return found


def record_receipt(
    session: Session,
    fund: Participant,
    batch: Batch,
    content: bytes,
    delegate: Participant | None = None,
) -> Recorded:
    """Verify the receipt against the fund's keys and the batch; store and apply it once.

    A delegate acting for the fund (a national IT centre) may sign with its own keys.
    """
    if len(content) > wire.MAX_RECEIPT_BYTES:
        raise InvalidReceipt("too-large", "the receipt is too large")
    claims, kid = _verify([fund, *([delegate] if delegate is not None else [])], content)
    received_at = _check_claims(claims, batch)
    digest = wire.digest_of(content.strip())
    existing = repository.receipt(session, batch.id)
    if existing is not None:
        if existing.digest == digest:
            return Recorded(existing, created=False)
        raise Conflict(
            f"batch {batch.id} already has a different receipt; a receipt is final",
            slug="receipt-conflict",
        )
    outcomes = _outcomes(session, claims, batch)
    try:
        with session.begin_nested():
            return _apply(session, fund, batch, content.strip(), digest, kid, received_at, outcomes)
    except IntegrityError:
        # The same batch's receipt was recorded at the same moment: compare with it.
        raced = repository.receipt(session, batch.id, fresh=True)
        if raced is not None and raced.digest == digest:
            return Recorded(raced, created=False)
        raise Conflict(
            f"batch {batch.id} already has a different receipt; a receipt is final",
            slug="receipt-conflict",
        ) from None


def _apply(
    session: Session,
    fund: Participant,
    batch: Batch,
    content: bytes,
    digest: str,
    kid: str | None,
    received_at: datetime,
    outcomes: dict[str, str],
) -> Recorded:
    now = utcnow()
    receipt = Receipt(
        batch_id=batch.id,
        fund_id=fund.id,
        content=content,
        digest=digest,
        kid=kid,
        received_at=received_at,
        recorded_at=now,
        outcomes=dict(Counter(outcomes.values())),
    )
    session.add(receipt)
    session.add_all(
        RecordOutcome(disclosure_id=record_id, batch_id=batch.id, outcome=outcome, recorded_at=now)
        for record_id, outcome in outcomes.items()
    )
    rejected = [r for r, outcome in outcomes.items() if outcome == wire.Outcome.REJECTED]
    repository.settle_records(session, batch.id, rejected, now)
    batch.state = BatchState.ACKNOWLEDGED
    batch.acknowledged_at = now
    if batch.delivered_at is None:
        batch.delivered_at = now
    session.flush()
    return Recorded(receipt, created=True)


def mark_delivered(session: Session, batch: Batch) -> None:
    """The batch reached the fund (downloaded, or accepted by its endpoint)."""
    if batch.state != BatchState.SEALED:
        return
    now = utcnow()
    batch.state = BatchState.DELIVERED
    batch.delivered_at = now
    repository.deliver_records(session, batch.id, now)
