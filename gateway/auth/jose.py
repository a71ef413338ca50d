"""Small helpers over joserfc shared by client assertions, DPoP proofs and access tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc._rfc7515.model import JWSAlgModel
from joserfc.errors import JoseError

from gateway.auth.jwks import SIGNING_ALGORITHMS


class ParticipantRegistry(jws.JWSRegistry):
    """The JWS algorithms a participant may sign with, ``EdDSA`` included.

    joserfc warns on every use of RFC 8037's ``EdDSA`` (RFC 9864 prefers ``Ed25519``);
    it is the name other stacks write, so it is accepted here without the warning,
    rather than by silencing warnings process-wide around each call.
    """

    def get_alg(self, name: str) -> JWSAlgModel:
        if name == "EdDSA" and self.allowed and name in self.allowed:
            return self.algorithms[name]
        return super().get_alg(name)


# Client assertions and DPoP proofs: small tokens, joserfc's default size limits.
PARTICIPANT_JWS = ParticipantRegistry(algorithms=list(SIGNING_ALGORITHMS))


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
    header = dict(compact.headers())
    if not _storable([header, claims]):
        raise UnreadableToken("the JWT holds a NUL character or invalid Unicode")
    return Unverified(header, claims)


def _storable(document: object) -> bool:
    # A NUL or a lone surrogate (JSON "\u0000", "\ud800") in any string: no database
    # takes them, so looking the issuer up or auditing it would fail with a 500.
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value or not _encodable(value):
                return False
        elif isinstance(value, dict):
            pending.extend([*value.keys(), *value.values()])
        elif isinstance(value, list):
            pending.extend(value)
    return True


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
