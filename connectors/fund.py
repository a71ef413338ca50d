"""A fund's side of batches: verify what the gateway sent, keep the records, sign receipts.

Needs only the gateway's public JWKS, the fund's own keys and a directory of its
choosing; no database and no gateway code. The batch and receipt formats and the checks
are those of ``docs/batches.md``:

- ``verify_batch``: decrypt (JWE), check the signature, ``typ``, ``fund_id``, ``seq``,
  the digest chain, ``record_count`` and the Merkle root; each failure is a
  ``BatchVerificationError`` naming its rule.
- ``sign_receipt``: the fund's signed receipt for a verified batch.
- ``FundState``: what was verified, where its records went, what was acknowledged; one
  JSON file replaced atomically, and a lock so that two runs never interleave.
- ``write_records``: a batch's records as NDJSON (one record per line) or CSV.
- ``pull`` and ``acknowledge``: the pull mode over HTTP with a ``GatewayClient``.

CSV columns: ``record_id, type, decision_id, version, status, correction_kind,
correction_date``, then the data fields: ``ssn_number, ssn_type`` (the two members of
``social_security_number``, named as in the backlog import files), ``agdref_number,
birth_name, usage_name, first_names`` (joined with ``|``), ``sex, birth_date,
place_of_birth, nationality, residence_departement, kind_class, reference,
decision_date, notification_date, effect_date, permit_expiry, priority_class``, and any
other data field found, in name order.

Personal data only ever goes to the records files; errors, summaries and the state file
name batches by id, seq and digest.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import rfc8785
from joserfc import jwe, jws
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwe import JWERegistry
from joserfc.jwk import ECKey, OKPKey, RSAKey

from audit.merkle import root as merkle_root

if TYPE_CHECKING:
    from connectors.client import GatewayClient

PrivateKey = ECKey | OKPKey | RSAKey
RecordFormat = Literal["ndjson", "csv"]

BATCH_TYPE = "gateway-batch+json"
BATCH_ALGORITHMS = ("EdDSA", "Ed25519")  # RFC 8037's name, and RFC 9864's for Ed25519
BATCH_KEY_USE = "batch"
ENCRYPTION_ALG = "ECDH-ES+A256KW"
ENCRYPTION_ENC = "A256GCM"
# What the gateway accepts on receipts; never "none" nor a shared-secret (HS*) algorithm.
RECEIPT_ALGORITHMS = (
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "PS256", "PS384", "PS512", "RS256",
)  # fmt: skip
OUTCOMES = frozenset({
    "rights-ended", "not-an-affiliate", "identity-ambiguous", "already-closed",
    "rights-restored", "noted", "rejected",
})  # fmt: skip
DEFAULT_OUTCOME = "noted"
PURPOSE = "residence-regularity-check"
JOSE = "application/jose"
MAX_BATCH_BYTES = 1024 * 1024 * 1024
STATE_FILE = "state.json"
LOCK_FILE = ".lock"
RECORDS_DIR = "records"
RECEIPTS_DIR = "receipts"
FORMATS: tuple[RecordFormat, ...] = ("ndjson", "csv")

RECORD_COLUMNS = (
    "record_id", "type", "decision_id", "version", "status", "correction_kind",
    "correction_date",
)  # fmt: skip
DATA_COLUMNS = (
    "ssn_number", "ssn_type", "agdref_number", "birth_name", "usage_name", "first_names",
    "sex", "birth_date", "place_of_birth", "nationality", "residence_departement",
    "kind_class", "reference", "decision_date", "notification_date", "effect_date",
    "permit_expiry", "priority_class",
)  # fmt: skip
_SSN = "social_security_number"
_BATCH_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")
_HTTP_OK = 200
_HTTP_CREATED = 201


# -- errors ---------------------------------------------------------------------------


class FundError(Exception):
    """Base of this module's errors."""


class BatchVerificationError(FundError):
    """A batch failed one of the checks; ``rule`` names which."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


class FundStateError(FundError):
    """The state directory is not this fund's, or its files disagree with the state."""


# -- verification ---------------------------------------------------------------------


