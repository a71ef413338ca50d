"""The request's ``Caller``, as a FastAPI dependency, and one alias per kind of route.

``authenticate`` is the one dependency that checks the access token (and its DPoP
proof), the participant's status, the scopes the route needs, the declared purpose and,
for funds, the agent. It fills the request's audit event as it learns things, so a
refusal is attributed as precisely as possible.

It runs on the event loop: the participants come from the registry's cache
(``gateway.participants.cache``), read from the database in a worker thread only when
not held; a DPoP proof, whose identifier is recorded, takes a worker thread too.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Annotated

from fastapi import Request, Security
from fastapi.security import SecurityScopes
from starlette.concurrency import run_in_threadpool

from gateway.auth import dpop, tokens
from gateway.auth.caller import Caller
from gateway.auth.jwks import SIGNING_ALGORITHMS
from gateway.auth.scopes import SCOPES_BY_KIND, Scope
from gateway.errors import Forbidden, InvalidField, Unauthenticated
from gateway.participants.models import ParticipantKind
from gateway.routing import Audit, DbSession, State

if TYPE_CHECKING:
    from gateway.participants.cache import Registered
    from gateway.state import AppState

AGENT_ID = re.compile(r"^[A-Za-z0-9._@:-]{1,64}$")
CASE_REFERENCE = re.compile(r"^[A-Za-z0-9._/:#-]{1,128}$")
PURPOSE_HEADER = "Purpose"
AGENT_HEADER = "Agent-Id"
CASE_HEADER = "Case-Reference"
ON_BEHALF_HEADER = "On-Behalf-Of"


def _unauthenticated(detail: str, *, dpop_error: bool = False) -> Unauthenticated:
    scheme = 'DPoP error="invalid_dpop_proof"' if dpop_error else 'Bearer error="invalid_token"'
    return Unauthenticated(detail, slug="invalid-token", headers={"WWW-Authenticate": scheme})


def _access_token(request: Request) -> tuple[str, str]:
    header = request.headers.get("Authorization")
    if not header:
        raise Unauthenticated(
            "an access token is required: Authorization: Bearer (or DPoP) <token>",
            headers={"WWW-Authenticate": f'Bearer, DPoP algs="{" ".join(SIGNING_ALGORITHMS)}"'},
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in {"bearer", "dpop"} or not token.strip():
        raise _unauthenticated(
            "the Authorization header must be 'Bearer <token>' or 'DPoP <token>'"
        )
    return scheme.lower(), token.strip()


def _optional_header(request: Request, name: str, pattern: re.Pattern[str]) -> str | None:
    value = request.headers.get(name)
    if value is None:
        return None
    if not pattern.fullmatch(value):
        raise InvalidField(name, "format", f"{name} must match {pattern.pattern}")
    return value


async def registered(state: AppState, participant_id: str) -> Registered | None:
    """The participant from the registry's cache, or read in a worker thread."""
    found = await state.participants.fresh(participant_id)
    if found is None:
        found = await run_in_threadpool(state.participants.load, participant_id)
    return found


