"""Access tokens: short-lived JWTs (RFC 9068) signed with the gateway's token key."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
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


def verify(
    keys: GatewayKeys,
    settings: Settings,
    token: str,
    *,
    now: int,
    verified: VerifiedTokens | None = None,
) -> dict[str, Any]:
    """Return the claims of a valid access token issued by this gateway.

    With ``verified``, a token whose signature was checked before under the same keys
    is not checked again; its claims (expiry, issuer, audience) are, every time.
    """
    known = verified.get(keys, token) if verified is not None else None
    if known is not None:
        _validate(settings, known, now)
        return dict(known)
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
    _validate(settings, claims.claims, now)
    if verified is not None:
        verified.add(keys, token, claims.claims)
    return dict(claims.claims)


def _validate(settings: Settings, claims: dict[str, Any], now: int) -> None:
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
        registry.validate(claims)
    except ExpiredTokenError as error:
        raise InvalidAccessToken("the access token has expired") from error
    except JoseError as error:
        raise InvalidAccessToken(f"access token refused: {error.description}") from error


class VerifiedTokens:
    """Access tokens whose signature verified, with their claims: the most recent ones.

    A client uses its token for minutes: the ECDSA check is paid once per token and
    server process rather than once per request. Held under the keys that verified
    them (a changed keyring checks every token anew), ``MAX_TOKENS`` at most.
    """

    MAX_TOKENS = 10_000

    def __init__(self) -> None:
        self._tokens: OrderedDict[str, tuple[GatewayKeys, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, keys: GatewayKeys, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._tokens.get(token)
            if found is None or found[0] is not keys:
                return None
            self._tokens.move_to_end(token)
            return found[1]

    def add(self, keys: GatewayKeys, token: str, claims: dict[str, Any]) -> None:
        with self._lock:
            self._tokens[token] = (keys, dict(claims))
            self._tokens.move_to_end(token)
            while len(self._tokens) > self.MAX_TOKENS:
                self._tokens.popitem(last=False)