def digest_of(content: bytes) -> str:
    """A batch's digest: ``sha256:`` and the hex SHA-256 of its exact bytes."""
    return "sha256:" + hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class VerifiedBatch:
    """A batch that passed every check. ``repr`` leaves out the records (personal data)."""

    batch_id: str
    fund_id: str
    seq: int
    digest: str
    previous_digest: str | None
    kid: str
    encrypted: bool
    payload: dict[str, Any] = field(repr=False)
    records: list[dict[str, Any]] = field(repr=False)

    @property
    def record_ids(self) -> list[str]:
        return [str(record["record_id"]) for record in self.records]


def _fail(rule: str, message: str) -> BatchVerificationError:
    return BatchVerificationError(rule, message)


def _protected_header(segment: str) -> dict[str, Any]:
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError) as error:
        raise _fail("malformed", "the batch's protected header is not JSON") from error
    if not isinstance(header, dict):
        raise _fail("malformed", "the batch's protected header is not a JSON object")
    return header


def _decrypt(text: str, key: ECKey | OKPKey | None) -> str:
    if key is None:
        raise _fail(
            "decrypt",
            "the batch is encrypted (compact JWE): the fund's private encryption key is needed",
        )
    header = _protected_header(text.split(".", 1)[0])
    if header.get("alg") != ENCRYPTION_ALG or header.get("enc") != ENCRYPTION_ENC:
        raise _fail(
            "decrypt",
            f"the batch is encrypted with {header.get('alg')!r}/{header.get('enc')!r}; "
            f"expected {ENCRYPTION_ALG}/{ENCRYPTION_ENC}",
        )
    registry = JWERegistry(algorithms=[ENCRYPTION_ALG, ENCRYPTION_ENC])
    # joserfc's default refuses ciphertexts above 64 KB; a batch of thousands of records
    # is larger. The content's own size is the bound.
    registry.max_ciphertext_length = max(len(text), registry.max_ciphertext_length)
    try:
        decrypted = jwe.decrypt_compact(text, key, registry=registry)
    except (JoseError, ValueError, TypeError) as error:
        raise _fail(
            "decrypt", "the batch could not be decrypted with the fund's encryption key"
        ) from error
    try:
        return (decrypted.plaintext or b"").decode("ascii").strip()
    except UnicodeDecodeError:
        raise _fail("malformed", "the encrypted content is not a compact JWS") from None


def _open(content: bytes, key: ECKey | OKPKey | None) -> tuple[str, bool]:
    """The compact JWS, decrypted first if the batch is a compact JWE; and whether it was."""
    try:
        text = content.decode("ascii").strip()
    except UnicodeDecodeError:
        raise _fail("malformed", "a batch is a compact JWS or JWE, in ASCII") from None
    encrypted = text.count(".") == 4  # noqa: PLR2004 - a compact JWE has five parts
    if encrypted:
        text = _decrypt(text, key)
    if text.count(".") != 2:  # noqa: PLR2004 - and a compact JWS three
        raise _fail("malformed", "a batch is a compact JWS (3 parts) or JWE (5 parts)")
    return text, encrypted


def _batch_key(jwks: Mapping[str, Any], kid: Any) -> OKPKey:
    """The gateway's batch signing key named ``kid``, public members only."""
    if not isinstance(kid, str) or not kid:
        raise _fail("unknown-kid", "the batch's header names no kid")
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        raise _fail("jwks", "the gateway JWKS given has no list of keys")
    named = [key for key in keys if isinstance(key, dict) and key.get("kid") == kid]
    if not named:
        raise _fail("unknown-kid", f"the gateway's JWKS has no key {kid!r}")
    batch_keys = [key for key in named if key.get("gateway_use") == BATCH_KEY_USE]
    if not batch_keys:
        raise _fail("unknown-kid", f"key {kid!r} of the gateway's JWKS is not a batch key")
    if len(batch_keys) > 1:
        raise _fail("jwks", f"the gateway's JWKS has several keys {kid!r}")
    raw = batch_keys[0]
    if raw.get("kty") != "OKP" or raw.get("crv") != "Ed25519" or not isinstance(raw.get("x"), str):
        raise _fail("unknown-kid", f"key {kid!r} is not an Ed25519 public key")
    try:
        # Public members only: the key's "alg" member (EdDSA) must not stop a header
        # naming the same algorithm Ed25519.
        return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": raw["x"]})
    except (JoseError, ValueError, TypeError) as error:
        raise _fail("jwks", f"key {kid!r} of the gateway's JWKS is malformed") from error


