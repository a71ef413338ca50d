"""Access tokens: short-lived JWTs (RFC 9068) signed with the gateway's token key."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError

from gateway.auth.jose import UnreadableToken, read_unverified
from gateway.keys import ALGORITHMS, KeyUse

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings

ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})


class InvalidAccessToken(ValueError):
    """The token is malformed, expired, not ours or not an access token."""


def issue(
    keys: GatewayKeys,
    settings: Settings,
    *,
    participant_id: str,
    kind: str,
    scopes: Iterable[str],
    now: int,
    jkt: str | None = None,
) -> str:
    entry, key = keys.active(KeyUse.TOKEN)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": participant_id,
        "aud": settings.audience,
        "client_id": participant_id,
        "iat": now,
        "exp": now + settings.access_token_lifetime_s,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(sorted(scopes)),
        "participant_kind": kind,
    }
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    header = {"alg": entry.alg, "typ": "at+jwt", "kid": entry.kid}
    return jwt.encode(header, claims, key, algorithms=[entry.alg])


def verify(keys: GatewayKeys, settings: Settings, token: str, *, now: int) -> dict[str, Any]:
    """Return the claims of a valid access token issued by this gateway."""
    try:
        unverified = read_unverified(token)
    except UnreadableToken as error:
        raise InvalidAccessToken(str(error)) from error
    if unverified.header.get("typ") not in ACCESS_TOKEN_TYPES:
        raise InvalidAccessToken("not an access token (typ at+jwt)")
    algorithm = ALGORITHMS[KeyUse.TOKEN]
    if unverified.header.get("alg") != algorithm:
        raise InvalidAccessToken(f"access tokens are signed with {algorithm}")
    try:
        claims = jwt.decode(token, keys.verification_keys(KeyUse.TOKEN), algorithms=[algorithm])
    except JoseError as error:
        raise InvalidAccessToken("the access token was not signed by this gateway") from error
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=settings.clock_leeway_s,
        iss={"essential": True, "value": settings.issuer},
        aud={"essential": True, "value": settings.audience},
        sub={"essential": True},
        exp={"essential": True},
        client_id={"essential": True},
        participant_kind={"essential": True},
    )
    try:
        registry.validate(claims.claims)
    except ExpiredTokenError as error:
        raise InvalidAccessToken("the access token has expired") from error
    except JoseError as error:
        raise InvalidAccessToken(f"access token refused: {error.description}") from error
    return dict(claims.claims)
