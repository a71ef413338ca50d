"""The OpenAPI document as a contract other stacks generate clients from.

FastAPI writes the paths, parameters and bodies from the routes; this adds, from the same
routes, what FastAPI cannot see:

- security: each route's scopes, read from its ``Security(authenticate, scopes=...)``
  dependency; the OAuth2 client-credentials scheme (``private_key_jwt``) and DPoP;
- the headers ``authenticate`` reads (``Purpose`` with the policy's purposes for the kinds
  that may call the route, ``Agent-Id``, ``Case-Reference``, ``On-Behalf-Of``, ``DPoP``)
  and ``X-Request-Id``;
- every status a route can answer, as RFC 9457 problem documents: 400 instead of
  FastAPI's 422 (the gateway answers validation errors with 400), 401 and 403 on
  authenticated routes, 404 with a path parameter, 413 with a body, 500 everywhere, and
  the statuses particular to a route from ``OPERATIONS``;
- operation ids, examples, links to the JSON Schemas of what is signed, and the audit and
  receipt vocabularies as enums.

``OPERATIONS`` is keyed by route name (the audit action of the route's requests): a route
added without an entry there fails ``tests/gateway/contract/test_openapi.py``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from audit.actions import AuditAction, AuditOutcome
from connectors import wire
from gateway.auth.dependencies import (
    AGENT_HEADER,
    AGENT_ID,
    CASE_HEADER,
    CASE_REFERENCE,
    ON_BEHALF_HEADER,
    PURPOSE_HEADER,
    authenticate,
)
from gateway.auth.jwks import SIGNING_ALGORITHMS
from gateway.auth.scopes import SCOPES_BY_KIND, Scope
from gateway.contract import examples
from gateway.contract.router import SchemaName
from gateway.participants.models import ParticipantKind
from gateway.participants.schemas import PARTICIPANT_ID
from gateway.web import PROBLEM_JSON, REQUEST_ID

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI

    from policies.model import Policy

TOKEN_URL = "/oauth2/token"  # noqa: S105 - a path, not a secret
SCOPE_DESCRIPTIONS = {
    Scope.DECISIONS_WRITE: "Post decisions, corrections and backlog imports (prefectures)",
    Scope.DECISIONS_READ: "Read one's own decisions and import reports (prefectures)",
    Scope.BATCHES_READ: "List and download one's signed batches (funds)",
    Scope.RECEIPTS_WRITE: "Post signed receipts for one's batches (funds)",
    Scope.STATUS_CHECK: "Check the residence status of insured people (funds)",
    Scope.SUBSCRIPTIONS_WRITE: "Replace and read one's set of subscriptions (funds)",
    Scope.AUDIT_READ: "Query the audit trail, its proofs and reports (auditors)",
    Scope.PARTICIPANTS_READ: "Read the participants registry as far as one may see it (all)",
    Scope.ADMIN: "Suspend and reactivate participants (operators)",
    Scope.KEYS_WRITE: "Add and retire one's own registered keys; an operator, anyone's (all)",
}
OAUTH_ERRORS = (
    "invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope",
    "invalid_dpop_proof",
)  # fmt: skip
COMPACT_JWS = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$"
AUDIT_ACTIONS = {
    AuditAction.TOKEN_ISSUED: "an access token was requested (issued or refused)",
    AuditAction.REQUEST_REFUSED: (
        "a request refused before any route took it (a declared body over the size "
        "limit): method, status, problem, never the path"
    ),
    AuditAction.PARTICIPANT_READ: "a participant read its own registry entry",
    AuditAction.PARTICIPANT_SHOWN: "one participant's registry entry was read",
    AuditAction.PARTICIPANT_LISTED: "the participants registry was listed",
    AuditAction.PARTICIPANT_CREATED: "a participant was registered",
    AuditAction.PARTICIPANT_SUSPENDED: "a participant was suspended",
    AuditAction.PARTICIPANT_REACTIVATED: "a participant was reactivated",
    AuditAction.PARTICIPANT_KEY_ADDED: "a participant's next signing key was registered",
    AuditAction.PARTICIPANT_KEY_RETIRED: (
        "a participant's signing key was retired (refused from then on)"
    ),
    AuditAction.DECISION_CREATED: "a prefecture posted a decision",
    AuditAction.DECISION_READ: "a prefecture read one of its decisions",
    AuditAction.DECISION_LISTED: "a prefecture listed its decisions",
    AuditAction.DECISION_CORRECTED: "a prefecture corrected a decision",
    AuditAction.IMPORT_CREATED: "a prefecture imported a backlog file",
    AuditAction.IMPORT_READ: "a prefecture read an import's report",
    AuditAction.IMPORT_LINE: "one line of a backlog import, with its result",
    AuditAction.IMPORT_PROCESSED: (
        "the worker finished processing an import (its counts), or refused it because the "
        "prefecture was suspended since posting it"
    ),
    AuditAction.METRICS_SCRAPED: (
        "/metrics was scraped (or refused a scrape without the right token); the metrics "
        "name no one"
    ),
    AuditAction.SUBSCRIPTIONS_REPLACED: "a fund replaced its set of subscriptions",
    AuditAction.SUBSCRIPTIONS_READ: "a fund read its subscription counts",
    AuditAction.RETENTION_PURGED: "the retention purge crypto-shredded identity data",
    AuditAction.IDENTITIES_CHECKED: "an operator listed the stored decisions whose NIR "
    "contradicts its person (gateway identities contradictions)",
    AuditAction.BATCH_SEALED: "a batch was sealed for a fund",
    AuditAction.BATCH_LISTED: "a fund listed its batches",
    AuditAction.BATCH_DOWNLOADED: "a fund downloaded a batch",
    AuditAction.BATCH_PUSHED: "a batch was pushed to a fund's endpoint (one attempt)",
    AuditAction.RECEIPT_RECORDED: "a fund's signed receipt was posted",
    AuditAction.OUTBOX_READ: "the outbox counts were read",
    AuditAction.AUDIT_CHECKPOINT_READ: "an auditor read a signed checkpoint",
    AuditAction.INCLUSION_PROOF_READ: "an auditor read an inclusion proof",
    AuditAction.AUDIT_EVENTS_LISTED: "an auditor queried the audit events",
    AuditAction.AUDIT_EVENTS_SEARCHED: (
        "an auditor queried the audit events, the filters (a person among them) in the body"
    ),
    AuditAction.SUBJECT_REPORT_READ: "an auditor read a person's access report",
    AuditAction.SUBJECT_REPORT_ASKED: (
        "an auditor read a person's access report, the person given in the body"
    ),
    AuditAction.FUND_REPORT_READ: "an auditor read the per-fund report",
    AuditAction.STATUS_REQUESTED: "a fund sent a request of status checks",
    AuditAction.STATUS_CHECKED: "one status check was answered",
    AuditAction.STATUS_STREAMED: "a fund sent a stream of status checks",
    AuditAction.PREFECTURE_REPORT_READ: "an auditor read the per-prefecture report",
    AuditAction.CONSISTENCY_PROOF_READ: "an auditor read a consistency proof",
    AuditAction.FUND_PARKED: "push delivery to a fund was parked after repeated failures",
    AuditAction.FUND_UNPARKED: "push delivery to a parked fund resumed",
    AuditAction.KEYS_INITIALISED: "the gateway's keys were created",
    AuditAction.KEYS_ROTATED: "the gateway's keys were rotated",
    AuditAction.CONSOLE_LOGIN: (
        "a person logged in to the auditors' console, or was refused with the rule "
        "broken (state, nonce, issuer, audience, expiry, signature, an unmapped "
        "person); named by their mapping id, or by a pseudonym when unmapped"
    ),
    AuditAction.CONSOLE_LOGOUT: "a person logged out of the console (their session ended)",
    AuditAction.CONSOLE_PURPOSE_STATED: (
        "a person stated in the console the purpose of what they see next"
    ),
    AuditAction.CONSOLE_OVERVIEW_SHOWN: (
        "the console showed a person their territory's overview: the funds shown, the "
        "period, the counts"
    ),
    AuditAction.CONSOLE_ACCESS_LISTED: (
        "the console showed a person the access report requests of their auditor: their "
        "own, and to an approver the others' pending ones (reference, asker, time)"
    ),
    AuditAction.CONSOLE_ACCESS_ASKED: (
        "a person asked in the console for someone's access report (GDPR art. 15), "
        "giving the request's reference; it waits for a second person's approval"
    ),
    AuditAction.CONSOLE_ACCESS_APPROVED: (
        "an approver of the same auditor approved another person's access report "
        "request; the asker may see the report for a limited time"
    ),
    AuditAction.CONSOLE_ACCESS_REFUSED: (
        "an approver of the same auditor refused another person's access report request"
    ),
    AuditAction.CONSOLE_ACCESS_VIEWED: (
        "the console showed the asker an approved access report: the person's pseudonyms, "
        "the counts shown"
    ),
    AuditAction.CONSOLE_ACCESS_EXPIRED: (
        "the worker expired the access report requests whose time was over (pending past "
        "their approval's wait, approved past their report's window) and cleared their "
        "keyed values: one event per auditor, in its name, its requests in `object_ids`, "
        "the counts of each kind"
    ),
    AuditAction.CONSOLE_EVENTS_SEARCHED: (
        "the console showed a person a page of the events their territory covers: the "
        "names of the filters used (never a person's identifier; the person's pseudonym "
        "in `subject_pseudonyms`), the log position, the count shown; a bad filter is "
        "refused naming its field"
    ),
    AuditAction.CONSOLE_EVENTS_EXPORTED: (
        "the console gave a person a spreadsheet (`csv` or `csv-fr`) of the events their "
        "territory covers: the format, the names of the filters used, the rows exported, "
        "whether the export was cut at its limit"
    ),
    AuditAction.CONSOLE_FUND_SHOWN: (
        "the console showed a person one fund's report (delays, records by state, "
        "outcomes, status checks, fishing flags), or refused a fund outside their "
        "territory (`not-found`, the id asked for in `detail.fund_id`)"
    ),
    AuditAction.CONSOLE_PREFECTURE_SHOWN: (
        "the console showed a person one prefecture's report (decisions and corrections "
        "by kind, imports), or refused a prefecture outside their territory (`not-found`,"
        " `detail.prefecture_id`)"
    ),
    AuditAction.CONSOLE_EVIDENCE_SHOWN: (
        "the console showed a person the latest signed checkpoint and, for an event their "
        "territory covers, its inclusion proof checked against it (the event in "
        "`object_ids`, the tree size, whether it verified); another territory's event is "
        "answered as unknown (`not-found`)"
    ),
    AuditAction.CONSOLE_EVIDENCE_EXPORTED: (
        "the console gave a person, as a JSON file, an event's canonical bytes, its "
        "inclusion proof and the signed checkpoint, to check offline with the public JWKS"
    ),
    AuditAction.CONSOLE_PERSON_ADDED: (
        "the operator let a person log in to the console as an auditor, with a role"
    ),
    AuditAction.CONSOLE_PERSON_REMOVED: (
        "the operator removed a person from the console, ending their sessions"
    ),
}
AUDIT_OUTCOMES = {
    AuditOutcome.SUCCESS: "the action was done",
    AuditOutcome.REFUSED: "the gateway refused it (a 4xx answer)",
    AuditOutcome.ERROR: "the gateway failed (a 5xx answer)",
}
RECEIPT_OUTCOMES = {
    wire.Outcome.RIGHTS_ENDED: "the fund ended the rights the decision affects",
    wire.Outcome.NOT_AN_AFFILIATE: "the person is not among the fund's affiliates",
    wire.Outcome.IDENTITY_AMBIGUOUS: "several affiliates could be the person; handled by hand",
    wire.Outcome.ALREADY_CLOSED: "the person's file was already closed",
    wire.Outcome.RIGHTS_RESTORED: "after a rectification: the rights were restored",
    wire.Outcome.NOTED: "recorded, nothing to do (e.g. a data correction)",
    wire.Outcome.REJECTED: "the record could not be processed; it stays visible as rejected",
}
STATUS_TEXT = {
    400: "The request breaks a rule: a parameter, header or body member (errors[] names "
    "each field and rule).",
    401: "No valid access token (invalid-token, unauthenticated); WWW-Authenticate says "
    "which scheme.",
    403: "Not allowed: a missing scope, a purpose not allowed, a delegation not registered, "
    "another participant's resource.",
    404: "Not found, or not visible to the caller.",
    409: "Conflicts with what the gateway holds.",
    410: "Gone: purged after its retention.",
    413: "The body is larger than this route accepts.",
    422: "The uploaded document is well-formed but refused; errors[] names each rule.",
    429: "Rate limit reached; retry after Retry-After seconds.",
    500: "The gateway failed; the error is logged under the X-Request-Id.",
    503: "The database is unavailable (database-unavailable): nothing was done; retry after "
    "Retry-After seconds.",
}


def _link(schema: SchemaName, description: str) -> dict[str, Any]:
    return {
        "operationId": "getSchema",
        "parameters": {"name": str(schema)},
        "description": description,
    }


@dataclass(frozen=True)
class Operation:
    """What the contract says of one route beyond what FastAPI derives."""

    operation_id: str
    statuses: dict[int, str] = field(default_factory=dict)  # particular to the route
    purposes: tuple[str, ...] = ()  # narrower than the kinds' (the route checks it)
    request_example: Any = None
    response_examples: dict[int, Any] = field(default_factory=dict)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    response_headers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # A second success status the route sets itself: (status, the one it answers like, why).
    also_succeeds: tuple[int, int, str] | None = None


_NO_CHECKPOINT = "No checkpoint (of that size) yet."
# An answer to a deprecated form (a person's number in the query string, RFC 9745).
_DEPRECATION_HEADERS = {
    "Deprecation": {
        "description": "Given a person's number in the query string: the date that form was "
        "deprecated (the number belongs in the body of the POST form, out of URLs and logs).",
        "schema": {"type": "string", "example": "@1796601600"},
    },
    "Link": {
        "description": 'The form that replaces it: rel="successor-version".',
        "schema": {"type": "string"},
    },
}
# A page of audit events in CSV: where the next one starts.
_EVENT_PAGE_HEADERS = {
    "Next-After-Id": {
        "description": "format=csv: the after_id of the next page, if any.",
        "schema": {"type": "integer"},
    },
    "Next-After-Index": {
        "description": "format=csv, paged by after_index: the next page's cursor.",
        "schema": {"type": "integer"},
    },
}
OPERATIONS: dict[str, Operation] = {
    "health:live": Operation("getLiveness"),
    "health:ready": Operation(
        "getReadiness",
        {503: "Not ready: database, migrations or keys (checks names which)."},
    ),
    "discovery:metadata": Operation("getAuthorizationServerMetadata"),
    "discovery:jwks": Operation(
        "getGatewayKeys",
        response_headers={
            "Cache-Control": {
                "description": "public, max-age well under the time a new key is published "
                "before it signs: a verifier that honours it has every key before its use.",
                "schema": {"type": "string"},
            },
            "ETag": {
                "description": "The key set's tag; send it in If-None-Match to get a 304 "
                "while the set is unchanged.",
                "schema": {"type": "string"},
            },
        },
    ),
    "contract:schema": Operation("getSchema", {404: "No schema of that name."}),
    "contract:problem": Operation("getProblemType", {404: "No problem type of that slug."}),
    AuditAction.TOKEN_ISSUED: Operation(
        "issueToken",
        request_example=examples.TOKEN_REQUEST,
        response_examples={200: examples.TOKEN_RESPONSE, 401: examples.TOKEN_REFUSED},
    ),
    AuditAction.PARTICIPANT_READ: Operation("getOwnParticipant"),
    AuditAction.PARTICIPANT_LISTED: Operation("listParticipants"),
    AuditAction.PARTICIPANT_SHOWN: Operation("getParticipant"),
    AuditAction.PARTICIPANT_SUSPENDED: Operation(
        "suspendParticipant",
        {
            409: "The operator itself, or the last active one (cannot-suspend-self, "
            "last-active-operator)."
        },
    ),
    AuditAction.PARTICIPANT_REACTIVATED: Operation("reactivateParticipant"),
    AuditAction.PARTICIPANT_KEY_ADDED: Operation(
        "addParticipantKey",
        {
            403: "Not the participant itself (in its own name) nor an operator "
            "(not-key-holder), or a missing scope.",
            409: "The kid or the key is registered already (key-exists), or the participant "
            "has as many keys as allowed (too-many-keys).",
        },
    ),
    AuditAction.PARTICIPANT_KEY_RETIRED: Operation(
        "retireParticipantKey",
        {
            403: "Not the participant itself (in its own name) nor an operator "
            "(not-key-holder), or a missing scope.",
            409: "The participant's only key: register the next one first (last-key).",
        },
    ),
    AuditAction.DECISION_CREATED: Operation(
        "postDecision",
        {409: "The reference was used before with another body (reference-reused)."},
        request_example=examples.DECISION,
        response_examples={
            201: examples.DECISION_CREATED,
            400: examples.INVALID_REQUEST,
            409: examples.DECISION_CONFLICT,
        },
    ),
    AuditAction.DECISION_READ: Operation("getDecision"),
    AuditAction.DECISION_LISTED: Operation("listDecisions"),
    AuditAction.DECISION_CORRECTED: Operation(
        "correctDecision",
        {
            409: "The correction reference was used with another body (reference-reused), "
            "the decision no longer stands (decision-already-ended), or its identity was "
            "purged (identity-purged)."
        },
    ),
    AuditAction.IMPORT_CREATED: Operation(
        "importDecisions",
        {
            400: "Unusable CSV header (unusable-csv-header, refused before the rest is "
            "read), an unsupported charset, or no format."
        },
        response_examples={202: examples.IMPORT_QUEUED},
        response_headers={
            "Location": {
                "description": "The import: GET it for its progress and its report.",
                "schema": {"type": "string", "format": "uri-reference"},
            }
        },
    ),
    AuditAction.IMPORT_READ: Operation(
        "getImport", response_examples={200: examples.IMPORT_RUNNING}
    ),
    AuditAction.SUBSCRIPTIONS_REPLACED: Operation(
        "replaceSubscriptions",
        {422: "Malformed lines (invalid-lines): nothing stored, the previous set stays."},
    ),
    AuditAction.SUBSCRIPTIONS_READ: Operation("getSubscriptions"),
    AuditAction.BATCH_LISTED: Operation(
        "listBatches", response_examples={200: examples.BATCH_LIST}
    ),
    AuditAction.BATCH_DOWNLOADED: Operation(
        "downloadBatch",
        {410: "The batch was purged after its retention (batch-purged)."},
        response_examples={200: examples.JWS},
        links={
            "payloadSchema": _link(
                SchemaName.BATCH_PAYLOAD,
                "The JSON Schema of the batch's verified payload.",
            ),
            "receiptSchema": _link(
                SchemaName.RECEIPT, "The JSON Schema of the receipt the fund signs for it."
            ),
        },
        response_headers={
            wire.DIGEST_HEADER: {
                "description": "sha256: and the hex SHA-256 of the exact bytes of the body; "
                "the receipt's batch_digest, the next batch's previous_digest.",
                "schema": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
            },
            wire.BATCH_SEQ_HEADER: {
                "description": "The batch's seq.",
                "schema": {"type": "integer", "minimum": 1},
            },
        },
    ),
    AuditAction.RECEIPT_RECORDED: Operation(
        "postReceipt",
        {
            409: "The batch already has a different receipt (receipt-conflict).",
            422: "The receipt is refused (invalid-receipt): errors[0].rule names the check.",
        },
        request_example=examples.JWS,
        also_succeeds=(200, 201, "The same receipt was recorded before (already_recorded)."),
        response_examples={
            200: {**examples.RECEIPT_RECORDED, "already_recorded": True},
            201: examples.RECEIPT_RECORDED,
            422: examples.INVALID_RECEIPT,
        },
        links={
            "receiptSchema": _link(
                SchemaName.RECEIPT, "The JSON Schema of the receipt's signed claims."
            )
        },
    ),
    AuditAction.OUTBOX_READ: Operation("getOutbox"),
    AuditAction.AUDIT_CHECKPOINT_READ: Operation("getCheckpoint", {404: _NO_CHECKPOINT}),
    AuditAction.INCLUSION_PROOF_READ: Operation(
        "getInclusionProof", {404: "No such event in the log (it may not be sequenced yet)."}
    ),
    AuditAction.CONSISTENCY_PROOF_READ: Operation("getConsistencyProof"),
    AuditAction.AUDIT_EVENTS_LISTED: Operation(
        "listAuditEvents",
        response_examples={200: examples.EVENT_PAGE},
        response_headers={**_EVENT_PAGE_HEADERS, **_DEPRECATION_HEADERS},
    ),
    AuditAction.AUDIT_EVENTS_SEARCHED: Operation(
        "searchAuditEvents",
        response_examples={200: examples.EVENT_PAGE},
        response_headers=_EVENT_PAGE_HEADERS,
    ),
    AuditAction.SUBJECT_REPORT_READ: Operation(
        "getSubjectReport",
        purposes=("data-subject-request",),
        response_headers=_DEPRECATION_HEADERS,
    ),
    AuditAction.SUBJECT_REPORT_ASKED: Operation(
        "postSubjectReport", purposes=("data-subject-request",)
    ),
    AuditAction.FUND_REPORT_READ: Operation("getFundReports"),
    AuditAction.PREFECTURE_REPORT_READ: Operation("getPrefectureReports"),
    AuditAction.STATUS_REQUESTED: Operation(
        "checkStatus",
        {429: "The agent's or the fund's rate limit is reached (rate-limited)."},
        request_example=examples.STATUS_CHECKS,
        response_examples={200: examples.STATUS_ANSWERS, 429: examples.RATE_LIMITED},
    ),
    AuditAction.STATUS_STREAMED: Operation("streamStatusChecks"),
}


def _calls(dependant: Dependant) -> list[Dependant]:
    found = [dependant]
    for sub in dependant.dependencies:
        found.extend(_calls(sub))
    return found


@dataclass(frozen=True)
class RouteView:
    """An API route as the application serves it (its router's prefix included)."""

    name: str
    path: str
    methods: frozenset[str]
    dependant: Dependant


def api_routes(app: FastAPI) -> list[RouteView]:
    """The application's API routes that the document describes."""
    return [
        RouteView(
            str(context.name),
            str(context.path_format),
            frozenset(context.methods or ()),
            context.dependant,
        )
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.include_in_schema
    ]


def route_scopes(route: RouteView) -> list[str] | None:
    """The scopes the route's ``authenticate`` dependency asks for; None if it has none."""
    for dependant in _calls(route.dependant):
        if dependant.call is authenticate:
            return list(dependant.own_oauth_scopes or [])
    return None


def kinds_for(scopes: list[str]) -> list[str]:
    """The kinds of participant whose scopes cover ``scopes``."""
    return [kind for kind, held in SCOPES_BY_KIND.items() if set(scopes) <= held]


def _problem(description: str, example: Any = None, schema: str = "Problem") -> dict[str, Any]:
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {PROBLEM_JSON: media}}