async def authenticate(  # noqa: C901, PLR0912, PLR0915 - one linear sequence of checks, each with its own refusal
    request: Request,
    security_scopes: SecurityScopes,
    state: State,
    session: DbSession,
    audit: Audit,
) -> Caller:
    now = int(time.time())
    scheme, token = _access_token(request)
    try:
        claims = tokens.verify(
            state.keys, state.settings, token, now=now, verified=state.verified_tokens
        )
    except tokens.InvalidAccessToken as error:
        raise _unauthenticated(str(error)) from error
    audit.participant_id = str(claims["sub"])
    audit.participant_kind = str(claims["participant_kind"])

    # The registry is read before the DPoP proof's jti is recorded: on SQLite that write
    # holds the database's one write lock until the request commits, and a registry read
    # (its own session, BEGIN IMMEDIATE) would wait for it.
    participant = await registered(state, str(claims["sub"]))
    delegated = request.headers.get(ON_BEHALF_HEADER)
    principal = None
    if delegated is not None and delegated != claims["sub"]:
        principal = await registered(state, delegated)

    bound_key = (claims.get("cnf") or {}).get("jkt")
    if bound_key is not None:
        proof = request.headers.get("DPoP")
        if scheme != "dpop" or not proof:
            raise _unauthenticated(
                "this token is DPoP-bound: send 'DPoP <token>' and a DPoP proof", dpop_error=True
            )
        url = state.settings.public_base_url + request.url.path
        try:
            jkt = await run_in_threadpool(
                dpop.verify_proof,
                session,
                state.settings,
                proof=proof,
                method=request.method,
                url=url,
                now=now,
                access_token=token,
            )
        except dpop.InvalidDPoPProof as error:
            raise _unauthenticated(str(error), dpop_error=True) from error
        if jkt != bound_key:
            raise _unauthenticated(
                "the DPoP proof is signed by another key than the token's", dpop_error=True
            )
    elif scheme == "dpop":
        raise _unauthenticated("this token is not DPoP-bound: use the Bearer scheme")

    if participant is None or participant.kind != claims["participant_kind"]:
        raise _unauthenticated("the token's participant is not registered")
    if not participant.active:
        raise _unauthenticated("the participant is suspended")
    kind = participant.kind

    # Whom the request is for, before anything can be refused: a refused delegation attempt
    # is the targeted participant's CODAF's business too, so its event names the target.
    audit.acting_for = participant.id
    if principal is not None:
        audit.acting_for = principal.id

    known = {str(s) for s in Scope}
    granted = frozenset(Scope(s) for s in str(claims.get("scope", "")).split() if s in known)
    scopes = granted & SCOPES_BY_KIND[kind]
    missing = [s for s in security_scopes.scopes if s not in scopes]
    if missing:
        raise Forbidden(f"this needs the scope(s) {', '.join(missing)}", slug="insufficient-scope")

    acting_for, territory = participant.id, tuple(participant.departements)
    national = participant.national
    if delegated is not None and delegated != participant.id:
        if principal is None or delegated not in participant.acts_for:
            raise Forbidden(
                f"{participant.id} may not act for {delegated!r}", slug="not-a-delegate"
            )
        if not principal.active:
            raise Forbidden(f"{delegated} is suspended", slug="principal-suspended")
        acting_for, territory = principal.id, tuple(principal.departements)
        national = principal.national

    agent_id = _optional_header(request, AGENT_HEADER, AGENT_ID)
    case_reference = _optional_header(request, CASE_HEADER, CASE_REFERENCE)
    audit.agent_id, audit.case_reference = agent_id, case_reference

    declared = request.headers.get(PURPOSE_HEADER)
    if not declared:
        raise InvalidField(
            PURPOSE_HEADER, "required", "every request states its purpose in the Purpose header"
        )
    audit.purpose = declared[:64]
    allowed = state.policy.policy.purposes_for(kind)
    if declared not in allowed:
        raise Forbidden(
            f"purpose {declared[:64]!r} is not allowed for a {kind}; allowed: "
            + ", ".join(sorted(allowed)),
            slug="purpose-not-allowed",
        )
    if kind == ParticipantKind.FUND and agent_id is None:
        raise InvalidField(
            AGENT_HEADER, "required", "a fund's request names the agent it acts for in Agent-Id"
        )

    return Caller(
        participant_id=participant.id,
        kind=kind,
        acting_for=acting_for,
        scopes=scopes,
        territory=territory,
        national=national,
        purpose=declared,
        agent_id=agent_id,
        case_reference=case_reference,
        dpop_bound=bound_key is not None,
    )


AnyCaller = Annotated[Caller, Security(authenticate, scopes=[Scope.PARTICIPANTS_READ])]
KeyHolder = Annotated[Caller, Security(authenticate, scopes=[Scope.KEYS_WRITE])]
OperatorCaller = Annotated[Caller, Security(authenticate, scopes=[Scope.ADMIN])]
FundCaller = Annotated[Caller, Security(authenticate, scopes=[Scope.BATCHES_READ])]
PrefectureCaller = Annotated[Caller, Security(authenticate, scopes=[Scope.DECISIONS_READ])]
PrefectureWriter = Annotated[Caller, Security(authenticate, scopes=[Scope.DECISIONS_WRITE])]
AuditorCaller = Annotated[Caller, Security(authenticate, scopes=[Scope.AUDIT_READ])]
SubscriptionWriter = Annotated[Caller, Security(authenticate, scopes=[Scope.SUBSCRIPTIONS_WRITE])]
ReceiptWriter = Annotated[Caller, Security(authenticate, scopes=[Scope.RECEIPTS_WRITE])]
StatusChecker = Annotated[Caller, Security(authenticate, scopes=[Scope.STATUS_CHECK])]
