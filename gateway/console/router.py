"""The console's routes under ``/console``.

Pages that show data, the login's callback, the purpose and the logout are
``TransactionRoute`` routes: each request leaves an audit event named after the route,
attributed to the auditor participant and the person's mapping id (``agent_id``), with
the purpose and what was shown. The home page and the start of a login show nothing and
leave no event.
"""

from __future__ import annotations

import hmac
import json
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from audit.actions import AuditAction, AuditOutcome
from gateway.auditing import spreadsheet
from gateway.auditing.schemas import CSV_COLUMNS
from gateway.console import oidc, repository, service, views
from gateway.console.models import ConsoleLogin, ConsoleSession
from gateway.console.web import (
    ROOT,
    CheckedForm,
    ConsoleRefusal,
    CurrentVisitor,
    Posted,
    PurposefulVisitor,
    cookie_names,
    delete_cookie,
    page,
    set_cookie,
    translator,
    visitor_of,
)
from gateway.participants.models import ParticipantKind
from gateway.routing import Audit, DbSession, State, TransactionRoute
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Mapping

pages = APIRouter(prefix=ROOT, route_class=TransactionRoute, include_in_schema=False)
plain = APIRouter(prefix=ROOT, include_in_schema=False)
PROVIDER_ERROR = re.compile(r"^[a-z_]{1,40}$")
NOTICES = {"logged_out", "session_ended"}


@plain.get("/")
def home(request: Request, state: State) -> Response:
    """The welcome page and its login button; a logged-in person goes to the overview."""
    raw = request.cookies.get(cookie_names(state.settings)[0])
    if raw:
        with state.sessions() as session:
            if not isinstance(visitor_of(session, state.settings, raw, utcnow()), str):
                return RedirectResponse(ROOT + "/overview", status_code=303)
    notice = request.query_params.get("notice")
    return page(request, "home.html", notice=notice if notice in NOTICES else None)


@plain.get("/login")
def login(request: Request, state: State) -> Response:
    """Start a login at the provider: a fresh state, nonce and PKCE verifier, kept here."""
    settings = state.settings
    raw, secret_state, nonce, verifier = (service.new_secret() for _ in range(4))
    try:
        url = oidc.authorization_url(settings, secret_state, nonce, verifier)
    except oidc.LoginRefused as refused:
        return page(request, "refused.html", status=503, reason=refused.code)
    now = utcnow()
    with state.sessions.begin() as session:
        repository.purge_expired(session, now)
        repository.add_login(
            session,
            ConsoleLogin(
                id_hash=service.digest(raw),
                state=secret_state,
                nonce=nonce,
                code_verifier=verifier,
                created_at=now,
                expires_at=now + timedelta(seconds=settings.console_login_seconds),
            ),
        )
    response = RedirectResponse(url, status_code=303)
    set_cookie(response, settings, cookie_names(settings)[1], raw, settings.console_login_seconds)
    return response


def _refused(request: Request, state: State, audit: Audit, code: str, status: int) -> Response:
    """The callback's refusal: its page, the attempt forgotten, the event refused."""
    audit.outcome = AuditOutcome.REFUSED
    audit.detail = {**audit.detail, "status": status, "problem": code}
    response = page(request, "refused.html", status=status, reason=code)
    delete_cookie(response, state.settings, cookie_names(state.settings)[1])
    return response


