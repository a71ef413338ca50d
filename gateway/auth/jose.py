"""Small helpers over joserfc shared by client assertions, DPoP proofs and access tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from gateway.auth.jwks import SIGNING_ALGORITHMS


class UnreadableToken(ValueError):
    """Not a compact JWS with a JSON header and payload."""


@dataclass(frozen=True)
class Unverified:
    """A compact JWS read without checking its signature, to pick the key to check it with."""

    header: dict[str, Any]
    claims: dict[str, Any]


def read_unverified(token: str) -> Unverified:
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as error:
        raise UnreadableToken("not a compact JWS with a JSON payload") from error
    if not isinstance(claims, dict):
        raise UnreadableToken("the JWT payload is not a JSON object")
    return Unverified(dict(compact.headers()), claims)


def refused_algorithm(alg: object) -> str | None:
    """Why an ``alg`` is refused, or None if it is one of the accepted asymmetric ones."""
    if not isinstance(alg, str):
        return "the header has no algorithm"
    if alg.lower() == "none":
        return "unsigned tokens (alg 'none') are refused"
    if alg.upper().startswith("HS"):
        return f"symmetric algorithm {alg} is refused: sign with the participant's private key"
    if alg not in SIGNING_ALGORITHMS:
        return f"algorithm {alg} is not accepted (accepted: {', '.join(SIGNING_ALGORITHMS)})"
    return None
