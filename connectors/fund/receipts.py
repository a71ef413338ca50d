"""The fund's signed receipt for a batch: one outcome per record, signed with its own key.

``sign_receipt`` makes a compact JWS over the receipt's RFC 8785 bytes, for a verified
batch or one known from the state file; the gateway accepts exactly these.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey

from connectors import wire

if TYPE_CHECKING:
    from connectors.fund.verify import VerifiedBatch

PrivateKey = ECKey | OKPKey | RSAKey


class ReceiptSubject(Protocol):
    """What a receipt names: a verified batch, or one known from the state file."""

    @property
    def batch_id(self) -> str: ...
    @property
    def fund_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def digest(self) -> str: ...
    @property
    def record_ids(self) -> list[str]: ...


@dataclass(frozen=True)
class BatchRef:
    batch_id: str
    fund_id: str
    seq: int
    digest: str
    record_ids: list[str] = field(repr=False)


def algorithm_for(key: PrivateKey) -> str:
    """The signing algorithm of a key: Ed25519, ES256/384/512 by curve, PS256 for RSA."""
    if isinstance(key, OKPKey):
        return "Ed25519"
    if isinstance(key, RSAKey):
        return "PS256"
    return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[key.curve_name]


def receipt_outcomes(
    batch: ReceiptSubject,
    outcomes: Mapping[str, str] | str = wire.DEFAULT_OUTCOME,
    *,
    default: str | None = None,
) -> list[dict[str, str]]:
    """One outcome per record, in the batch's order.

    ``outcomes`` is one outcome for every record, or one per record id; records it does
    not name get ``default`` (refused if there is none).
    """
    ids = batch.record_ids
    if isinstance(outcomes, str):
        chosen = dict.fromkeys(ids, outcomes)
    else:
        unknown = set(outcomes) - set(ids)
        if unknown:
            raise ValueError(f"{len(unknown)} outcomes name records that are not in the batch")
        missing = [record_id for record_id in ids if record_id not in outcomes]
        if missing and default is None:
            raise ValueError(f"{len(missing)} records of the batch have no outcome")
        chosen = {record_id: outcomes.get(record_id, default or "") for record_id in ids}
    wrong = sorted({value for value in chosen.values() if value not in wire.OUTCOMES})
    if wrong:
        raise ValueError(f"unknown outcomes {wrong}; one of: {', '.join(sorted(wire.OUTCOMES))}")
    return [{"record_id": record_id, "outcome": chosen[record_id]} for record_id in ids]


def decided_outcomes(
    batch: VerifiedBatch, decide: Callable[[dict[str, Any]], str] | None
) -> Mapping[str, str] | str:
    """``decide(record)`` for each record of the batch, or ``noted`` for all without it."""
    if decide is None:
        return wire.DEFAULT_OUTCOME
    return {str(record["record_id"]): decide(record) for record in batch.records}


def sign_receipt(
    batch: ReceiptSubject,
    outcomes: Mapping[str, str] | str = wire.DEFAULT_OUTCOME,
    *,
    key: PrivateKey,
    kid: str | None = None,
    alg: str | None = None,
    received_at: datetime | None = None,
    default: str | None = None,
) -> bytes:
    """The fund's receipt for ``batch``: a compact JWS over the receipt's RFC 8785 bytes.

    ``kid`` defaults to the key's own, or its RFC 7638 thumbprint (the kid the gateway
    gives a key registered without one); ``alg`` to ``algorithm_for(key)``.
    """
    chosen_alg = alg or algorithm_for(key)
    if chosen_alg not in wire.RECEIPT_ALGORITHMS:
        accepted = ", ".join(wire.RECEIPT_ALGORITHMS)
        raise ValueError(f"algorithm {chosen_alg!r} is not accepted on receipts: {accepted}")
    when = received_at or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("received_at must carry its time zone")
    claims: dict[str, Any] = {
        "batch_id": batch.batch_id,
        "fund_id": batch.fund_id,
        "seq": batch.seq,
        "batch_digest": batch.digest,
        "received_at": wire.timestamp(when),
        "outcomes": receipt_outcomes(batch, outcomes, default=default),
    }
    header = {"alg": chosen_alg, "kid": kid or key.kid or key.thumbprint()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # EdDSA: see connectors.fund.verify
        token = jws.serialize_compact(header, wire.canonical(claims), key, algorithms=[chosen_alg])
    return token.encode("ascii")