@pages.get("/callback", name=AuditAction.CONSOLE_LOGIN)
def callback(request: Request, state: State, session: DbSession, audit: Audit) -> Response:  # noqa: PLR0911 - one refusal per rule
    """The provider's answer: checked, the person mapped, a session opened."""
    settings = state.settings
    session_cookie, login_cookie = cookie_names(settings)
    params = request.query_params
    raw = request.cookies.get(login_cookie)
    attempt = repository.take_login(session, service.digest(raw)) if raw else None
    if attempt is None or attempt.expires_at <= utcnow():
        return _refused(request, state, audit, "unknown-login", 400)
    given_issuer = params.get("iss")  # RFC 9207: the answer names its provider
    if given_issuer is not None and given_issuer != settings.console_oidc_issuer:
        return _refused(request, state, audit, "wrong-issuer", 403)
    given_state = params.get("state", "")
    if not hmac.compare_digest(given_state.encode(), attempt.state.encode()):
        return _refused(request, state, audit, "bad-state", 400)
    error = params.get("error")  # only believed with this attempt's state
    if error is not None:
        audit.detail["provider_error"] = error if PROVIDER_ERROR.match(error) else "other"
        return _refused(request, state, audit, "provider-error", 403)
    code = params.get("code")
    if not code:
        return _refused(request, state, audit, "code-refused", 400)
    try:
        id_token = oidc.exchange(settings, code, attempt.code_verifier)
        claims = oidc.verify_id_token(settings, id_token, attempt.nonce)
    except oidc.LoginRefused as refused:
        status = 503 if refused.code.startswith("provider-") else 403
        return _refused(request, state, audit, refused.code, status)
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    audit.detail["person"] = service.person_pseudonym(state.identity_keys, issuer, subject)
    person = repository.person_by_subject(session, issuer, subject)
    if person is None:
        return _refused(request, state, audit, "unmapped", 403)
    audit.agent_id = person.id
    audit.participant_id = audit.acting_for = person.auditor_id
    audit.participant_kind = str(ParticipantKind.AUDITOR)
    if service.usable_auditor(session, person) is None:
        return _refused(request, state, audit, "auditor-inactive", 403)
    now = utcnow()
    repository.purge_expired(session, now)
    previous = request.cookies.get(session_cookie)
    if previous:  # this browser's earlier session, whoever it was: ended, not left open
        repository.end_session(session, service.digest(previous))
    opened = service.new_secret()
    repository.add_session(
        session,
        ConsoleSession(
            id_hash=service.digest(opened),
            person_id=person.id,
            csrf_token=service.new_secret(),
            purpose=None,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=settings.console_session_lifetime_seconds),
        ),
    )
    audit.detail["role"] = person.role
    response = RedirectResponse(ROOT + "/purpose", status_code=303)
    set_cookie(
        response, settings, session_cookie, opened, settings.console_session_lifetime_seconds
    )
    delete_cookie(response, settings, login_cookie)
    return response


@plain.get("/purpose")
def purpose_form(request: Request, state: State) -> Response:
    """The closed list of purposes the policy allows auditors, to choose one from."""
    raw = request.cookies.get(cookie_names(state.settings)[0])
    with state.sessions() as session:
        visitor = visitor_of(session, state.settings, raw, utcnow())
        if isinstance(visitor, str):
            return RedirectResponse(ROOT + "/", status_code=303)
        rules = state.policy.policy.purposes.get("auditor") or []
        purposes = [{"code": r.purpose, "legal_basis": r.legal_basis} for r in rules]
        return page(request, "purpose.html", visitor=visitor, purposes=purposes)


@pages.post("/purpose", name=AuditAction.CONSOLE_PURPOSE_STATED)
def state_purpose(
    visitor: CurrentVisitor, form: CheckedForm, state: State, session: DbSession, audit: Audit
) -> Response:
    """The person's purpose for what they see next: one the policy allows auditors."""
    chosen = form.get("purpose")
    allowed = state.policy.policy.purposes_for(str(ParticipantKind.AUDITOR))
    if not isinstance(chosen, str) or chosen not in allowed:
        raise ConsoleRefusal("purpose-not-allowed")
    repository.set_purpose(session, visitor.id_hash, chosen)
    audit.purpose = chosen
    return RedirectResponse(ROOT + "/overview", status_code=303)


@pages.post("/logout", name=AuditAction.CONSOLE_LOGOUT)
def logout(
    visitor: CurrentVisitor, form: CheckedForm, state: State, session: DbSession
) -> Response:
    """End the session here (the provider's own session is the provider's)."""
    del form
    repository.end_session(session, visitor.id_hash)
    response = RedirectResponse(ROOT + "/?notice=logged_out", status_code=303)
    delete_cookie(response, state.settings, cookie_names(state.settings)[0])
    return response


