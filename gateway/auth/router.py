"""The token endpoint and the discovery documents."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from pydantic import BaseModel

from gateway.auth import assertions, dpop, tokens
from gateway.auth.jwks import SIGNING_ALGORITHMS
from gateway.auth.scopes import SCOPES_BY_KIND, Scope
from gateway.errors import OAuthError
from gateway.participants.models import ParticipantKind
from gateway.routing import Audit, DbSession, State, TransactionRoute
from gateway.state import app_state

router = APIRouter(route_class=TransactionRoute, tags=["tokens"])
discovery = APIRouter(tags=["discovery"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


@router.post(
    "/oauth2/token",
    name="token:issued",
    response_model=TokenResponse,
    summary="Client credentials grant, authenticated by private_key_jwt; DPoP optional",
)
def issue_token(
    request: Request,
    state: State,
    session: DbSession,
    audit: Audit,
    grant_type: Annotated[str | None, Form()] = None,
    client_assertion_type: Annotated[str | None, Form()] = None,
    client_assertion: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> TokenResponse:
    now = int(time.time())
    if not grant_type:  # checked here, not by FastAPI, so the refusal carries an OAuth error
        raise OAuthError("invalid_request", "the grant_type parameter is required")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only the client_credentials grant is supported")
    participant, _ = assertions.authenticate_client(
        session,
        state.settings,
        assertion_type=client_assertion_type,
        assertion=client_assertion,
        client_id=client_id,
        now=now,
        registered=state.participants.current,
        audit=audit,
    )
    kind_scopes = SCOPES_BY_KIND[ParticipantKind(participant.kind)]
    if scope:
        asked = set(scope.split())
        unknown = asked - {str(s) for s in kind_scopes}
        if unknown:
            raise OAuthError(
                "invalid_scope",
                f"scope(s) {', '.join(sorted(unknown))} not available to a {participant.kind}",
            )
        granted = sorted(asked)
    else:
        granted = sorted(str(s) for s in kind_scopes)

    jkt = None
    proof = request.headers.get("DPoP")
    if proof:
        try:
            jkt = dpop.verify_proof(
                session,
                state.settings,
                proof=proof,
                method="POST",
                url=state.settings.token_endpoint,
                now=now,
            )
        except dpop.InvalidDPoPProof as error:
            raise OAuthError("invalid_dpop_proof", str(error)) from error
    elif participant.require_dpop:
        raise OAuthError("invalid_dpop_proof", f"{participant.id} must send a DPoP proof")
    token = tokens.issue(
        state.keys,
        state.settings,
        participant_id=participant.id,
        kind=participant.kind,
        scopes=granted,
        now=now,
        jkt=jkt,
    )
    audit.detail.update(scopes=granted, dpop=jkt is not None)
    return TokenResponse(
        access_token=token,
        token_type="DPoP" if jkt else "Bearer",
        expires_in=state.settings.access_token_lifetime_s,
        scope=" ".join(granted),
    )


@discovery.get("/.well-known/oauth-authorization-server", name="discovery:metadata")
def metadata(request: Request) -> dict[str, object]:
    """RFC 8414 authorization server metadata."""
    settings = app_state(request).settings
    return {
        "issuer": settings.issuer,
        "token_endpoint": settings.token_endpoint,
        "jwks_uri": f"{settings.public_base_url}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "dpop_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "scopes_supported": [str(s) for s in Scope],
        "response_types_supported": [],
    }


@discovery.get("/.well-known/jwks.json", name="discovery:jwks")
def jwks(request: Request) -> Response:
    """The gateway's public keys: token, batch and checkpoint; pending, active and retired.

    Cacheable for well under the time a new key is published before it signs.
    """
    state = app_state(request)
    days = state.settings.key_retired_publish_days
    document = state.keys.public_jwks(keep_retired=timedelta(days=days) if days else None)
    body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={state.settings.jwks_cache_seconds}",
        "ETag": etag,
    }
    asked = request.headers.get("If-None-Match", "")
    if etag in {tag.strip().removeprefix("W/") for tag in asked.split(",")} or asked == "*":
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