def _registry(alg: str) -> jws.JWSRegistry:
    """Only ``alg``, and room for whole batches: joserfc stops at 128 KB by default."""
    registry = jws.JWSRegistry(algorithms=[alg])
    registry.max_payload_length = MAX_BATCH_BYTES
    return registry


def _verify_signature(text: str, jwks: Mapping[str, Any]) -> tuple[bytes, str]:
    try:
        extracted = jws.extract_compact(text.encode("ascii"), registry=_registry("EdDSA"))
    except (JoseError, ValueError, TypeError) as error:
        raise _fail("malformed", "the batch is not a well-formed compact JWS") from error
    header = extracted.headers()
    alg = header.get("alg")
    if alg not in BATCH_ALGORITHMS:
        raise _fail("algorithm", f"the batch's algorithm {alg!r} is refused: EdDSA (Ed25519) only")
    if header.get("typ") != BATCH_TYPE:
        raise _fail("typ", f"the batch's typ is {header.get('typ')!r}, not {BATCH_TYPE!r}")
    if "crit" in header:
        raise _fail("malformed", "the batch's header has critical extensions")
    kid = header.get("kid")
    key = _batch_key(jwks, kid)
    try:
        with warnings.catch_warnings():
            # joserfc flags "EdDSA" as superseded by RFC 9864's "Ed25519"; the gateway
            # signs with that name, and the key is checked to be Ed25519 above.
            warnings.simplefilter("ignore", SecurityWarning)
            verified = jws.deserialize_compact(text, key, registry=_registry(str(alg)))
    except BadSignatureError as error:
        raise _fail("signature", f"the signature does not verify with key {kid!r}") from error
    except (JoseError, ValueError, TypeError) as error:
        raise _fail("signature", f"the signature could not be checked: {error}") from error
    return verified.payload, str(kid)


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise ValueError("a member appears twice")
        found[name] = value
    return found


