"""A fund's side of batches: verify what the gateway sent, keep the records, sign receipts.

Needs only the gateway's public JWKS, the fund's own keys and a directory of its
choosing; no database and no gateway code. The format is ``connectors.wire`` (and
``docs/batches.md``):

- ``verify_batch`` (``verify``): decrypt (JWE), check the signature, ``typ``,
  ``fund_id``, ``seq``, the digest chain, ``record_count`` and the Merkle root; each
  failure is a ``BatchVerificationError`` naming its rule.
- ``sign_receipt`` (``receipts``): the fund's signed receipt for a verified batch.
- ``FundState`` (``state``): what was verified, where its records went, what was
  acknowledged; one JSON file replaced atomically, and a lock so that two runs never
  interleave.
- ``write_records`` (``records``): a batch's records as NDJSON (one record per line) or CSV.
- ``pull`` and ``acknowledge`` (``pull``): the pull mode over HTTP with a ``GatewayClient``.
- ``connectors.fund.receiver``: the push mode, an ASGI app answering each batch with its
  receipt; ``connectors.fund.checks``: status checks of a whole file of affiliates. Both
  are imported on their own (the receiver needs a web framework, the rest does not).

Personal data only ever goes to the records files; errors, summaries and the state file
name batches by id, seq and digest.

Exception tree::

    FundError
    ├── BatchVerificationError: a batch failed a check; ``rule`` names which
    └── FundStateError: the state directory is not this fund's, or its files disagree
"""

from __future__ import annotations

from connectors.fund.errors import BatchVerificationError, FundError, FundStateError
from connectors.fund.pull import PURPOSE, Failure, PullSummary, acknowledge, pull
from connectors.fund.receipts import (
    BatchRef,
    PrivateKey,
    algorithm_for,
    decided_outcomes,
    receipt_outcomes,
    sign_receipt,
)
from connectors.fund.records import (
    DATA_COLUMNS,
    FORMATS,
    RECORD_COLUMNS,
    RecordFormat,
    read_record_ids,
    records_bytes,
    write_records,
)
from connectors.fund.state import STATE_FILE, BatchEntry, FundState
from connectors.fund.verify import VerifiedBatch, merkle_root_hex, verify_batch

__all__ = [
    "DATA_COLUMNS",
    "FORMATS",
    "PURPOSE",
    "RECORD_COLUMNS",
    "STATE_FILE",
    "BatchEntry",
    "BatchRef",
    "BatchVerificationError",
    "Failure",
    "FundError",
    "FundState",
    "FundStateError",
    "PrivateKey",
    "PullSummary",
    "RecordFormat",
    "VerifiedBatch",
    "acknowledge",
    "algorithm_for",
    "decided_outcomes",
    "merkle_root_hex",
    "pull",
    "read_record_ids",
    "receipt_outcomes",
    "records_bytes",
    "sign_receipt",
    "verify_batch",
    "write_records",
]