@pages.get("/overview", name=AuditAction.CONSOLE_OVERVIEW_SHOWN)
def overview(
    request: Request, visitor: PurposefulVisitor, session: DbSession, audit: Audit
) -> Response:
    """Per fund of the territory: records owed by state, delays, checks, fishing flags."""
    days = _days(request)
    caller = service.caller_for(visitor.auditor, visitor.person, str(visitor.purpose))
    shown = service.overview(session, caller, days)
    audit.object_ids = [fund.id for fund in shown.funds]
    audit.detail = {
        "page": "overview",
        "filters": {"days": days},
        "funds": len(shown.funds),
        "records_owed": sum(fund.owed for fund in shown.funds),
        "fishing_flags": sum(fund.fishing_flags for fund in shown.funds),
    }
    t = translator(request)
    context: dict[str, Any] = {
        "funds": shown.funds,
        "prefectures": shown.prefectures,
        "charts": shown.charts(t),
        "states": service.STATES,
        "periods": service.PERIODS,
        "days": days,
        "since": shown.since,
        "until": shown.until,
        "stale_days": service.STALE_DAYS,
        "territory": service.territory_label(visitor.auditor, t),
        "nav": "overview",
    }
    return page(request, "overview.html", visitor=visitor, **context)


def _days(request: Request) -> int:
    """The page's period (``days``), one of the overview's."""
    given = request.query_params.get("days")
    if given is None:
        return service.DEFAULT_PERIOD
    if not given.isdigit() or int(given) not in service.PERIODS:
        raise ConsoleRefusal("invalid-request", 400)
    return int(given)


def _search(
    params: Mapping[str, str],
    state: State,
    audit: Audit,
    page_name: str,
    *,
    identifiers: bool = False,
) -> views.Search:
    """The search ``params`` ask for; a bad filter is refused, its field named."""
    audit.detail = {"page": page_name}
    try:
        search = views.search_of(params, state.identity_keys, identifiers=identifiers)
    except views.FilterError as error:
        audit.detail["field"] = error.field
        raise
    if search.pseudonyms:
        audit.subject_pseudonyms = search.pseudonyms
    return search


@pages.get("/events", name=AuditAction.CONSOLE_EVENTS_SEARCHED)
def events(
    request: Request,
    visitor: PurposefulVisitor,
    state: State,
    session: DbSession,
    audit: Audit,
) -> Response:
    """The events the territory covers, filtered as the API filters them, by log position.

    The search of a link (a page's, never with a person's number).
    """
    return _events(request, request.query_params, visitor, state, session, audit)


@pages.post("/events", name=AuditAction.CONSOLE_EVENTS_SEARCHED)
def events_searched(request: Request, posted: Posted) -> Response:
    """The search of the form, posted: a person's number stays out of every URL."""
    params = {name: value for name, value in posted.form.items() if isinstance(value, str)}
    visitor, state, session, audit = posted.visitor, posted.state, posted.session, posted.audit
    return _events(request, params, visitor, state, session, audit, identifiers=True)


def _events(
    request: Request,
    params: Mapping[str, str],
    visitor: PurposefulVisitor,
    state: State,
    session: DbSession,
    audit: Audit,
    *,
    identifiers: bool = False,
) -> Response:
    try:
        search = _search(params, state, audit, "events", identifiers=identifiers)
    except views.FilterError as refusal:
        audit.outcome = AuditOutcome.REFUSED
        audit.detail = {**audit.detail, "status": 400, "problem": "invalid-field"}
        empty = views.search_of({}, state.identity_keys)
        empty.form = views.form_of(params)
        return _events_page(request, visitor, empty, None, refusal, status=400)
    caller = service.caller_for(visitor.auditor, visitor.person, str(visitor.purpose))
    shown = views.events_page(session, caller, search)
    audit.detail = {
        "page": "events",
        "filters": search.used,
        "after_index": search.after_index,
        "shown": len(shown.events),
    }
    return _events_page(request, visitor, search, shown, None)


