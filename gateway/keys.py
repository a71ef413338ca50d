"""The gateway's own keys: signing keys per use, secrets, and identity encryption keys.

Layout of the key directory (private files are created mode 0600)::

    keyring.json                    metadata only: environment, kids, uses, which key is
                                    active, identity KEK ids and which one is active
    private/<kid>.json              one private JWK per signing key
    secrets/<name>.key              base64 of a random secret (pseudonym, blind-index)
    secrets/identity-kek-<id>.key   base64 of a key-encryption key of identity data

Rotation adds a new key per use, published at once but signing only from its activation
time (``activates_at``, a configurable time ahead, so that every fund and auditor caching
the JWKS has it before anything is signed with it); the key it replaces retires then
(``retires_at``) and stays in the keyring, and in the published JWKS for a configurable
time, so that anything it signed can still be verified. Whether a key is pending, active
or retired is computed from those times on each use: every process reading the same
keyring agrees, without a restart. Rotating the identity
key-encryption key (KEK) likewise adds a new active one; the retired ones stay loaded so
that data keys wrapped under them can still be unwrapped (see ``gateway.identities.crypto``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from joserfc.jwk import ECKey, KeySet, OKPKey

from audit.checkpoints import CHECKPOINT_KEY_USE, KEY_USE_MEMBER
from connectors import wire
from gateway.settings import Environment
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.identities.crypto import IdentityCipher

KEYRING = "keyring.json"
SECRET_BYTES = 32


class KeyUse(StrEnum):
    TOKEN = "token"  # noqa: S105 - access tokens (RFC 9068)
    BATCH = wire.BATCH_KEY_USE  # signed batches to funds
    CHECKPOINT = CHECKPOINT_KEY_USE  # audit log checkpoints


ALGORITHMS = {
    KeyUse.TOKEN: "ES256",
    KeyUse.BATCH: wire.BATCH_SIGNING_ALG,
    KeyUse.CHECKPOINT: "EdDSA",
}
SECRETS = ("pseudonym", "blind-index")
IDENTITY_KEK_BYTES = 32
IDENTITY_KEK_PREFIX = "identity-kek-"
_IDENTITY_KEK_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")  # file name, kek_id column


class KeyStoreError(Exception):
    """The key directory is missing, incomplete or not fit for the environment."""


class KeyStatus(StrEnum):
    PENDING = "pending"  # published, not signing yet
    ACTIVE = "active"  # signing for its use
    RETIRED = "retired"  # replaced; published for verification until its retention ends


@dataclass(frozen=True)
class KeyEntry:
    """One signing key's metadata; ``status`` and ``active`` are as of when it was read."""

    kid: str
    use: KeyUse
    alg: str
    created_at: str
    activates_at: str
    retires_at: str | None = None
    status: KeyStatus = KeyStatus.ACTIVE

    @property
    def active(self) -> bool:
        return self.status == KeyStatus.ACTIVE

    def status_at(self, now: datetime) -> KeyStatus:
        if now < _instant(self.activates_at):
            return KeyStatus.PENDING
        if self.retires_at is not None and now >= _instant(self.retires_at):
            return KeyStatus.RETIRED
        return KeyStatus.ACTIVE

    def as_dict(self) -> dict[str, Any]:
        """What the keyring stores: the times, never the status (it follows from them)."""
        return {
            "kid": self.kid,
            "use": str(self.use),
            "alg": self.alg,
            "created_at": self.created_at,
            "activates_at": self.activates_at,
            "retires_at": self.retires_at,
        }


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _entry_of(raw: dict[str, Any]) -> KeyEntry:
    """A keyring record, with its activation and retirement times.

    One written before those times (with ``active`` only) is active or retired since it
    was made; one marked ``active: false`` is retired.
    """
    created = raw["created_at"]
    retires = raw.get("retires_at")
    if retires is None and not raw.get("active", True):
        retires = created
    return KeyEntry(
        raw["kid"],
        KeyUse(raw["use"]),
        raw["alg"],
        created,
        raw.get("activates_at", created),
        retires,
    )


