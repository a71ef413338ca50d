"""Storing identities: seal the fields, compute blind indexes and audit pseudonyms.

Blind indexes (secret ``blind-index``) let later work find a person without decrypting
anything; audit pseudonyms (secret ``pseudonym``) name the subject of an audit event.
Two keys, so that the audit trail handed to auditors cannot be joined to the database's
indexes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from audit.pseudonyms import PSEUDONYM_BYTES, pseudonym
from gateway.identities import consistency
from gateway.identities.agdref import parse_agdref
from gateway.identities.crypto import Sealed
from gateway.identities.dates import PartialDate
from gateway.identities.matching import Profile, blocking_keys
from gateway.identities.models import Identity
from gateway.identities.names import canonical_name
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gateway.identities.crypto import IdentityCipher
    from gateway.identities.schemas import IdentityIn
    from gateway.keys import GatewayKeys


@dataclass(frozen=True)
class IdentityKeys:
    """What sealing and indexing need, taken from the key store once."""

    cipher: IdentityCipher
    blind_index_key: bytes
    pseudonym_key: bytes

    @classmethod
    def from_store(cls, keys: GatewayKeys) -> IdentityKeys:
        return cls(keys.identity_cipher(), keys.secret("blind-index"), keys.secret("pseudonym"))


@dataclass(frozen=True)
class Keys:
    """The matching keys of one identity, before keying (canonical forms)."""

    agdref: str | None
    ssn: str | None
    name_year_sex: str | None

    @classmethod
    def of(cls, identity: IdentityIn) -> Keys:
        agdref = parse_agdref(identity.agdref_number).canonical if identity.agdref_number else None
        ssn = identity.social_security_number.number if identity.social_security_number else None
        year = PartialDate.parse(identity.birth_date).year if identity.birth_date else None
        name_year_sex = None
        if identity.birth_name and year and identity.sex:
            name_year_sex = f"{canonical_name(identity.birth_name)}|{year}|{identity.sex}"
        return cls(agdref, ssn, name_year_sex)


def subject_pseudonyms(
    keys: IdentityKeys, identity: IdentityIn, matching: Keys | None = None
) -> list[str]:
    """The audit pseudonyms of the person's identifiers (AGDREF number, NIR/NIA)."""
    matching = matching or Keys.of(identity)
    return pseudonyms_of(keys, matching.agdref, matching.ssn)


def identifier_indexes(keys: IdentityKeys, agdref: str | None, ssn: str | None) -> list[str]:
    """The blind indexes of an AGDREF number (10 digits) and a NIR/NIA, when known."""
    found = []
    if agdref:
        found.append(blind_index(keys, "agdref", agdref))
    if ssn:
        found.append(blind_index(keys, "ssn", ssn))
    return found


def pseudonyms_of(keys: IdentityKeys, agdref: str | None, ssn: str | None) -> list[str]:
    """The audit pseudonyms of an AGDREF number (10 digits) and a NIR/NIA, when known."""
    found = []
    if agdref:
        found.append(pseudonym(keys.pseudonym_key, "agdref", agdref))
    if ssn:
        found.append(pseudonym(keys.pseudonym_key, "nir", ssn))
    return found


def seal(keys: IdentityKeys, identity: IdentityIn, extra: dict[str, Any] | None = None) -> Identity:
    """A new identity: the document sealed under a fresh data key, with blind indexes."""
    return Identity(**seal_row(keys, identity, extra))


def seal_row(
    keys: IdentityKeys,
    identity: IdentityIn,
    extra: dict[str, Any] | None = None,
    matching: Keys | None = None,
) -> dict[str, Any]:
    """The column values of a new identity row (for bulk inserts)."""
    identity_id = new_id()
    fields = identity.document()
    document = {"identity": fields, **(extra or {})}
    plaintext = json.dumps(document, ensure_ascii=False, sort_keys=True).encode()
    sealed = keys.cipher.encrypt(plaintext, identity_id.encode())
    matching = matching or Keys.of(identity)
    key = keys.blind_index_key
    return {
        "id": identity_id,
        "ciphertext": sealed.ciphertext,
        "nonce": sealed.nonce,
        "wrapped_key": sealed.wrapped_key,
        "kek_id": sealed.kek_id,
        "bi_agdref": pseudonym(key, "agdref", matching.agdref) if matching.agdref else None,
        "bi_ssn": pseudonym(key, "ssn", matching.ssn) if matching.ssn else None,
        "bi_name_year_sex": (
            pseudonym(key, "name-year-sex", matching.name_year_sex)
            if matching.name_year_sex
            else None
        ),
        "residence_departement": identity.residence_departement,
        "nir_contradictions": flags(fields),
        "created_at": utcnow(),
        "shredded_at": None,
    }


def flags(document: Mapping[str, Any]) -> str | None:
    """The rules an identity's NIR or NIA breaks, as its row keeps them; None for none."""
    found = consistency.of_document(document)
    return " ".join(dict.fromkeys(c.rule for c in found)) or None


def match_key_rows(
    keys: IdentityKeys, identity_id: str, document: Mapping[str, Any]
) -> list[dict[str, str]]:
    """The rows of an identity's keyed blocking keys (from its document), for name matching."""
    profile = Profile.of(document)
    return [
        {"key": blind_index(keys, "match", key), "identity_id": identity_id}
        for key in sorted(blocking_keys(profile))
    ]


def open_document(keys: IdentityKeys, row: Identity) -> dict[str, Any]:
    """Decrypt a sealed identity document; only where a field must leave the gateway."""
    return open_sealed(keys, row)


class SealedColumns(Protocol):
    """An identity row, or just its sealed columns."""

    id: str
    ciphertext: bytes
    nonce: bytes
    wrapped_key: bytes | None
    kek_id: str


def open_sealed(keys: IdentityKeys, row: SealedColumns) -> dict[str, Any]:
    """Decrypt a sealed identity document from its columns."""
    sealed = Sealed(row.ciphertext, row.nonce, row.wrapped_key, row.kek_id)
    document: dict[str, Any] = json.loads(keys.cipher.decrypt(sealed, row.id.encode()))
    return document


def blind_index(keys: IdentityKeys, kind: str, canonical: str) -> str:
    return pseudonym(keys.blind_index_key, kind, canonical)


def blind_indexes(keys: IdentityKeys, kind: str, values: Iterable[str]) -> list[str]:
    """``blind_index`` of each value, the MAC's key and kind set up once for them all."""
    keyed = _keyed_mac(keys.blind_index_key, kind)
    found = []
    for value in values:
        mac = keyed.copy()
        mac.update(value.encode())
        found.append(f"{kind}:{mac.digest()[:PSEUDONYM_BYTES].hex()}")
    return found


@lru_cache(maxsize=16)
def _keyed_mac(key: bytes, kind: str) -> hmac.HMAC:
    """An HMAC under ``key`` that has read the kind, as ``pseudonym`` computes it: copied."""
    pseudonym(key, kind, "")  # the same checks of the key and the kind
    return hmac.new(key, kind.encode() + b"\x00", hashlib.sha256)
