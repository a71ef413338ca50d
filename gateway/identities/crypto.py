"""Envelope encryption of identity data at rest, with rotating keys and crypto-shredding.

Every record gets its own random 256-bit data key. The record is encrypted with it
(AES-256-GCM, random 96-bit nonce, the caller's associated data bound, e.g. the row id),
and the data key is itself encrypted ("wrapped") under a key-encryption key (KEK) of the
gateway's key store: ``wrapped_key`` is the wrap's nonce followed by its ciphertext, and
the wrap's associated data names the KEK, so a wrapped key cannot be passed off as one
made under another KEK.

- Rotation: the key store adds a new active KEK; :meth:`IdentityCipher.rewrap` then
  re-encrypts a record's data key under it, without touching the record's ciphertext.
  Old KEKs must stay loaded until no record refers to them.
- Crypto-shredding: :meth:`IdentityCipher.shred` drops the wrapped data key. Once the
  caller has stored that (and no backup still holds the wrapped key), the ciphertext can
  never be read again; since every record has its own data key, no other record is touched.

Exceptions::

    IdentityCryptoError     base: nothing below is ever raised as anything else
    ├── Shredded            the data key was destroyed: the record is gone for good
    ├── UnknownKey          the record's data key is wrapped under a KEK that is not loaded
    └── Tampered            authentication failed: wrong associated data, modified bytes

The constructor raises ``ValueError`` for keys that are not 32 bytes or an active KEK id
that is not among them: a configuration error, not a property of a record.

Pure: no database, no files; the key store (``gateway.keys``) builds the cipher.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from collections.abc import Mapping

KEY_BYTES = 32  # AES-256, for the data keys and the KEKs
NONCE_BYTES = 12  # 96-bit GCM nonces
TAG_BYTES = 16
WRAPPED_KEY_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
_WRAP_CONTEXT = b"gateway identity data key\x00"


class IdentityCryptoError(Exception):
    """A sealed identity record cannot be opened."""


class Shredded(IdentityCryptoError):
    """The record's data key was destroyed (crypto-shredded): it can never be read again."""


class UnknownKey(IdentityCryptoError):
    """The record's data key is wrapped under a key-encryption key that is not loaded."""


class Tampered(IdentityCryptoError):
    """Authentication failed: wrong associated data, or bytes changed since encryption."""


@dataclass(frozen=True)
class Sealed:
    """One encrypted record, as stored: nothing in it is secret without the KEKs."""

    ciphertext: bytes  # includes the 16-byte GCM tag
    nonce: bytes
    wrapped_key: bytes | None  # wrap nonce || wrapped data key; None once shredded
    kek_id: str


def _wrap_associated_data(kek_id: str) -> bytes:
    return _WRAP_CONTEXT + kek_id.encode()


class IdentityCipher:
    """Seals and opens identity records under the key-encryption keys it is given."""

    def __init__(self, keks: Mapping[str, bytes], active_kek_id: str) -> None:
        for kek_id, kek in keks.items():
            if len(kek) != KEY_BYTES:
                raise ValueError(f"key-encryption key {kek_id!r} must be {KEY_BYTES} bytes")
        if active_kek_id not in keks:
            raise ValueError(f"the active key-encryption key {active_kek_id!r} is not loaded")
        self._keks = {kek_id: AESGCM(kek) for kek_id, kek in keks.items()}
        self._active_kek_id = active_kek_id

    def __repr__(self) -> str:
        return f"IdentityCipher(kek_ids={sorted(self._keks)!r}, active={self._active_kek_id!r})"

    @property
    def active_kek_id(self) -> str:
        """The KEK new records, and rewrapped ones, are wrapped under."""
        return self._active_kek_id

    @property
    def kek_ids(self) -> frozenset[str]:
        """Every loaded KEK id (the active one and the retired ones)."""
        return frozenset(self._keks)

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> Sealed:
        """Seal ``plaintext`` under a fresh data key, bound to ``associated_data``."""
        data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, associated_data)
        return Sealed(ciphertext, nonce, self._wrap(data_key), self._active_kek_id)

    def decrypt(self, sealed: Sealed, associated_data: bytes) -> bytes:
        """Open a record sealed with the same ``associated_data``.

        Raises :class:`Shredded`, :class:`UnknownKey` or :class:`Tampered`.
        """
        data_key = self._unwrap(sealed)
        if len(sealed.nonce) != NONCE_BYTES:
            raise Tampered("the record's nonce has the wrong length")
        try:
            return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, associated_data)
        except InvalidTag:
            raise Tampered("the record does not authenticate") from None

    def rewrap(self, sealed: Sealed) -> Sealed:
        """The same record with its data key wrapped (afresh) under the active KEK.

        The ciphertext and its nonce are kept as they are; the record's associated data is
        not needed and not checked. Raises :class:`Shredded`, :class:`UnknownKey` or
        :class:`Tampered` (the wrapped key) like :meth:`decrypt`.
        """
        data_key = self._unwrap(sealed)
        return replace(sealed, wrapped_key=self._wrap(data_key), kek_id=self._active_kek_id)

    @staticmethod
    def shred(sealed: Sealed) -> Sealed:
        """The same record without its data key: store it, and the record is unreadable.

        Only storing the result (over the only copy of the wrapped key) shreds anything.
        """
        return replace(sealed, wrapped_key=None)

    def _wrap(self, data_key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        kek = self._keks[self._active_kek_id]
        return nonce + kek.encrypt(nonce, data_key, _wrap_associated_data(self._active_kek_id))

    def _unwrap(self, sealed: Sealed) -> bytes:
        if sealed.wrapped_key is None:
            raise Shredded("the record's data key was destroyed")
        kek = self._keks.get(sealed.kek_id)
        if kek is None:
            raise UnknownKey(f"key-encryption key {sealed.kek_id!r} is not loaded")
        if len(sealed.wrapped_key) != WRAPPED_KEY_BYTES:
            raise Tampered("the wrapped data key has the wrong length")
        nonce, wrapped = sealed.wrapped_key[:NONCE_BYTES], sealed.wrapped_key[NONCE_BYTES:]
        try:
            return kek.decrypt(nonce, wrapped, _wrap_associated_data(sealed.kek_id))
        except InvalidTag:
            raise Tampered("the wrapped data key does not authenticate") from None