def _header_parameters(kinds: list[str], policy: Policy, operation: Operation) -> list[Any]:
    by_kind = {kind: sorted(policy.purposes_for(kind)) for kind in kinds}
    purposes = list(operation.purposes) or sorted({p for ps in by_kind.values() for p in ps})
    allowed = "; ".join(f"a {kind}: {', '.join(found)}" for kind, found in by_kind.items())
    funds_only = kinds == [ParticipantKind.FUND]
    return [
        {
            "name": PURPOSE_HEADER,
            "in": "header",
            "required": True,
            "description": "Why the request is made, from the closed list the policy in force "
            f"allows for the caller's kind ({allowed})"
            + (
                f"; this operation needs {', '.join(operation.purposes)}"
                if operation.purposes
                else ""
            )
            + ". Anything else is refused (403 purpose-not-allowed) and the refusal audited.",
            "schema": {"type": "string", "enum": purposes},
        },
        {
            "name": AGENT_HEADER,
            "in": "header",
            "required": funds_only,
            "description": "The agent on whose behalf the request is made. Required for "
            "funds (a fund's request without it is refused, 400); optional for other kinds.",
            "schema": {"type": "string", "pattern": AGENT_ID.pattern},
            "example": "agent-4521",
        },
        {
            "name": CASE_HEADER,
            "in": "header",
            "required": False,
            "description": "The case the request serves, recorded in the audit trail.",
            "schema": {"type": "string", "pattern": CASE_REFERENCE.pattern},
        },
        {
            "name": ON_BEHALF_HEADER,
            "in": "header",
            "required": False,
            "description": "For a delegate (a national IT centre): the participant it acts "
            "for, which must be in its registered list (otherwise 403 not-a-delegate).",
            "schema": {"type": "string", "pattern": PARTICIPANT_ID},
        },
        _dpop_parameter(
            "With a DPoP-bound token (Authorization: DPoP <token>): a fresh DPoP proof "
            "(RFC 9449) for this request, with htm, htu and ath (the token's hash)."
        ),
    ]