def _no_constant(_: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _parse(payload: bytes) -> dict[str, Any]:
    try:
        document = json.loads(
            payload, object_pairs_hook=_unique_members, parse_constant=_no_constant
        )
    except (ValueError, UnicodeDecodeError) as error:
        raise _fail("malformed", "the batch's payload is not a JSON document") from error
    if not isinstance(document, dict):
        raise _fail("malformed", "the batch's payload is not a JSON object")
    return document


def _member(payload: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = payload.get(name)
    if name not in payload or isinstance(value, bool) or not isinstance(value, kind):
        raise _fail("malformed", f"the batch's {name} is missing or of the wrong type")
    return value


def _records(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = _member(payload, "records", list)
    seen: set[str] = set()
    for position, item in enumerate(records):
        if not isinstance(item, dict) or not isinstance(item.get("record_id"), str):
            raise _fail("malformed", f"record {position} is not an object with a record_id")
        if item["record_id"] in seen:
            raise _fail("malformed", f"record {position} repeats a record_id")
        seen.add(item["record_id"])
    return records


def _check_chain(
    seq: int, claimed: str | None, expected_seq: int | None, previous_digest: str | None
) -> None:
    if (seq == 1) != (claimed is None):
        raise _fail(
            "chain", "previous_digest is null for seq 1 and only for it; this batch breaks that"
        )
    if previous_digest is None and expected_seq != 1:
        return  # nothing known of the previous batch: the chain is not checked
    if claimed != previous_digest:
        raise _fail(
            "chain",
            f"the batch's previous_digest {claimed} is not the digest of the last verified "
            f"batch ({previous_digest})",
        )


def merkle_root_hex(records: Sequence[Mapping[str, Any]]) -> str:
    """The RFC 6962 root over each record's RFC 8785 canonical bytes, in lowercase hex."""
    try:
        leaves = [rfc8785.dumps(record) for record in records]
    except rfc8785.CanonicalizationError as error:
        raise _fail("malformed", "a record cannot be canonicalised (RFC 8785)") from error
    return merkle_root(leaves).hex()


@dataclass(frozen=True)
class _Claims:
    batch_id: str
    fund_id: str
    seq: int
    previous_digest: str | None
    record_count: int
    merkle_root: str


def _claims(payload: Mapping[str, Any]) -> _Claims:
    previous = payload.get("previous_digest")
    if "previous_digest" not in payload or not isinstance(previous, str | None):
        raise _fail("malformed", "the batch's previous_digest is missing or of the wrong type")
    claims = _Claims(
        batch_id=_member(payload, "batch_id", str),
        fund_id=_member(payload, "fund_id", str),
        seq=_member(payload, "seq", int),
        previous_digest=previous,
        record_count=_member(payload, "record_count", int),
        merkle_root=_member(payload, "merkle_root", str),
    )
    if claims.seq < 1:
        raise _fail("malformed", f"the batch's seq {claims.seq} is below 1")
    if not _BATCH_ID.fullmatch(claims.batch_id):
        raise _fail("malformed", "the batch's batch_id is not an id")  # it names files
    return claims


def _check_seq(seq: int, expected_seq: int | None) -> None:
    if expected_seq is None or seq == expected_seq:
        return
    if seq > expected_seq:
        raise _fail("seq-gap", f"the batch has seq {seq}; the next expected is {expected_seq}")
    raise _fail(
        "seq-replay",
        f"the batch has seq {seq}, already verified; the next expected is {expected_seq}",
    )


def verify_batch(
    content: bytes,
    *,
    jwks: Mapping[str, Any],
    fund_id: str,
    expected_seq: int | None = None,
    previous_digest: str | None = None,
    decryption_key: ECKey | OKPKey | None = None,
) -> VerifiedBatch:
    """Every check a fund makes on a batch's exact bytes, in the order of the spec.

    ``expected_seq`` is the last verified seq plus one (None: not checked);
    ``previous_digest`` the digest of the last verified batch. The chain is checked
    when a previous digest is given, or when ``expected_seq`` is 1 (then the batch must
    name none); a batch on its own, with neither, is checked for everything else.
    """
    if expected_seq is not None and expected_seq > 1 and previous_digest is None:
        raise ValueError("after seq 1, the previous batch's digest is needed to check the chain")
    if len(content) > MAX_BATCH_BYTES:
        raise _fail("malformed", f"the batch is larger than {MAX_BATCH_BYTES} bytes")
    text, encrypted = _open(content, decryption_key)
    signed_payload, kid = _verify_signature(text, jwks)
    payload = _parse(signed_payload)
    claims = _claims(payload)
    records = _records(payload)
    if claims.fund_id != fund_id:
        raise _fail("fund-id", f"the batch is addressed to {claims.fund_id!r}, not {fund_id!r}")
    _check_seq(claims.seq, expected_seq)
    _check_chain(claims.seq, claims.previous_digest, expected_seq, previous_digest)
    if claims.record_count != len(records):
        raise _fail(
            "record-count",
            f"record_count says {claims.record_count}; the batch holds {len(records)} records",
        )
    if merkle_root_hex(records) != claims.merkle_root.lower():
        raise _fail("merkle-root", "the Merkle root recomputed over the records differs")
    return VerifiedBatch(
        batch_id=claims.batch_id,
        fund_id=claims.fund_id,
        seq=claims.seq,
        digest=digest_of(content),
        previous_digest=claims.previous_digest,
        kid=kid,
        encrypted=encrypted,
        payload=payload,
        records=records,
    )


# -- receipts -------------------------------------------------------------------------


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
    outcomes: Mapping[str, str] | str = DEFAULT_OUTCOME,
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
    wrong = sorted({value for value in chosen.values() if value not in OUTCOMES})
    if wrong:
        raise ValueError(f"unknown outcomes {wrong}; one of: {', '.join(sorted(OUTCOMES))}")
    return [{"record_id": record_id, "outcome": chosen[record_id]} for record_id in ids]


def decided_outcomes(
    batch: VerifiedBatch, decide: Callable[[dict[str, Any]], str] | None
) -> Mapping[str, str] | str:
    """``decide(record)`` for each record of the batch, or ``noted`` for all without it."""
    if decide is None:
        return DEFAULT_OUTCOME
    return {str(record["record_id"]): decide(record) for record in batch.records}


def sign_receipt(
    batch: ReceiptSubject,
    outcomes: Mapping[str, str] | str = DEFAULT_OUTCOME,
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
    if chosen_alg not in RECEIPT_ALGORITHMS:
        raise ValueError(
            f"algorithm {chosen_alg!r} is not accepted on receipts: {', '.join(RECEIPT_ALGORITHMS)}"
        )
    when = received_at or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("received_at must carry its time zone")
    claims: dict[str, Any] = {
        "batch_id": batch.batch_id,
        "fund_id": batch.fund_id,
        "seq": batch.seq,
        "batch_digest": batch.digest,
        "received_at": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "outcomes": receipt_outcomes(batch, outcomes, default=default),
    }
    header = {"alg": chosen_alg, "kid": kid or key.kid or key.thumbprint()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # EdDSA: see _verify_signature
        token = jws.serialize_compact(header, rfc8785.dumps(claims), key, algorithms=[chosen_alg])
    return token.encode("ascii")


# -- files ----------------------------------------------------------------------------


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it, then rename it over.

    A crash leaves the old file or the new one, never half of one. The file is readable
    by its owner only.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(data)
            output.flush()
            os.fsync(output.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(_cell(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten_record(record: Mapping[str, Any]) -> dict[str, str]:
    """One CSV row: the record's own columns, then its data's (see the module docstring)."""
    correction = record.get("correction") or {}
    row = {name: _cell(record.get(name)) for name in RECORD_COLUMNS[:5]}
    row["correction_kind"] = _cell(correction.get("kind"))
    row["correction_date"] = _cell(correction.get("date"))
    data = dict(record.get("data") or {})
    number = data.pop(_SSN, None) or {}
    row["ssn_number"] = _cell(number.get("number") if isinstance(number, dict) else number)
    row["ssn_type"] = _cell(number.get("type") if isinstance(number, dict) else None)
    row.update({name: _cell(value) for name, value in data.items()})
    return row


def records_bytes(records: Sequence[Mapping[str, Any]], fmt: RecordFormat) -> bytes:
    if fmt == "ndjson":
        lines = (
            json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
            for record in records
        )
        return "".join(lines).encode("utf-8")
    if fmt != "csv":
        raise ValueError(f"unknown records format {fmt!r}: ndjson or csv")
    rows = [flatten_record(record) for record in records]
    known = set(RECORD_COLUMNS) | set(DATA_COLUMNS)
    extra = sorted({name for row in rows for name in row} - known)
    text = io.StringIO()
    writer = csv.DictWriter(text, [*RECORD_COLUMNS, *DATA_COLUMNS, *extra], restval="")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def write_records(path: Path, records: Sequence[Mapping[str, Any]], fmt: RecordFormat) -> None:
    """Write a batch's records to ``path`` (NDJSON or CSV), atomically."""
    write_atomically(path, records_bytes(records, fmt))


def read_record_ids(path: Path, fmt: RecordFormat) -> list[str]:
    """The record ids of a records file written by ``write_records``, in order."""
    with path.open(encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            return [row["record_id"] for row in csv.DictReader(handle)]
        return [str(json.loads(line)["record_id"]) for line in handle if line.strip()]


# -- state ----------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class BatchEntry:
    """One verified batch in the state file: where its records and receipt are."""

    seq: int
    batch_id: str
    digest: str
    record_count: int
    records_file: str  # relative to the state directory
    format: RecordFormat
    verified_at: str
    receipt_file: str | None = None
    acknowledged_at: str | None = None  # receipt accepted by the gateway, or answered to a push


class FundState:
    """The fund's state file ``state.json`` in ``directory``, and the files beside it.

    Holds the last verified seq and digest, and for each verified seq its batch id,
    digest, records file and receipt. Saved atomically (temporary file, then
    ``os.replace``). Use ``FundState.locked`` to read, change and save it: it holds an
    exclusive lock on the directory meanwhile (POSIX ``flock``), between threads and
    processes alike.
    """

    def __init__(
        self,
        directory: Path,
        fund_id: str,
        last_seq: int = 0,
        last_digest: str | None = None,
        batches: dict[int, BatchEntry] | None = None,
    ) -> None:
        self.directory = directory
        self.fund_id = fund_id
        self.last_seq = last_seq
        self.last_digest = last_digest
        self.batches: dict[int, BatchEntry] = batches or {}

    @classmethod
    def load(cls, directory: Path, fund_id: str) -> FundState:
        """The state in ``directory`` (empty if none yet); refused if it is another fund's."""
        path = directory / STATE_FILE
        if not path.exists():
            return cls(directory, fund_id)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            state = cls(
                directory,
                str(raw["fund_id"]),
                int(raw["last_seq"]),
                raw["last_digest"],
                {int(seq): BatchEntry(**entry) for seq, entry in raw["batches"].items()},
            )
        except (ValueError, KeyError, TypeError) as error:
            raise FundStateError(f"{path} is not a fund state file") from error
        if state.fund_id != fund_id:
            raise FundStateError(f"{directory} holds the state of {state.fund_id}, not {fund_id}")
        return state

    @classmethod
    @contextlib.contextmanager
    def locked(cls, directory: Path, fund_id: str) -> Iterator[FundState]:
        """The state, with the directory locked until the block ends."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with (directory / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield cls.load(directory, fund_id)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def save(self) -> None:
        document = {
            "fund_id": self.fund_id,
            "last_seq": self.last_seq,
            "last_digest": self.last_digest,
            "batches": {str(seq): asdict(entry) for seq, entry in sorted(self.batches.items())},
        }
        write_atomically(self.directory / STATE_FILE, json.dumps(document, indent=2).encode())

    @property
    def expected_seq(self) -> int:
        return self.last_seq + 1

    def find(self, digest: str) -> BatchEntry | None:
        return next((e for e in self.batches.values() if e.digest == digest), None)

    def unacknowledged(self) -> list[BatchEntry]:
        return [e for _, e in sorted(self.batches.items()) if e.acknowledged_at is None]

    def path(self, relative: str) -> Path:
        return self.directory / relative

    def verify(
        self,
        content: bytes,
        jwks: Mapping[str, Any],
        decryption_key: ECKey | OKPKey | None = None,
    ) -> VerifiedBatch:
        """``verify_batch`` as the next batch after the last one verified."""
        return verify_batch(
            content,
            jwks=jwks,
            fund_id=self.fund_id,
            expected_seq=self.expected_seq,
            previous_digest=self.last_digest,
            decryption_key=decryption_key,
        )

    def accept(
        self,
        batch: VerifiedBatch,
        fmt: RecordFormat,
        receipt: bytes | None = None,
        *,
        acknowledged: bool = False,
    ) -> BatchEntry:
        """Write the batch's records (and receipt), then record it and save the state.

        The files are written before the state names them: after a crash the batch is
        simply taken again. ``acknowledged``: the receipt is being handed over now (the
        answer to a push).
        """
        if batch.seq != self.expected_seq:
            raise FundStateError(f"batch seq {batch.seq} is not the next ({self.expected_seq})")
        stem = f"{batch.seq:08d}-{batch.batch_id}"
        records_file = f"{RECORDS_DIR}/{stem}.{fmt}"
        write_records(self.path(records_file), batch.records, fmt)
        entry = BatchEntry(
            seq=batch.seq,
            batch_id=batch.batch_id,
            digest=batch.digest,
            record_count=len(batch.records),
            records_file=records_file,
            format=fmt,
            verified_at=_now(),
        )
        if receipt is not None:
            entry.receipt_file = self.store_receipt(entry, receipt)
            entry.acknowledged_at = _now() if acknowledged else None
        self.batches[batch.seq] = entry
        self.last_seq = batch.seq
        self.last_digest = batch.digest
        self.save()
        return entry

    def store_receipt(self, entry: BatchEntry, receipt: bytes) -> str:
        name = f"{RECEIPTS_DIR}/{entry.seq:08d}-{entry.batch_id}.jose"
        write_atomically(self.path(name), receipt)
        return name

    def receipt_for(
        self,
        entry: BatchEntry,
        *,
        key: PrivateKey,
        kid: str | None = None,
        alg: str | None = None,
        outcome: str = DEFAULT_OUTCOME,
    ) -> bytes:
        """The entry's receipt: the one signed before, or a new one (saved in the state)."""
        if entry.receipt_file is not None:
            return self.path(entry.receipt_file).read_bytes()
        ids = read_record_ids(self.path(entry.records_file), entry.format)
        if len(ids) != entry.record_count:
            raise FundStateError(
                f"{entry.records_file} holds {len(ids)} records; the batch had {entry.record_count}"
            )
        ref = BatchRef(entry.batch_id, self.fund_id, entry.seq, entry.digest, ids)
        receipt = sign_receipt(ref, outcome, key=key, kid=kid, alg=alg)
        entry.receipt_file = self.store_receipt(entry, receipt)
        self.save()
        return receipt


# -- pull mode ------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """Why a run stopped: a verification rule, or a refusal of the gateway (``http``)."""

    seq: int | None
    batch_id: str | None
    rule: str
    message: str


@dataclass
class PullSummary:
    pulled: list[BatchEntry] = field(default_factory=list)
    acknowledged: list[BatchEntry] = field(default_factory=list)
    last_seq: int = 0
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


class _Stop(Exception):
    """Ends a run with its failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _problem(response: Any) -> str:
    """The status and the problem's detail: what the gateway says, never a record."""
    try:
        body = response.json()
    except ValueError:
        return str(response.status_code)
    detail = body.get("detail") or body.get("title") if isinstance(body, dict) else None
    return f"{response.status_code} {detail}" if detail else str(response.status_code)


@dataclass
class _Run:
    """One pull or acknowledge run: the client, the locked state, what to do."""

    client: GatewayClient
    state: FundState
    purpose: str
    agent_id: str
    summary: PullSummary
    signing_key: PrivateKey | None = None
    kid: str | None = None
    alg: str | None = None

    def get(self, path: str) -> Any:
        return self.client.request("GET", path, purpose=self.purpose, agent_id=self.agent_id)

    def listing(self, page_size: int) -> Iterator[dict[str, Any]]:
        after_seq = self.state.last_seq
        while True:
            response = self.get(f"/v1/batches?after_seq={after_seq}&limit={page_size}")
            if response.status_code != _HTTP_OK:
                message = f"listing the batches: {_problem(response)}"
                raise _Stop(Failure(None, None, "http", message))
            body = response.json()
            yield from body["batches"]
            if body.get("next_after_seq") is None:
                return
            after_seq = int(body["next_after_seq"])

    def take(
        self,
        listed: Mapping[str, Any],
        jwks: Mapping[str, Any],
        fmt: RecordFormat,
        decryption_key: ECKey | OKPKey | None,
        decide: Callable[[dict[str, Any]], str] | None,
    ) -> None:
        """Download one batch, verify it, keep its records (and receipt), record it."""
        seq, batch_id = int(listed["seq"]), str(listed["id"])
        response = self.get(f"/v1/batches/{batch_id}")
        if response.status_code != _HTTP_OK:
            message = f"downloading batch {seq}: {_problem(response)}"
            raise _Stop(Failure(seq, batch_id, "http", message))
        content: bytes = response.content
        announced = {response.headers.get("Digest-SHA256"), listed.get("digest")} - {None}
        if announced != {digest_of(content)}:
            message = "the bytes received do not have the digest the gateway announced"
            raise _Stop(Failure(seq, batch_id, "digest", message))
        try:
            batch = self.state.verify(content, jwks, decryption_key)
        except BatchVerificationError as error:
            raise _Stop(Failure(seq, batch_id, error.rule, error.message)) from error
        if batch.batch_id != batch_id:
            message = f"the batch listed as {batch_id} is {batch.batch_id}"
            raise _Stop(Failure(seq, batch_id, "batch-id", message))
        receipt = None
        if self.signing_key is not None:
            outcomes = decided_outcomes(batch, decide)
            receipt = sign_receipt(
                batch, outcomes, key=self.signing_key, kid=self.kid, alg=self.alg
            )
        self.summary.pulled.append(self.state.accept(batch, fmt, receipt))

    def post_receipts(self, outcome: str = DEFAULT_OUTCOME) -> None:
        """Post the receipt of every batch not yet acknowledged, in seq order."""
        assert self.signing_key is not None  # noqa: S101 - the callers check it
        for entry in self.state.unacknowledged():
            receipt = self.state.receipt_for(
                entry, key=self.signing_key, kid=self.kid, alg=self.alg, outcome=outcome
            )
            response = self.client.request(
                "POST",
                f"/v1/batches/{entry.batch_id}/receipt",
                purpose=self.purpose,
                agent_id=self.agent_id,
                content=receipt,
                headers={"Content-Type": JOSE},
            )
            if response.status_code not in {_HTTP_OK, _HTTP_CREATED}:
                message = f"the receipt for batch {entry.seq}: {_problem(response)}"
                raise _Stop(Failure(entry.seq, entry.batch_id, "receipt-refused", message))
            entry.acknowledged_at = _now()
            self.state.save()
            self.summary.acknowledged.append(entry)


def pull(
    client: GatewayClient,
    state_dir: Path,
    *,
    jwks: Mapping[str, Any],
    fund_id: str,
    agent_id: str,
    purpose: str = PURPOSE,
    fmt: RecordFormat = "ndjson",
    decryption_key: ECKey | OKPKey | None = None,
    ack: bool = False,
    signing_key: PrivateKey | None = None,
    kid: str | None = None,
    alg: str | None = None,
    decide: Callable[[dict[str, Any]], str] | None = None,
    page_size: int = 100,
) -> PullSummary:
    """Download, verify and keep every batch after the last verified one, in seq order.

    Each batch's records go to ``records/`` in ``state_dir``, then the state records
    it. A failed check stops the run at that batch, which is reported and neither kept
    nor acknowledged; the batches after it wait. With ``ack``, each batch gets a
    receipt (``decide(record)`` gives each record's outcome; ``noted`` by default),
    kept in ``receipts/``; then the receipt of every verified batch not yet
    acknowledged is posted, those before a failure included. Running it again
    downloads, writes and acknowledges nothing twice.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown records format {fmt!r}: ndjson or csv")
    if ack and signing_key is None:
        raise ValueError("acknowledging needs the fund's signing key")
    summary = PullSummary()
    with FundState.locked(state_dir, fund_id) as state:
        run = _Run(client, state, purpose, agent_id, summary)
        if ack:
            run.signing_key, run.kid, run.alg = signing_key, kid, alg
        try:
            for listed in run.listing(page_size):
                run.take(listed, jwks, fmt, decryption_key, decide)
        except _Stop as stop:
            summary.failure = stop.failure
        if ack:
            # The batches verified before a failure are acknowledged all the same.
            try:
                run.post_receipts()
            except _Stop as stop:
                summary.failure = summary.failure or stop.failure
        summary.last_seq = state.last_seq
    return summary


def acknowledge(
    client: GatewayClient,
    state_dir: Path,
    *,
    fund_id: str,
    agent_id: str,
    signing_key: PrivateKey,
    kid: str | None = None,
    alg: str | None = None,
    outcome: str = DEFAULT_OUTCOME,
    purpose: str = PURPOSE,
) -> PullSummary:
    """Post a receipt for every verified batch not yet acknowledged, in seq order.

    A receipt signed before (kept in ``receipts/``) is sent again as it is, so that a
    run interrupted after signing sends the same receipt; the others get ``outcome``
    for every record.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; one of: {', '.join(sorted(OUTCOMES))}")
    summary = PullSummary()
    with FundState.locked(state_dir, fund_id) as state:
        run = _Run(client, state, purpose, agent_id, summary, signing_key, kid, alg)
        try:
            run.post_receipts(outcome)
        except _Stop as stop:
            summary.failure = stop.failure
        summary.last_seq = state.last_seq
    return summary