def _events_page(
    request: Request,
    visitor: PurposefulVisitor,
    search: views.Search,
    shown: views.EventsPage | None,
    refusal: views.FilterError | None,
    status: int = 200,
) -> Response:
    carried = search.carried
    position = {"after_index": search.after_index} if search.after_index >= 0 else {}
    context: dict[str, Any] = {
        "nav": "events",
        "form": search.form,
        "actions": views.ACTIONS,
        "outcomes": views.OUTCOMES,
        "person_searched": bool(search.pseudonyms),
        "events": shown.events if shown is not None else [],
        "searched": shown is not None,
        "after_index": search.after_index,
        "first_link": views.link(ROOT + "/events", carried) if search.after_index >= 0 else None,
        "next_link": (
            views.link(ROOT + "/events", {**carried, "after_index": shown.next_index})
            if shown is not None and shown.next_index is not None
            else None
        ),
        "exports": [
            (output, views.link(ROOT + "/events.csv", {**carried, **position, "format": output}))
            for output in views.FORMATS
        ],
        "export_rows": views.EXPORT_ROWS,
        "page_size": views.PAGE_SIZE,
        "error": refusal,
    }
    return page(request, "events.html", visitor=visitor, status=status, **context)


@pages.get("/events.csv", name=AuditAction.CONSOLE_EVENTS_EXPORTED)
def export_events(
    request: Request,
    visitor: PurposefulVisitor,
    state: State,
    session: DbSession,
    audit: Audit,
) -> Response:
    """The search's events as a spreadsheet (``csv`` or ``csv-fr``), at most 10,000 rows."""
    output = request.query_params.get("format", "csv-fr")
    if output not in views.FORMATS:
        raise ConsoleRefusal("invalid-request", 400)
    try:
        search = _search(request.query_params, state, audit, "events-export")
    except views.FilterError:
        raise ConsoleRefusal("invalid-request", 400) from None
    caller = service.caller_for(visitor.auditor, visitor.person, str(visitor.purpose))
    shown = views.events_page(session, caller, search, limit=views.EXPORT_ROWS)
    audit.detail = {
        "page": "events-export",
        "format": output,
        "filters": search.used,
        "after_index": search.after_index,
        "returned": len(shown.events),
        "truncated": shown.next_index is not None,
    }
    headers = {}
    if shown.next_index is not None:
        headers["Next-After-Index"] = str(shown.next_index)
    return spreadsheet.table(
        CSV_COLUMNS,
        views.export_rows(shown),
        "csv-fr" if output == "csv-fr" else "csv",
        filename="console-events",
        headers=headers,
    )


def _refuse_unknown(audit: Audit, key: str, participant_id: str) -> ConsoleRefusal:
    """Another territory's participant (or none): unknown here, the id asked for audited."""
    if views.PARTICIPANT_ID.match(participant_id):
        audit.detail[key] = participant_id
    return ConsoleRefusal("not-found", 404)


@pages.get("/funds/{fund_id}", name=AuditAction.CONSOLE_FUND_SHOWN)
def fund(
    request: Request, fund_id: str, visitor: PurposefulVisitor, session: DbSession, audit: Audit
) -> Response:
    """One fund of the territory: delays, records by state, outcomes, checks, fishing flags."""
    audit.detail = {"page": "fund"}
    days = _days(request)
    caller = service.caller_for(visitor.auditor, visitor.person, str(visitor.purpose))
    name = views.participant_in_scope(session, caller, ParticipantKind.FUND, fund_id)
    if name is None:
        raise _refuse_unknown(audit, "fund_id", fund_id)
    t = translator(request)
    shown = views.fund_report(session, fund_id, days, t)
    report = shown["report"]
    audit.object_ids = [fund_id]
    audit.detail = {
        "page": "fund",
        "filters": {"days": days},
        "records_owed": report["records_owed"],
        "status_checks": report["status_checks"],
        "fishing_flags": len(report["fishing_flags"]),
    }
    flags = [
        {
            **flag,
            "search": views.link(
                ROOT + "/events",
                {
                    "participant": fund_id,
                    "agent": flag["agent_id"] or "",
                    "action": "status:checked",
                },
            ),
        }
        for flag in report["fishing_flags"]
    ]
    context: dict[str, Any] = {
        **shown,
        "nav": "overview",
        "fund_id": fund_id,
        "fund_name": name,
        "flags": flags,
        "states": service.STATES,
        "periods": service.PERIODS,
        "days": days,
        "stale_days": service.STALE_DAYS,
    }
    return page(request, "fund.html", visitor=visitor, **context)


