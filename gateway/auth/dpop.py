"""Proof of possession with DPoP (RFC 9449): checking a proof, binding a token to its key."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from joserfc import jwt
from joserfc.errors import JoseError

from gateway.auth.jose import (
    PARTICIPANT_JWS,
    UnreadableToken,
    read_unverified,
    refused_algorithm,
)
from gateway.auth.jwks import InvalidKeyError, normalise_signing_jwks, verification_key_set
from gateway.auth.models import MAX_JTI_LENGTH
from gateway.auth.repository import claim_once

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.settings import Settings

DPOP_TYPE = "dpop+jwt"


class InvalidDPoPProof(ValueError):
    """The DPoP proof is malformed, stale, replayed, or for another request."""


def access_token_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _normalise_uri(uri: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))


def verify_proof(  # noqa: C901 - one linear sequence of checks, each with its own refusal
    session: Session,
    settings: Settings,
    *,
    proof: str,
    method: str,
    url: str,
    now: int,
    access_token: str | None = None,
) -> str:
    """Check a DPoP proof for this request; return the thumbprint (``jkt``) of its key."""
    try:
        unverified = read_unverified(proof)
    except UnreadableToken as error:
        raise InvalidDPoPProof(f"malformed DPoP proof: {error}") from error
    header = unverified.header
    if header.get("typ") != DPOP_TYPE:
        raise InvalidDPoPProof(f"a DPoP proof has typ {DPOP_TYPE!r}")
    reason = refused_algorithm(header.get("alg"))
    if reason:
        raise InvalidDPoPProof(reason)
    if not isinstance(header.get("jwk"), dict) or "keys" in header["jwk"]:
        # A key set would let the proof be signed by one key and bind the token to another.
        raise InvalidDPoPProof("the proof's jwk header must be one public JWK")
    try:
        jwks = normalise_signing_jwks(header.get("jwk"))
    except InvalidKeyError as error:
        raise InvalidDPoPProof(f"the proof's jwk header is not a public key: {error}") from error
    keys = verification_key_set(jwks)
    try:
        claims = jwt.decode(proof, keys, registry=PARTICIPANT_JWS).claims
    except JoseError as error:
        raise InvalidDPoPProof("the DPoP proof's signature does not verify") from error
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=settings.clock_leeway_s,
        jti={"essential": True},
        htm={"essential": True, "value": method.upper()},
        htu={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise InvalidDPoPProof(f"DPoP proof refused: {error.description}") from error
    if not isinstance(claims["htu"], str) or _normalise_uri(claims["htu"]) != _normalise_uri(url):
        raise InvalidDPoPProof("the DPoP proof is for another URL")
    if now - int(claims["iat"]) > settings.dpop_proof_max_age_s:
        raise InvalidDPoPProof("the DPoP proof is too old")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise InvalidDPoPProof("the DPoP proof is for another access token (ath)")
    if len(claims["jti"]) > MAX_JTI_LENGTH:
        raise InvalidDPoPProof(f"the DPoP proof's jti is longer than {MAX_JTI_LENGTH} characters")
    thumbprint = keys.keys[0].thumbprint()
    expires_at = datetime.fromtimestamp(
        int(claims["iat"]) + settings.dpop_proof_max_age_s + settings.clock_leeway_s, UTC
    )
    if not claim_once(session, "dpop", thumbprint, str(claims["jti"]), expires_at):
        raise InvalidDPoPProof("this DPoP proof was already used (replay)")
    return thumbprint