@dataclass(frozen=True)
class IdentityKekEntry:
    """Metadata of one identity key-encryption key; its value is in secrets/."""

    id: str
    created_at: str
    active: bool

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "created_at": self.created_at, "active": self.active}


def identity_kek_path(key_dir: Path, kek_id: str) -> Path:
    return key_dir / "secrets" / f"{IDENTITY_KEK_PREFIX}{kek_id}.key"


def _generate(use: KeyUse) -> ECKey | OKPKey:
    if ALGORITHMS[use] == "ES256":
        return ECKey.generate_key("P-256", private=True)
    return OKPKey.generate_key("Ed25519", private=True)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


class GatewayKeys:
    """Loaded keys; build once per process (app factory, CLI command), never at import."""

    def __init__(
        self,
        environment: Environment,
        entries: list[KeyEntry],
        private: dict[str, ECKey | OKPKey],
        secret_values: dict[str, bytes],
        identity_keks: list[IdentityKekEntry] | None = None,
        identity_kek_values: dict[str, bytes] | None = None,
    ) -> None:
        self.environment = environment
        self._entries = entries
        self.identity_keks = identity_keks or []
        self._private = private
        self._secrets = secret_values
        self._identity_kek_values = identity_kek_values or {}

    # -- creation -----------------------------------------------------------------

    @classmethod
    def init(cls, key_dir: Path, environment: Environment) -> GatewayKeys:
        """Create a fresh key directory; refuse to overwrite an existing one."""
        if (key_dir / KEYRING).exists():
            raise KeyStoreError(f"keys already exist in {key_dir}; use rotate")
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in SECRETS:
            encoded = base64.b64encode(secrets.token_bytes(SECRET_BYTES))
            _write_private(key_dir / "secrets" / f"{name}.key", encoded)
        entries = [_new_key(key_dir, use) for use in KeyUse]
        identity_keks = [_new_identity_kek(key_dir)]
        _write_keyring(key_dir, environment, entries, identity_keks)
        return cls.load(key_dir)

    @classmethod
    def rotate(
        cls,
        key_dir: Path,
        uses: list[KeyUse] | None = None,
        *,
        publish_ahead: timedelta = timedelta(0),
    ) -> list[KeyEntry]:
        """Add a new key for each use, signing ``publish_ahead`` from now.

        Until then it is only published; from then on it signs, and the key it replaces
        retires (published still, for verification). A use whose next key is still
        pending cannot be rotated again.
        """
        current = cls.load(key_dir)
        chosen = [use for use in KeyUse if use in set(uses or list(KeyUse))]
        now = utcnow()
        for use in chosen:
            waiting = [e for e in current.entries if e.use == use and e.status_at(now) == "pending"]
            if waiting:
                raise KeyStoreError(
                    f"the next {use} key {waiting[0].kid} is still waiting to sign "
                    f"(from {waiting[0].activates_at}); rotate again once it is active"
                )
        activates = (now + publish_ahead).isoformat()
        entries = [
            replace(e, retires_at=activates) if e.use in chosen and e.retires_at is None else e
            for e in current.entries
        ]
        added = [_new_key(key_dir, use, activates) for use in chosen]
        _write_keyring(key_dir, current.environment, entries + added, current.identity_keks)
        return [cls.load(key_dir).entry(e.kid) for e in added]

    @classmethod
    def rotate_identity_kek(cls, key_dir: Path) -> str:
        """Add a new active identity KEK and return its id; the old ones stay loaded.

        Nothing is re-wrapped here: data keys stay wrapped under the KEK they were wrapped
        under until something calls ``IdentityCipher.rewrap`` on them.
        """
        current = cls.load(key_dir)
        retired = [
            IdentityKekEntry(e.id, e.created_at, active=False) for e in current.identity_keks
        ]
        added = _new_identity_kek(key_dir, {e.id for e in retired})
        _write_keyring(key_dir, current.environment, current.entries, [*retired, added])
        return added.id

    # -- loading ------------------------------------------------------------------

    @classmethod
    def load(cls, key_dir: Path) -> GatewayKeys:
        path = key_dir / KEYRING
        if not path.exists():
            raise KeyStoreError(f"no keys in {key_dir}: run 'gateway keys init'")
        document = json.loads(path.read_text())
        environment = Environment(document["environment"])
        entries = [_entry_of(e) for e in document["keys"]]
        private: dict[str, ECKey | OKPKey] = {}
        for entry in entries:
            raw = json.loads((key_dir / "private" / f"{entry.kid}.json").read_text())
            key = ECKey.import_key(raw) if raw["kty"] == "EC" else OKPKey.import_key(raw)
            private[entry.kid] = key
        secret_values = {}
        for name in SECRETS:
            secret_path = key_dir / "secrets" / f"{name}.key"
            if not secret_path.exists():
                raise KeyStoreError(f"secret {name!r} missing from {key_dir}")
            secret_values[name] = base64.b64decode(secret_path.read_bytes())
        identity_keks = [
            IdentityKekEntry(e["id"], e["created_at"], bool(e["active"]))
            for e in document.get("identity_keks", [])
        ]
        identity_kek_values = {e.id: _read_identity_kek(key_dir, e.id) for e in identity_keks}
        keys = cls(environment, entries, private, secret_values, identity_keks, identity_kek_values)
        keys._check_complete()
        return keys

    def _check_complete(self) -> None:
        for use in KeyUse:
            if not any(e.active and e.use == use for e in self.entries_at(utcnow())):
                raise KeyStoreError(f"no active {use} key")
        for name, value in self._secrets.items():
            if len(value) < SECRET_BYTES:
                raise KeyStoreError(f"secret {name!r} is shorter than {SECRET_BYTES} bytes")
        if not any(e.active for e in self.identity_keks):
            raise KeyStoreError("no active identity key-encryption key")

    def check_production(self, key_dir: Path) -> None:
        """Refuse development keys, and private files others can read, in production."""
        if self.environment != Environment.PRODUCTION:
            raise KeyStoreError(
                f"the keys in {key_dir} were made for {self.environment}; "
                "production needs keys made by 'gateway keys init' with "
                "GATEWAY_ENVIRONMENT=production"
            )
        for path in [*(key_dir / "private").iterdir(), *(key_dir / "secrets").iterdir()]:
            if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyStoreError(f"{path} is readable by others: chmod 600 it")

    # -- use ----------------------------------------------------------------------

    @property
    def entries(self) -> list[KeyEntry]:
        """Every signing key, with its status now."""
        return self.entries_at(utcnow())

    def entries_at(self, now: datetime) -> list[KeyEntry]:
        return [replace(e, status=e.status_at(now)) for e in self._entries]

    def entry(self, kid: str) -> KeyEntry:
        return next(e for e in self.entries if e.kid == kid)

    def active(self, use: KeyUse, now: datetime | None = None) -> tuple[KeyEntry, ECKey | OKPKey]:
        """The key that signs for ``use`` now: the last activated of those not retired."""
        at = now or utcnow()
        signing = [e for e in self.entries_at(at) if e.active and e.use == use]
        if not signing:
            raise KeyStoreError(f"no active {use} key")
        entry = max(signing, key=lambda e: _instant(e.activates_at))
        return entry, self._private[entry.kid]

    def verification_keys(self, use: KeyUse) -> KeySet:
        """Every key of that use, pending, active or retired, public parts only."""
        return KeySet([self._public(e) for e in self._entries if e.use == use])

    def secret(self, name: str) -> bytes:
        return self._secrets[name]

    def active_identity_kek(self) -> IdentityKekEntry:
        """The identity KEK new data keys are wrapped under (the last one marked active)."""
        active = [e for e in self.identity_keks if e.active]
        if not active:
            raise KeyStoreError("no active identity key-encryption key")
        return active[-1]

    def identity_cipher(self) -> IdentityCipher:
        """The cipher of identity data: every identity KEK loaded, the active one wrapping."""
        # Imported here: gateway.identities builds on the key store, not the other way round.
        from gateway.identities.crypto import IdentityCipher  # noqa: PLC0415

        return IdentityCipher(self._identity_kek_values, self.active_identity_kek().id)

    def _public(self, entry: KeyEntry) -> ECKey | OKPKey:
        public = self._private[entry.kid].as_dict(private=False)
        public.update(kid=entry.kid, use="sig", alg=entry.alg)
        key_type = ECKey if public["kty"] == "EC" else OKPKey
        return key_type.import_key(public)

    def public_jwks(
        self, *, keep_retired: timedelta | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """The published JWKS: every signing key with its kid, use, alg and gateway use.

        Pending keys are in it (so that verifiers have them before they sign), and retired
        ones, for ``keep_retired`` after they retired (for ever if None).
        """
        at = now or utcnow()
        keys = []
        for entry in self._entries:
            if (
                keep_retired is not None
                and entry.retires_at is not None
                and at >= _instant(entry.retires_at) + keep_retired
            ):
                continue
            public = self._public(entry).as_dict(private=False)
            public[KEY_USE_MEMBER] = str(entry.use)
            keys.append(public)
        return {"keys": keys}


def _new_key(key_dir: Path, use: KeyUse, activates_at: str | None = None) -> KeyEntry:
    key = _generate(use)
    created = utcnow()
    kid = f"{use}-{created:%Y%m%d}-{key.thumbprint()[:10]}"
    private = key.as_dict(private=True)
    private["kid"] = kid
    _write_private(key_dir / "private" / f"{kid}.json", json.dumps(private).encode())
    return KeyEntry(
        kid, use, ALGORITHMS[use], created.isoformat(), activates_at or created.isoformat()
    )


def _new_identity_kek(key_dir: Path, taken: set[str] | None = None) -> IdentityKekEntry:
    created = utcnow()
    while True:
        kek_id = f"{created:%Y%m%d}-{secrets.token_hex(5)}"
        if kek_id not in (taken or set()):
            break
    encoded = base64.b64encode(secrets.token_bytes(IDENTITY_KEK_BYTES))
    _write_private(identity_kek_path(key_dir, kek_id), encoded)
    return IdentityKekEntry(kek_id, created.isoformat(), active=True)


def _read_identity_kek(key_dir: Path, kek_id: str) -> bytes:
    if not _IDENTITY_KEK_ID.fullmatch(kek_id):
        raise KeyStoreError(f"bad identity key-encryption key id {kek_id!r} in {KEYRING}")
    path = identity_kek_path(key_dir, kek_id)
    if not path.exists():
        raise KeyStoreError(f"identity key-encryption key {kek_id!r} missing from {key_dir}")
    try:
        value = base64.b64decode(path.read_bytes().strip(), validate=True)
    except binascii.Error as error:
        raise KeyStoreError(f"identity key-encryption key {kek_id!r} is not base64") from error
    if len(value) != IDENTITY_KEK_BYTES:
        raise KeyStoreError(
            f"identity key-encryption key {kek_id!r} is not {IDENTITY_KEK_BYTES} bytes"
        )
    return value


def _write_keyring(
    key_dir: Path,
    environment: Environment,
    entries: list[KeyEntry],
    identity_keks: list[IdentityKekEntry],
) -> None:
    document = {
        "environment": str(environment),
        "keys": [e.as_dict() for e in entries],
        "identity_keks": [e.as_dict() for e in identity_keks],
    }
    temporary = key_dir / (KEYRING + ".tmp")
    temporary.write_text(json.dumps(document, indent=2))
    temporary.replace(key_dir / KEYRING)