@pages.get("/prefectures/{prefecture_id}", name=AuditAction.CONSOLE_PREFECTURE_SHOWN)
def prefecture(
    request: Request,
    prefecture_id: str,
    visitor: PurposefulVisitor,
    session: DbSession,
    audit: Audit,
) -> Response:
    """One prefecture of the territory: decisions by kind, corrections, imports."""
    audit.detail = {"page": "prefecture"}
    days = _days(request)
    caller = service.caller_for(visitor.auditor, visitor.person, str(visitor.purpose))
    kind = ParticipantKind.PREFECTURE
    name = views.participant_in_scope(session, caller, kind, prefecture_id)
    if name is None:
        raise _refuse_unknown(audit, "prefecture_id", prefecture_id)
    shown = views.prefecture_report(session, prefecture_id, days, translator(request))
    report = shown["report"]
    audit.object_ids = [prefecture_id]
    audit.detail = {
        "page": "prefecture",
        "filters": {"days": days},
        "decisions": report["decisions"],
        "corrections": sum(report["corrections_by_kind"].values()),
        "imports": report["imports"],
    }
    context: dict[str, Any] = {
        **shown,
        "nav": "overview",
        "prefecture_id": prefecture_id,
        "prefecture_name": name,
        "kinds": views.KINDS,
        "corrections": views.CORRECTIONS,
        "periods": service.PERIODS,
        "days": days,
    }
    return page(request, "prefecture.html", visitor=visitor, **context)


def _evidence(
    request: Request, visitor: PurposefulVisitor, session: DbSession, audit: Audit
) -> dict[str, Any]:
    """The checkpoint, and the proof of the event asked for (``event``), audited."""
    given = request.query_params.get("event")
    event_id = given.strip().lower() if given else None
    if event_id is not None and not views.EVENT_ID.match(event_id):
        audit.detail = {"page": "evidence"}
        raise ConsoleRefusal("invalid-request", 400)
    caller = service.caller_for(visitor.auditor, visitor.person, str(visitor.purpose))
    shown = views.evidence(session, caller, event_id)
    proof = shown["proof"]
    checkpoint = shown["checkpoint"]
    audit.detail = {
        "page": "evidence",
        "tree_size": checkpoint["tree_size"] if checkpoint else None,
    }
    if proof is not None:
        if not proof["found"]:
            audit.detail["event"] = "unknown"
            raise ConsoleRefusal("not-found", 404)
        audit.object_ids = [proof["event_id"]]
        audit.detail["verified"] = proof["verified"]
    return shown


@pages.get("/evidence", name=AuditAction.CONSOLE_EVIDENCE_SHOWN)
def evidence(
    request: Request, visitor: PurposefulVisitor, session: DbSession, audit: Audit
) -> Response:
    """The signed checkpoint, and an event's inclusion in it, checked and shown whole."""
    shown = _evidence(request, visitor, session, audit)
    return page(request, "evidence.html", visitor=visitor, nav="evidence", **shown)


@pages.get("/evidence/proof.json", name=AuditAction.CONSOLE_EVIDENCE_EXPORTED)
def evidence_export(
    request: Request, visitor: PurposefulVisitor, session: DbSession, audit: Audit
) -> Response:
    """An event's proof and the signed checkpoint, as a file to check offline."""
    shown = _evidence(request, visitor, session, audit)
    if shown["proof"] is None or shown["checkpoint"] is None:
        raise ConsoleRefusal("invalid-request", 400)
    proof = {
        key: value
        for key, value in shown["proof"].items()
        if key not in ("found", "verified", "occurred_at")
    }
    document = {"checkpoint": shown["checkpoint"]["note"], "inclusion": proof}
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="preuve-{proof["event_id"]}.json"'},
    )