def _dpop_parameter(description: str) -> dict[str, Any]:
    return {
        "name": "DPoP",
        "in": "header",
        "required": False,
        "description": description
        + f" Signed with one of: {', '.join(SIGNING_ALGORITHMS)}; typ dpop+jwt, the public "
        "key in the jwk header.",
        "schema": {"type": "string", "pattern": COMPACT_JWS},
    }


REQUEST_ID_PARAMETER = {
    "name": "X-Request-Id",
    "in": "header",
    "required": False,
    "description": "A request id of your own, echoed back and logged with the request; "
    "one is made up when absent or malformed.",
    "schema": {"type": "string", "pattern": REQUEST_ID.pattern},
}
REQUEST_ID_HEADER = {
    "description": "The request's id (yours if well-formed): quote it to the operator.",
    "schema": {"type": "string"},
}


def _components(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["ProblemFieldError"] = {
        "type": "object",
        "description": "One broken rule.",
        "required": ["field", "rule", "message"],
        "properties": {
            "field": {
                "type": "string",
                "description": "Where: a dotted path in the body, or a header or parameter name.",
            },
            "rule": {"type": "string", "description": "Which rule, in kebab-case."},
            "line": {
                "type": "integer",
                "minimum": 1,
                "description": "In an uploaded file, the 1-based line it was found on.",
            },
            "message": {"type": "string"},
        },
    }
    problem: dict[str, Any] = {
        "type": "object",
        "description": "An RFC 9457 problem document. GET its type (/problems/<slug>) for "
        "what it means and what to do.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri-reference",
                "pattern": "^/problems/[a-z0-9-]+$",
                "description": "The problem type, /problems/<slug>: a page of its own.",
            },
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string", "format": "uri-reference"},
            "errors": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ProblemFieldError"},
            },
        },
        "additionalProperties": True,
    }
    schemas["Problem"] = problem
    oauth = copy.deepcopy(problem)
    oauth["description"] = (
        "A refused token request: a problem document that also carries the RFC 6749 "
        "error members; its type is /problems/<error with dashes>."
    )
    oauth["required"] = [*problem["required"], "error", "error_description"]
    oauth["properties"]["error"] = {"type": "string", "enum": list(OAUTH_ERRORS)}
    oauth["properties"]["error_description"] = {"type": "string"}
    schemas["OAuthProblem"] = oauth
    schemas["TokenRequest"] = {
        "type": "object",
        "description": "The client credentials grant, the client authenticated by "
        "private_key_jwt (RFC 7523).",
        "required": ["grant_type", "client_assertion_type", "client_assertion"],
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "client_assertion_type": {
                "type": "string",
                "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
            },
            "client_assertion": {
                "type": "string",
                "description": "A JWT signed with the client's registered key: iss = sub = "
                "the client id, aud the token endpoint, a unique jti, exp at most 5 minutes "
                f"ahead; alg one of {', '.join(SIGNING_ALGORITHMS)}.",
            },
            "client_id": {"type": "string", "description": "If given, the assertion's iss."},
            "scope": {
                "type": "string",
                "description": "Space-separated scopes, a subset of the kind's; all by default.",
            },
        },
    }
    schemas["AuditAction"] = _enum(AUDIT_ACTIONS, "What an audit event records.")
    schemas["AuditOutcome"] = _enum(AUDIT_OUTCOMES, "How the audited action ended.")
    schemas["ReceiptOutcome"] = _enum(RECEIPT_OUTCOMES, "What a fund did with one record.")
    event = schemas.get("EventOut", {}).get("properties", {})
    if "action" in event:
        event["action"] = {"$ref": "#/components/schemas/AuditAction"}
    if "outcome" in event:
        event["outcome"] = {"$ref": "#/components/schemas/AuditOutcome"}
    receipt = schemas.get("ReceiptOut", {}).get("properties", {})
    if "outcomes" in receipt:
        receipt["outcomes"] = {
            "type": "object",
            "description": "How many records got each outcome.",
            "propertyNames": {"$ref": "#/components/schemas/ReceiptOutcome"},
            "additionalProperties": {"type": "integer", "minimum": 1},
        }
    components["securitySchemes"] = {
        "oauth2": {
            "type": "oauth2",
            "description": "OAuth 2.0 client credentials. The client authenticates with "
            "private_key_jwt: a client assertion (RFC 7523) signed with its own registered "
            f"key ({', '.join(SIGNING_ALGORITHMS)}), never a shared secret. It may bind "
            "the token to a key with a DPoP proof (RFC 9449) at the token endpoint; a bound "
            "token is then sent with the DPoP scheme. Tokens live at most 5 minutes.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": TOKEN_URL,
                    "scopes": {str(scope): SCOPE_DESCRIPTIONS[scope] for scope in Scope},
                }
            },
        },
        "dpop": {
            "type": "http",
            "scheme": "DPoP",
            "description": "A DPoP-bound access token of the oauth2 scheme (token_type "
            "DPoP), sent as Authorization: DPoP <token> with a fresh DPoP proof header "
            "(RFC 9449) on each request. The scopes are the oauth2 scheme's.",
        },
    }


