"""The catalogue of problem types: every ``/problems/<slug>`` the gateway answers with.

Each problem document's ``type`` is ``/problems/<slug>``; ``GET /problems/<slug>`` serves
the entry below as a page, so the URI an integrator sees in a refusal says what happened
and what to do. ``http-<status>`` (what the web framework answers itself: an unknown
route, a method the route does not take) is described from the status alone.
``tests/gateway/contract/test_problems.py`` finds every slug the code can emit and fails
when one has no entry here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from http import HTTPStatus

from gateway.errors import PROBLEM_BASE


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    when: str
    action: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


def _entries(*found: ProblemType) -> dict[str, ProblemType]:
    return {entry.slug: entry for entry in found}


CATALOGUE = _entries(
    # -- 400 ---------------------------------------------------------------------------
    ProblemType(
        "invalid-request",
        400,
        "The request breaks a rule",
        "A parameter, header or body member is missing or malformed (its type, pattern, "
        "range), as the OpenAPI document declares it; at the token endpoint, a required "
        "parameter is missing (the OAuth error code invalid_request).",
        "Read errors[]: each names the field (a dotted path, or a header or parameter "
        "name), the rule and a message. Fix the request; sending it again unchanged fails "
        "again.",
    ),
    ProblemType(
        "invalid-field",
        400,
        "A field breaks a rule",
        "A value is well-formed but breaks a business rule: an identity number whose key "
        "does not match, a NIR that contradicts the person's sex, birth date or place of "
        "birth (both fields named, with the rule), dates out of order, a required header "
        "(Purpose, or Agent-Id for a fund) missing or malformed, a cursor the gateway did "
        "not give.",
        "Read errors[]: field and rule name what to fix.",
    ),
    ProblemType(
        "bad-request",
        400,
        "Bad request",
        "The request cannot be processed as sent.",
        "Read detail, fix the request and send it again.",
    ),
    ProblemType(
        "oauth-error",
        400,
        "Token request refused",
        "A token request was refused; the document also carries the OAuth error code "
        "(error, error_description).",
        "Act on the error code: each has its own page here.",
    ),
    ProblemType(
        "unsupported-grant-type",
        400,
        "Token request refused",
        "The token request's grant_type is not client_credentials (OAuth error "
        "unsupported_grant_type).",
        "Send grant_type=client_credentials.",
    ),
    ProblemType(
        "invalid-scope",
        400,
        "Token request refused",
        "The token request asks for a scope the participant's kind may not hold (OAuth "
        "error invalid_scope).",
        "Ask only for scopes of your kind (see the securitySchemes of the OpenAPI "
        "document), or leave scope out to get them all.",
    ),
    ProblemType(
        "invalid-dpop-proof",
        400,
        "Token request refused",
        "The DPoP proof sent to the token endpoint is malformed, stale, replayed, signed "
        "with a refused algorithm or for another URL; or the participant must bind its "
        "tokens and sent none (OAuth error invalid_dpop_proof).",
        "Send a fresh proof (RFC 9449): typ dpop+jwt, your public jwk in the header, "
        "htm POST, htu the token endpoint, a new jti and the current iat.",
    ),
    # -- 401 ---------------------------------------------------------------------------
    ProblemType(
        "invalid-client",
        401,
        "Token request refused",
        "Client authentication failed (OAuth error invalid_client): the client assertion "
        "is missing, malformed, signed with another key or a refused algorithm (none, "
        "HS*), expired, replayed, for another audience, or the client is unknown or "
        "suspended.",
        "Sign a fresh assertion (RFC 7523) with the key you registered: iss = sub = your "
        "client id, aud the token endpoint, a unique jti, exp at most 5 minutes ahead.",
    ),
    ProblemType(
        "unauthenticated",
        401,
        "Authentication required",
        "The request carries no access token.",
        "Get a token from /oauth2/token and send it as Authorization: Bearer <token> (or "
        "DPoP <token> with a DPoP proof).",
    ),
    ProblemType(
        "invalid-token",
        401,
        "Authentication required",
        "The access token is malformed, expired, not the gateway's, DPoP-bound without "
        "a valid proof, or its participant is unknown or suspended. WWW-Authenticate says "
        "which scheme was expected.",
        "Get a new token; for a DPoP-bound token send a fresh proof with each request "
        "(htm, htu and ath of this request).",
    ),
    # -- 403 ---------------------------------------------------------------------------
    ProblemType(
        "forbidden",
        403,
        "Not allowed",
        "The caller may not do this.",
        "Read detail; ask the operator if you believe you should.",
    ),
    ProblemType(
        "insufficient-scope",
        403,
        "Not allowed",
        "The access token lacks a scope the operation needs (the operation's security "
        "requirement lists them).",
        "Ask for a token with that scope; a participant of another kind cannot have it.",
    ),
    ProblemType(
        "purpose-not-allowed",
        403,
        "Not allowed",
        "The Purpose header names a purpose the policy does not allow for the caller's "
        "kind, or not for this operation (the person's access report needs "
        "data-subject-request). The refusal is audited.",
        "State one of the purposes the Purpose parameter of the operation lists.",
    ),
    ProblemType(
        "not-a-delegate",
        403,
        "Not allowed",
        "On-Behalf-Of names a participant the caller is not registered to act for.",
        "Leave On-Behalf-Of out, or ask the operator to register the delegation.",
    ),
    ProblemType(
        "principal-suspended",
        403,
        "Not allowed",
        "On-Behalf-Of names a participant that is suspended.",
        "Nothing can be done for it until the operator reactivates it.",
    ),
    ProblemType(
        "cannot-suspend-self",
        409,
        "Conflict",
        "An operator asked to suspend itself: it would lock itself out.",
        "Have another operator suspend this one, if that is the intent.",
    ),
    ProblemType(
        "last-active-operator",
        409,
        "Conflict",
        "Suspending this operator would leave the gateway with no active operator.",
        "Register or reactivate another operator first.",
    ),
    ProblemType(
        "not-key-holder",
        403,
        "Not allowed",
        "A participant's keys are added and retired by the participant itself, in its own "
        "name (not as a delegate), or by an operator.",
        "Call in your own name about your own keys, or ask the operator.",
    ),
    ProblemType(
        "key-exists",
        409,
        "Conflict",
        "The key, or another key with its kid, is registered for the participant already.",
        "Register a new key pair, with a kid of its own.",
    ),
    ProblemType(
        "too-many-keys",
        409,
        "Conflict",
        "The participant has as many registered keys as allowed.",
        "Retire a key that is no longer used first.",
    ),
    ProblemType(
        "last-key",
        409,
        "Conflict",
        "Retiring this key would leave the participant with no key to authenticate with.",
        "Register the next key first, authenticate with it, then retire this one.",
    ),
    ProblemType(
        "unusable-csv-header",
        400,
        "Bad request",
        "The first line of a CSV import is not a usable header: missing, not in the declared "
        "encoding (UTF-8 unless the Content-Type's charset says otherwise), too long, "
        "malformed, or with missing, unknown or repeated columns (the errors name which). "
        "Nothing was stored.",
        "Send the documented columns once each (docs/imports.md), and declare the file's "
        "encoding if it is not UTF-8 (text/csv; charset=windows-1252).",
    ),
    ProblemType(
        "wrong-participant-kind",
        403,
        "Not allowed",
        "The operation is for another kind of participant (a fund's route called by a "
        "prefecture, say).",
        "Call only the operations of your kind.",
    ),
    ProblemType(
        "not-own-departement",
        403,
        "Not allowed",
        "A prefecture posted for a département that is not one of its own.",
        "Name one of your départements, or leave departement out if you have only one.",
    ),
    ProblemType(
        "on-behalf-of-required",
        403,
        "Not allowed",
        "A delegate (a participant registered only to act for funds) has no data rights of "
        "its own: it asked in its own name. The attempt is audited.",
        "Name the fund you act for in the On-Behalf-Of header.",
    ),
    ProblemType(
        "not-a-fund-or-auditor",
        403,
        "Not allowed",
        "The outbox is read by funds and auditors only.",
        "Use a fund's or an auditor's credentials.",
    ),
    # -- 404 to 429 ----------------------------------------------------------------------
    ProblemType(
        "not-found",
        404,
        "Not found",
        "Nothing by that id is visible to the caller: it does not exist, or it belongs "
        "to another participant (the gateway does not say which).",
        "Check the id; list what you may see to find it.",
    ),
    ProblemType(
        "conflict",
        409,
        "Conflict",
        "The request conflicts with the current state.",
        "Read detail; fetch the current state before trying again.",
    ),
    ProblemType(
        "reference-reused",
        409,
        "Conflict",
        "A decision (or correction) reference was used before with a different body. "
        "Posting the same body again is idempotent; a different one is refused.",
        "To change a decision, post a correction; otherwise use a new reference.",
    ),
    ProblemType(
        "decision-already-ended",
        409,
        "Conflict",
        "An annulment, withdrawal or supersession was posted for a decision that no longer stands.",
        "Only a data-correction applies to an ended decision; read it with GET "
        "/v1/decisions/{decision_id}.",
    ),
    ProblemType(
        "identity-purged",
        409,
        "Conflict",
        "A correction needs the decision's identity, which retention has crypto-shredded.",
        "Send the identity in the correction, or post a new decision.",
    ),
    ProblemType(
        "receipt-conflict",
        409,
        "Conflict",
        "The batch already has a different receipt: a receipt is final. The same "
        "receipt sent again is accepted (200).",
        "Nothing to send; the recorded receipt stands.",
    ),
    ProblemType(
        "batch-purged",
        410,
        "Batch purged",
        "The batch's content was destroyed after its retention period; its digest and "
        "Merkle root remain as evidence of what it held.",
        "Use the copy you verified when you downloaded it.",
    ),
    ProblemType(
        "payload-too-large",
        413,
        "Request body too large",
        "The body exceeds the gateway's limit for this route (declared or streamed).",
        "Split the request: several imports or status-check requests, or the NDJSON "
        "stream for sweeps of any size.",
    ),
    ProblemType(
        "invalid-receipt",
        422,
        "Invalid receipt",
        "The receipt is not a compact JWS signed with one of the fund's registered keys, "
        "or it names another batch, fund, seq or digest, or its outcomes are not exactly "
        "one known outcome per record of the batch. The refusal is audited.",
        "errors[0].rule names the check that failed; the receipt's JSON Schema is at "
        "/schemas/receipt.json.",
    ),
    ProblemType(
        "invalid-lines",
        422,
        "Invalid lines",
        "Lines of an uploaded subscription file are malformed; nothing was stored and "
        "the previous set stays in force.",
        "errors[] names each bad line, field and rule; fix them and upload the whole set again.",
    ),
    ProblemType(
        "rate-limited",
        429,
        "Too many checks",
        "The agent or the fund has made as many status checks as the window allows.",
        "Wait for the number of seconds in Retry-After; sweeps belong in the NDJSON "
        "stream, which stops at the limit and says where.",
    ),
    # -- 5xx ---------------------------------------------------------------------------
    ProblemType(
        "internal-error",
        500,
        "Internal error",
        "The gateway failed; the error is logged with the request id (X-Request-Id).",
        "Try again later; if it persists, give the operator the X-Request-Id.",
    ),
    ProblemType(
        "not-ready",
        503,
        "Not ready",
        "The instance cannot serve: database unreachable, migrations behind, or keys "
        "missing; checks names which.",
        "Try again later (another replica may answer); operators read the checks.",
    ),
    ProblemType(
        "database-unavailable",
        503,
        "Database unavailable",
        "The gateway cannot reach its database (stopped, restarting, failing over, or the "
        "connection was lost during the request). Nothing the request asked for was done; "
        "its refusal is audited all the same.",
        "Send the same request again after Retry-After seconds: posting a decision again "
        "under the same reference is idempotent.",
    ),
)
HTTP_SLUG_PREFIX = "http-"


def problem_type(slug: str) -> ProblemType | None:
    """The catalogue's entry for ``slug``, or for ``http-<status>`` one from the status."""
    found = CATALOGUE.get(slug)
    if found is not None:
        return found
    code = slug.removeprefix(HTTP_SLUG_PREFIX)
    if slug.startswith(HTTP_SLUG_PREFIX) and code.isdigit() and len(code) == 3:  # noqa: PLR2004
        try:
            status = HTTPStatus(int(code))
        except ValueError:
            return None
        if status < HTTPStatus.BAD_REQUEST:
            return None
        return ProblemType(
            slug,
            status.value,
            status.phrase,
            f"The gateway's web layer answered {status.value} {status.phrase}: "
            f"{status.description or status.phrase}. It happens for a path that is no "
            "route (404) or a method the route does not take (405).",
            "Check the method and path against the OpenAPI document at /openapi.json.",
        )
    return None


def render_html(entry: ProblemType) -> str:
    """The problem type's page: plain HTML, no script, no external resource."""
    text = {name: html.escape(str(value)) for name, value in vars(entry).items()}
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{text["title"]} ({text["status"]})</title></head>
<body>
<main>
<h1>{text["title"]}</h1>
<dl>
<dt>Problem type</dt><dd><code>{html.escape(entry.uri)}</code></dd>
<dt>HTTP status</dt><dd>{text["status"]}</dd>
</dl>
<h2>When it happens</h2>
<p>{text["when"]}</p>
<h2>What to do</h2>
<p>{text["action"]}</p>
<p>Every problem document (RFC 9457) carries <code>type</code>, <code>title</code>,
<code>status</code>, <code>detail</code> and <code>instance</code>; a broken rule is named in
<code>errors[]</code> (<code>field</code>, <code>rule</code>, <code>line</code> in an
uploaded file, <code>message</code>). The contract is at
<a href="/openapi.json">/openapi.json</a>.</p>
</main>
</body>
</html>
"""


def as_json(entry: ProblemType) -> dict[str, object]:
    return {
        "type": entry.uri,
        "status": entry.status,
        "title": entry.title,
        "when": entry.when,
        "action": entry.action,
    }
