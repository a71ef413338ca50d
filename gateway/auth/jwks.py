"""Checking the public keys participants register (their JWKS and encryption key)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

# Asymmetric algorithms accepted in client assertions and DPoP proofs. "none" and the
# HMAC family are never accepted: a shared secret is not a participant's own key. An
# Ed25519 key signs under either name: RFC 9864's "Ed25519", or RFC 8037's "EdDSA", which
# Java (Nimbus) and .NET (jose-jwt, Microsoft.IdentityModel) libraries write.
SIGNING_ALGORITHMS = (
    "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "Ed25519", "EdDSA",
)  # fmt: skip
ED25519_NAMES = frozenset({"Ed25519", "EdDSA"})
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MIN_RSA_BITS = 2048
SIGNING_CURVES = frozenset({"P-256", "P-384", "P-521", "Ed25519"})
ENCRYPTION_CURVES = frozenset({"P-256", "P-384", "P-521", "X25519"})


class InvalidKeyError(ValueError):
    """A registered key is private, symmetric, too weak or malformed."""


def _import_public(raw: Any) -> ECKey | OKPKey | RSAKey:
    if not isinstance(raw, dict):
        raise InvalidKeyError("a JWK must be a JSON object")
    leaked = PRIVATE_MEMBERS & raw.keys()
    if leaked:
        raise InvalidKeyError(
            f"a private or symmetric key was given ({sorted(leaked)}): register the public key only"
        )
    kty = raw.get("kty")
    try:
        if kty == "EC":
            return ECKey.import_key(raw)
        if kty == "OKP":
            return OKPKey.import_key(raw)
        if kty == "RSA":
            key = RSAKey.import_key(raw)
            if key.raw_value.key_size < MIN_RSA_BITS:
                raise InvalidKeyError(f"RSA keys need at least {MIN_RSA_BITS} bits")
            return key
    except (JoseError, ValueError, TypeError, KeyError) as error:
        if isinstance(error, InvalidKeyError):
            raise
        raise InvalidKeyError(f"malformed {kty} key: {error}") from error
    raise InvalidKeyError(f"unsupported key type {kty!r}: use EC, OKP (Ed25519) or RSA")


def normalise_signing_jwks(document: Any) -> dict[str, Any]:
    """Validate a JWKS (or a single JWK) of public signing keys; give each a kid."""
    raws = document.get("keys") if isinstance(document, dict) and "keys" in document else [document]
    if not isinstance(raws, list) or not raws:
        raise InvalidKeyError("a JWKS needs at least one key")
    keys = []
    for raw in raws:
        key = _import_public(raw)
        if raw.get("use", "sig") != "sig":
            raise InvalidKeyError("signing keys must have use 'sig'")
        curve = raw.get("crv")
        if curve is not None and curve not in SIGNING_CURVES:
            raise InvalidKeyError(f"curve {curve!r} cannot sign")
        public = key.as_dict(private=False)
        public["kid"] = raw.get("kid") or key.thumbprint()
        public["use"] = "sig"
        if "alg" in raw:
            if raw["alg"] not in SIGNING_ALGORITHMS:
                raise InvalidKeyError(f"algorithm {raw['alg']!r} is not accepted")
            public["alg"] = raw["alg"]
        keys.append(public)
    kids = [key["kid"] for key in keys]
    if len(set(kids)) != len(kids):
        raise InvalidKeyError("two keys share a kid")
    return {"keys": keys}


def normalise_encryption_jwk(raw: Any) -> dict[str, Any]:
    """Validate a public key a fund wants its batches encrypted to (ECDH-ES)."""
    key = _import_public(raw)
    if raw.get("crv") not in ENCRYPTION_CURVES:
        raise InvalidKeyError("encryption keys must be EC (P-256/384/521) or X25519")
    public = key.as_dict(private=False)
    public["kid"] = raw.get("kid") or key.thumbprint()
    public["use"] = "enc"
    return public


def key_set(jwks: dict[str, Any]) -> KeySet:
    return KeySet.import_key_set(jwks)  # type: ignore[arg-type]


def verification_key_set(jwks: dict[str, Any]) -> KeySet:
    """A participant's keys, to verify what it signed.

    An Ed25519 key registered with ``alg`` ``Ed25519`` (or ``EdDSA``) verifies a JWS
    under either name: the two name the same signature, and a key bound to one would
    not be found for the other.
    """
    keys = [
        {name: value for name, value in key.items() if name != "alg"}
        if key.get("alg") in ED25519_NAMES
        else key
        for key in jwks.get("keys", [])
    ]
    try:
        text = json.dumps(keys, sort_keys=True)
    except (TypeError, ValueError):  # not JSON: refused as it is imported
        return key_set({"keys": keys})
    return _imported(text)


@lru_cache(maxsize=4096)
def _imported(keys: str) -> KeySet:
    """Keys imported once per process (each import parses and checks every key).

    The same participants' and DPoP keys sign request after request; read-only once built.
    """
    return key_set({"keys": json.loads(keys)})
