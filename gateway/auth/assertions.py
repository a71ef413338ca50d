"""Client authentication by signed assertion (``private_key_jwt``, RFC 7523 section 2.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError

from gateway.auth.jose import (
    PARTICIPANT_JWS,
    UnreadableToken,
    read_unverified,
    refused_algorithm,
)
from gateway.auth.jwks import verification_key_set
from gateway.auth.models import MAX_JTI_LENGTH
from gateway.auth.repository import claim_once
from gateway.errors import OAuthError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from gateway.auditlog.writer import AuditDraft
    from gateway.settings import Settings

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class Client(Protocol):
    """What authenticating a client reads of its registration."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def require_dpop(self) -> bool: ...
    @property
    def jwks(self) -> dict[str, Any]: ...


def _invalid_client(detail: str) -> OAuthError:
    return OAuthError(
        "invalid_client", detail, status=401, headers={"WWW-Authenticate": "private_key_jwt"}
    )


def authenticate_client(  # noqa: C901, PLR0912 - one linear sequence of checks, each with its own refusal
    session: Session,
    settings: Settings,
    *,
    assertion_type: str | None,
    assertion: str | None,
    client_id: str | None,
    now: int,
    registered: Callable[[str], Client | None],
    audit: AuditDraft | None = None,
) -> tuple[Client, dict[str, Any]]:
    """Return the participant the assertion proves, or raise ``invalid_client``.

    ``registered`` gives a participant's registration (the registry's cache). The
    signature is checked before anything about the participant (suspension, say) is
    revealed; the ``jti`` is recorded so the same assertion never works twice.
    """
    if assertion_type != ASSERTION_TYPE or not assertion:
        raise _invalid_client(
            f"client authentication must be private_key_jwt: client_assertion_type "
            f"{ASSERTION_TYPE} and a client_assertion"
        )
    try:
        unverified = read_unverified(assertion)
    except UnreadableToken as error:
        raise _invalid_client(f"malformed client assertion: {error}") from error
    reason = refused_algorithm(unverified.header.get("alg"))
    if reason:
        raise _invalid_client(reason)
    issuer = unverified.claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _invalid_client("the client assertion has no 'iss' claim")
    if audit is not None:
        audit.detail["claimed_client_id"] = issuer[:64]
    if client_id is not None and client_id != issuer:
        raise _invalid_client("client_id and the assertion's issuer differ")
    participant = registered(issuer)
    if participant is None:
        raise _invalid_client("unknown client")
    if audit is not None:
        audit.acting_for = participant.id  # an attempt in its name is its CODAF's to see
    try:
        token = jwt.decode(
            assertion, verification_key_set(participant.jwks), registry=PARTICIPANT_JWS
        )
    except JoseError as error:
        raise _invalid_client(
            "the assertion's signature does not verify with the client's registered keys"
        ) from error
    if audit is not None:
        audit.participant_id, audit.participant_kind = participant.id, participant.kind
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=settings.clock_leeway_s,
        iss={"essential": True, "value": participant.id},
        sub={"essential": True, "value": participant.id},
        aud={"essential": True, "values": [settings.token_endpoint, settings.issuer]},
        exp={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError as error:
        raise _invalid_client("the client assertion has expired") from error
    except JoseError as error:
        raise _invalid_client(f"client assertion refused: {error.description}") from error
    issued_at = claims.get("iat", now)
    lifetime = int(claims["exp"]) - int(issued_at)
    if lifetime > settings.client_assertion_max_lifetime_s or (
        int(claims["exp"]) - now
        > settings.client_assertion_max_lifetime_s + settings.clock_leeway_s
    ):
        raise _invalid_client(
            f"client assertions may live at most {settings.client_assertion_max_lifetime_s} s"
        )
    if len(claims["jti"]) > MAX_JTI_LENGTH:
        raise _invalid_client(f"the assertion's jti is longer than {MAX_JTI_LENGTH} characters")
    expires_at = datetime.fromtimestamp(int(claims["exp"]) + settings.clock_leeway_s, UTC)
    if not claim_once(session, "assertion", participant.id, str(claims["jti"]), expires_at):
        raise _invalid_client("this client assertion was already used (replay)")
    if not participant.active:
        raise _invalid_client("the client is suspended")
    return participant, claims
