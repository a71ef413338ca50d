"""The batch and receipt wire format, the one definition the gateway and the funds share.

Pure: constants and functions of bytes, no I/O, no server code. The gateway's sealer
(``gateway.batches.sealing``) writes batches with it, its receipt checker
(``gateway.batches.receipts``) reads receipts with it, and the fund side
(``connectors.fund``) verifies batches and signs receipts with it. ``docs/batches.md``
describes the same format for integrators in other languages.

- **A batch** is a compact JWS (``typ`` ``BATCH_TYPE``, signed ``BATCH_SIGNING_ALG`` with
  the gateway key whose ``gateway_use`` is ``BATCH_KEY_USE``), optionally wrapped in a
  compact JWE (``ENCRYPTION_ALG``/``ENCRYPTION_ENC``) to the fund's own key. Its payload is
  the RFC 8785 (JCS) canonical JSON of an object with the members ``BATCH_MEMBERS``; each
  record has the members ``RECORD_MEMBERS`` (``correction`` only in a rectification), and
  ``merkle_root`` is the RFC 6962 root over each record's canonical bytes.
- **Its digest** (``digest_of``) is ``sha256:`` and the hex SHA-256 of its exact bytes;
  the next batch of the fund names it as ``previous_digest``.
- **A receipt** is a compact JWS by the fund over the canonical JSON of an object with the
  members ``RECEIPT_MEMBERS``: one ``{record_id, outcome}`` per record of the batch, each
  outcome an ``Outcome``.
- **Over HTTP** both travel as ``JOSE_MEDIA_TYPE``, a batch with the headers
  ``BATCH_ID_HEADER``, ``BATCH_SEQ_HEADER`` and ``DIGEST_HEADER``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import rfc8785

from audit import checkpoints, merkle

if TYPE_CHECKING:
    from collections.abc import Sequence

JOSE_MEDIA_TYPE = "application/jose"
BATCH_ID_HEADER = "Batch-Id"
BATCH_SEQ_HEADER = "Batch-Seq"
DIGEST_HEADER = "Digest-SHA256"

BATCH_TYPE = "gateway-batch+json"
# RFC 8037's name, which Java, .NET and Python JOSE libraries all verify today; a fund
# accepts RFC 9864's name for the same algorithm too.
BATCH_SIGNING_ALG = "EdDSA"
BATCH_ALGORITHMS = (BATCH_SIGNING_ALG, "Ed25519")
KEY_USE_MEMBER = checkpoints.KEY_USE_MEMBER  # names each gateway key's use in its JWKS
BATCH_KEY_USE = "batch"
ENCRYPTION_ALG = "ECDH-ES+A256KW"
ENCRYPTION_ENC = "A256GCM"
MAX_BATCH_BYTES = 1024 * 1024 * 1024

BATCH_MEMBERS = (
    "batch_id", "fund_id", "seq", "previous_digest", "created_at", "policy_version",
    "express", "record_count", "merkle_root", "records",
)  # fmt: skip
RECORD_MEMBERS = ("record_id", "type", "decision_id", "version", "status", "data", "correction")
DECISION_RECORD = "decision"
RECTIFICATION_RECORD = "rectification"  # a correction of what the fund was sent before

# What a receipt may be signed with: never "none", nor a shared-secret (HS*) algorithm.
RECEIPT_ALGORITHMS = (
    "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "Ed25519", "EdDSA",
)  # fmt: skip
RECEIPT_MEMBERS = ("batch_id", "fund_id", "seq", "batch_digest", "received_at", "outcomes")
MAX_RECEIPT_BYTES = 64 * 1024 * 1024


class Outcome(StrEnum):
    """What the fund did with one record, as its receipt says."""

    RIGHTS_ENDED = "rights-ended"
    NOT_AN_AFFILIATE = "not-an-affiliate"
    IDENTITY_AMBIGUOUS = "identity-ambiguous"
    ALREADY_CLOSED = "already-closed"
    RIGHTS_RESTORED = "rights-restored"
    NOTED = "noted"
    REJECTED = "rejected"


OUTCOMES = frozenset(str(outcome) for outcome in Outcome)
DEFAULT_OUTCOME = str(Outcome.NOTED)


def digest_of(content: bytes) -> str:
    """A batch's (or receipt's) digest: ``sha256:`` and the hex SHA-256 of its exact bytes."""
    return "sha256:" + hashlib.sha256(content).hexdigest()


def timestamp(when: datetime) -> str:
    """An instant as batches and receipts write it: UTC, to the second, ``Z``."""
    if when.tzinfo is None:
        raise ValueError("an instant must carry its time zone")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(value: Any) -> bytes:
    """The RFC 8785 (JCS) bytes of a JSON value; ``rfc8785.CanonicalizationError`` if none."""
    return rfc8785.dumps(value)


def merkle_root_hex(leaves: Sequence[bytes]) -> str:
    """A batch's ``merkle_root``: the RFC 6962 root over its records' canonical bytes, hex."""
    return merkle.root(leaves).hex()
