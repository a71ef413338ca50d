"""Proof that a participant holds the private key it registers as its next one.

A participant adding a key in its own name sends, beside the public JWK, a short-lived
JWT signed with that new key: ``iss`` its id, ``aud`` the gateway (its issuer), ``iat``,
``exp`` (at most the client assertions' lifetime ahead) and a ``jti`` used once. Without
it, whoever stole a participant's current key could register a key of its own and keep
the participant's identity after the participant moved to its next key; with it, the
key registered is one the participant's own systems hold. The proof's ``typ`` is
``key-possession+jwt``, so that no client assertion or DPoP proof can stand in for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import JoseError

from gateway.auth.jose import PARTICIPANT_JWS, UnreadableToken, read_unverified, refused_algorithm
from gateway.auth.jwks import verification_key_set
from gateway.auth.models import MAX_JTI_LENGTH
from gateway.auth.repository import claim_once
from gateway.errors import InvalidField

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.settings import Settings

POSSESSION_TYPE = "key-possession+jwt"
FIELD = "proof"


def _refused(rule: str, message: str) -> InvalidField:
    return InvalidField(FIELD, rule, message)


def verify_possession(
    session: Session,
    settings: Settings,
    *,
    participant_id: str,
    jwk: dict[str, Any],
    proof: str,
    now: int,
) -> None:
    """Refuse (400 naming ``proof``) unless ``proof`` is signed by ``jwk`` as above."""
    try:
        unverified = read_unverified(proof)
    except UnreadableToken as error:
        raise _refused("format", f"the proof is not a compact JWS: {error}") from error
    if unverified.header.get("typ") != POSSESSION_TYPE:
        raise _refused("typ", f"the proof's header has typ {POSSESSION_TYPE!r}")
    reason = refused_algorithm(unverified.header.get("alg"))
    if reason:
        raise _refused("algorithm", reason)
    try:
        token = jwt.decode(proof, verification_key_set({"keys": [jwk]}), registry=PARTICIPANT_JWS)
    except JoseError as error:
        raise _refused(
            "signature", "the proof is not signed by the key being registered"
        ) from error
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=settings.clock_leeway_s,
        iss={"essential": True, "value": participant_id},
        aud={"essential": True, "value": settings.issuer},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise _refused("claims", f"the proof's claims are refused: {error.description}") from error
    lifetime = settings.client_assertion_max_lifetime_s
    if int(claims["exp"]) - now > lifetime + settings.clock_leeway_s:
        raise _refused("lifetime", f"the proof may live at most {lifetime} s")
    jti = str(claims["jti"])
    if len(jti) > MAX_JTI_LENGTH:
        raise _refused("jti", f"the proof's jti is longer than {MAX_JTI_LENGTH} characters")
    expires_at = datetime.fromtimestamp(int(claims["exp"]) + settings.clock_leeway_s, UTC)
    if not claim_once(session, "possession", participant_id, jti, expires_at):
        raise _refused("replayed", "this proof was already used")