def _enum(meanings: dict[Any, str], description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "description": description
        + " "
        + "; ".join(f"{value}: {meaning}" for value, meaning in meanings.items())
        + ".",
        "enum": [str(value) for value in meanings],
    }


def _responses(  # noqa: C901, PLR0912 - one pass over the statuses a route can answer
    operation: dict[str, Any],
    route: RouteView,
    scopes: list[str] | None,
    spec: Operation,
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    if spec.also_succeeds is not None:
        status, like, why = spec.also_succeeds
        responses.setdefault(
            str(status), {**copy.deepcopy(responses[str(like)]), "description": why}
        )
    token = route.name == AuditAction.TOKEN_ISSUED
    statuses = dict(spec.statuses)
    has_body = "requestBody" in operation
    if operation.get("parameters") or has_body or scopes is not None:
        statuses.setdefault(400, STATUS_TEXT[400])
    if scopes is not None:
        statuses.setdefault(401, STATUS_TEXT[401])
        statuses.setdefault(403, STATUS_TEXT[403])
    if token:
        statuses.setdefault(401, "Client authentication failed (invalid_client).")
    if route.dependant.path_params:
        statuses.setdefault(404, STATUS_TEXT[404])
    if has_body:
        statuses.setdefault(413, STATUS_TEXT[413])
    statuses.setdefault(500, STATUS_TEXT[500])
    if scopes is not None or token:  # the routes that use the database
        statuses.setdefault(503, STATUS_TEXT[503])
    for status, text in sorted(statuses.items()):
        schema = "OAuthProblem" if token and status in {400, 401} else "Problem"
        response = _problem(text, spec.response_examples.get(status), schema)
        if status == 401:  # noqa: PLR2004
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": "The scheme expected (Bearer, DPoP with its algs; "
                    "private_key_jwt at the token endpoint).",
                    "schema": {"type": "string"},
                }
            }
        if status == 429:  # noqa: PLR2004
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds until the window ends.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        if status == 503:  # noqa: PLR2004
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        responses[str(status)] = response
    for status, example in spec.response_examples.items():
        content = responses.get(str(status), {}).get("content", {})
        for media_type, media in content.items():
            # A document illustrates the JSON media type; a string, the other one (JOSE).
            if media_type != PROBLEM_JSON and ("json" in media_type) != isinstance(example, str):
                media.setdefault("example", example)
    for key, response in responses.items():
        headers = response.setdefault("headers", {})
        headers["X-Request-Id"] = REQUEST_ID_HEADER
        if key.startswith("2"):
            headers.update(spec.response_headers)
            if spec.links:
                response["links"] = spec.links


