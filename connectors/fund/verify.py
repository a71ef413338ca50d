"""Verifying a batch the gateway sent: every check a fund makes, each failure named.

``verify_batch`` decrypts (JWE), checks the signature, ``typ``, ``fund_id``, ``seq``, the
digest chain, ``record_count`` and the Merkle root of the batch's exact bytes, in the
order of ``docs/batches.md``; each failure is a ``BatchVerificationError`` naming its rule.
"""

from __future__ import annotations

import base64
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rfc8785
from joserfc import jwe, jws
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwe import JWERegistry
from joserfc.jwk import ECKey, OKPKey

from connectors import wire
from connectors.fund.errors import BatchVerificationError

_BATCH_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")


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
    if header.get("alg") != wire.ENCRYPTION_ALG or header.get("enc") != wire.ENCRYPTION_ENC:
        raise _fail(
            "decrypt",
            f"the batch is encrypted with {header.get('alg')!r}/{header.get('enc')!r}; "
            f"expected {wire.ENCRYPTION_ALG}/{wire.ENCRYPTION_ENC}",
        )
    registry = JWERegistry(algorithms=[wire.ENCRYPTION_ALG, wire.ENCRYPTION_ENC])
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
    batch_keys = [key for key in named if key.get(wire.KEY_USE_MEMBER) == wire.BATCH_KEY_USE]
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
    registry.max_payload_length = wire.MAX_BATCH_BYTES
    return registry


def _verify_signature(text: str, jwks: Mapping[str, Any]) -> tuple[bytes, str]:
    try:
        extracted = jws.extract_compact(text.encode("ascii"), registry=_registry("EdDSA"))
    except (JoseError, ValueError, TypeError) as error:
        raise _fail("malformed", "the batch is not a well-formed compact JWS") from error
    header = extracted.headers()
    alg = header.get("alg")
    if alg not in wire.BATCH_ALGORITHMS:
        raise _fail("algorithm", f"the batch's algorithm {alg!r} is refused: EdDSA (Ed25519) only")
    if header.get("typ") != wire.BATCH_TYPE:
        raise _fail("typ", f"the batch's typ is {header.get('typ')!r}, not {wire.BATCH_TYPE!r}")
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
        leaves = [wire.canonical(record) for record in records]
    except rfc8785.CanonicalizationError as error:
        raise _fail("malformed", "a record cannot be canonicalised (RFC 8785)") from error
    return wire.merkle_root_hex(leaves)


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
    if len(content) > wire.MAX_BATCH_BYTES:
        raise _fail("malformed", f"the batch is larger than {wire.MAX_BATCH_BYTES} bytes")
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
        digest=wire.digest_of(content),
        previous_digest=claims.previous_digest,
        kid=kid,
        encrypted=encrypted,
        payload=payload,
        records=records,
    )