def _token_request(operation: dict[str, Any]) -> None:
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": "#/components/schemas/TokenRequest"},
                "example": examples.TOKEN_REQUEST,
            }
        },
    }
    operation["parameters"] = [
        _dpop_parameter(
            "A DPoP proof (RFC 9449) for POST on the token endpoint: the token is then bound "
            "to its key (token_type DPoP). Required for participants registered so."
        )
    ]


def _augment(  # noqa: C901 - one pass over the route's operations
    document: dict[str, Any], route: RouteView, policy: Policy, spec: Operation | None
) -> None:
    path = document["paths"].get(route.path, {})
    scopes = route_scopes(route)
    for method in sorted(route.methods):
        operation = path.get(method.lower())
        if operation is None:
            continue
        known = spec or Operation(route.name.replace(":", "_"))
        operation["operationId"] = known.operation_id
        description = str(operation.get("description", "")).strip()
        if operation.get("summary") == route.name.replace("_", " ").title() and description:
            # FastAPI's summary is the route name (an audit action): the docstring says more.
            operation["summary"] = description.splitlines()[0].rstrip(".")
        if route.name == AuditAction.TOKEN_ISSUED:
            _token_request(operation)
        parameters: list[Any] = operation.setdefault("parameters", [])
        if scopes is not None:
            operation["security"] = [{"oauth2": scopes}, {"dpop": scopes}]
            parameters.extend(_header_parameters(kinds_for(scopes), policy, known))
        else:
            operation["security"] = []
        _responses(operation, route, scopes, known)
        parameters.append(REQUEST_ID_PARAMETER)
        if known.request_example is not None and "requestBody" in operation:
            for media in operation["requestBody"].get("content", {}).values():
                media.setdefault("example", known.request_example)
        if route.name == "contract:schema":
            for parameter in parameters:
                if parameter["name"] == "name":
                    parameter["schema"]["enum"] = [str(name) for name in SchemaName]
        if known.links:
            first = next(iter(known.links.values()))
            operation["externalDocs"] = {
                "description": first["description"],
                "url": f"/schemas/{first['parameters']['name']}",
            }


def build(app: FastAPI, policy: Policy) -> dict[str, Any]:
    """The document of ``app``'s routes, under ``policy``'s purposes."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )
    for route in api_routes(app):
        _augment(document, route, policy, OPERATIONS.get(route.name))
    _components(document)
    return document


def install(app: FastAPI, current_policy: Callable[[], tuple[str, Policy]]) -> None:
    """Serve ``build``'s document at ``/openapi.json``, rebuilt when the policy changes."""
    built: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        version, policy = current_policy()
        if version not in built:
            built.clear()
            built[version] = build(app, policy)
        return built[version]

    app.openapi = openapi  # type: ignore[method-assign]
