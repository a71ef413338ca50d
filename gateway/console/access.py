"""A person's access report (GDPR art. 15) in the console, under dual control.

One person of an auditor asks, giving the request's reference and the person's AGDREF
number or NIR: the number is turned at once into the keyed pseudonyms and blind indexes
``subject_of`` computes, and only those are kept. A second person of the same auditor,
with the role ``approver``, approves or refuses; the asker cannot decide their own
request. A request not decided within ``console_access_pending_hours`` expires. Once
approved, the report is shown to the asker alone, for ``console_access_shown_hours``;
then, as after a refusal or an expiry, the request's keyed values are cleared and nothing
can show it again (the worker's ``expire-console-access`` job clears them, and so does
the next listing of the auditor's requests). Asking and viewing need the purpose
``data-subject-request``, as the API's report does; the other territories' requests do
not exist for a person (404). Every step is an audit event.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from audit.actions import AuditAction
from gateway.auditing import service as reports
from gateway.console import repository, service
from gateway.console.models import ConsoleAccessRequest
from gateway.console.web import (
    ROOT,
    ConsoleRefusal,
    Posted,
    PostedForm,
    PurposefulVisitor,
    Visitor,
    page,
)
from gateway.errors import InvalidField
from gateway.routing import Audit, DbSession, State, TransactionRoute
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

access = APIRouter(prefix=ROOT, route_class=TransactionRoute, include_in_schema=False)

PURPOSE = "data-subject-request"
# The data subject's letter or the ticket it was filed under: letters, digits and
# ``. / _ -``, with at least one digit (a reference, not a name).
REFERENCE = re.compile(r"^(?=[^0-9]*[0-9])[A-Z0-9][A-Z0-9./_-]{2,39}$")
KINDS = ("agdref", "nir")
PENDING, APPROVED, REFUSED, EXPIRED = "pending", "approved", "refused", "expired"


def _with_purpose(visitor: Visitor) -> None:
    if visitor.purpose != PURPOSE:
        raise ConsoleRefusal("purpose-data-subject-request")


def _aware(moment: datetime) -> datetime:
    """A stored time compared with ``utcnow()`` (SQLite may hand it back naive)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


def _of_territory(session: Session, visitor: Visitor, request_id: str) -> ConsoleAccessRequest:
    """The request, if it is one of the visitor's auditor: another's does not exist."""
    found = repository.access_request(session, request_id)
    if found is None or found.auditor_id != visitor.auditor.id:
        raise ConsoleRefusal("not-found", 404)
    return found


@access.get("/access", name=AuditAction.CONSOLE_ACCESS_LISTED)
def requests_page(
    request: Request, visitor: PurposefulVisitor, state: State, session: DbSession, audit: Audit
) -> Response:
    """The form to ask, the visitor's own requests, and to an approver the others' pending."""
    now = utcnow()
    expired = repository.expire_access_requests(
        session, now, _pending_since(state, now), visitor.auditor.id
    )
    mine = repository.own_access_requests(session, visitor.auditor.id, visitor.person.id, 50)
    to_decide: list[ConsoleAccessRequest] = []
    if visitor.role == service.Role.APPROVER:
        to_decide = repository.pending_access_requests(
            session, visitor.auditor.id, visitor.person.id, 200
        )
    audit.object_ids = [r.id for r in mine] + [r.id for r in to_decide]
    audit.detail = {"page": "access", "own": len(mine), "to_decide": len(to_decide)}
    if expired:
        audit.detail["expired"] = repository.expired_counts(expired)
    own = [
        {
            "id": r.id,
            "reference": r.reference,
            "state": r.state,
            "created_at": _aware(r.created_at),
            "shown_until": _aware(r.shown_until) if r.shown_until else None,
            "viewable": r.state == APPROVED
            and r.shown_until is not None
            and now < _aware(r.shown_until),
        }
        for r in mine
    ]
    return page(
        request,
        "access_requests.html",
        visitor=visitor,
        own=own,
        to_decide=to_decide,
        kinds=KINDS,
        may_ask=visitor.purpose == PURPOSE,
        shown_hours=state.settings.console_access_shown_hours,
    )


@access.post("/access", name=AuditAction.CONSOLE_ACCESS_ASKED)
def ask(posted: Posted) -> Response:
    """Record a request: its reference and the person's keyed values, pending."""
    visitor, form, state, audit = posted.visitor, posted.form, posted.state, posted.audit
    _with_purpose(visitor)
    reference = form.get("reference")
    kind = form.get("kind")
    number = form.get("number")
    if not isinstance(reference, str) or not REFERENCE.match(reference.strip().upper()):
        raise ConsoleRefusal("invalid-reference", 400)
    if kind not in KINDS or not isinstance(number, str) or not number.strip():
        raise ConsoleRefusal("invalid-identifier", 400)
    try:
        subject = reports.subject_of(
            state.identity_keys,
            number.strip() if kind == "agdref" else None,
            number.strip() if kind == "nir" else None,
        )
    except InvalidField as error:
        raise ConsoleRefusal("invalid-identifier", 400) from error
    asked = ConsoleAccessRequest(
        id=new_id(),
        reference=reference.strip().upper(),
        auditor_id=visitor.auditor.id,
        asked_by=visitor.person.id,
        subject_pseudonyms=list(subject.pseudonyms),
        subject_indexes=list(subject.indexes),
        state=PENDING,
        created_at=utcnow(),
    )
    repository.add_access_request(posted.session, asked)
    audit.object_ids = [asked.id]
    audit.subject_pseudonyms = list(subject.pseudonyms)
    audit.detail = {"reference": asked.reference, "identifier": kind}
    return RedirectResponse(ROOT + "/access", status_code=303)


def _pending_since(state: State, now: datetime) -> datetime:
    """Requests asked before this have waited too long for their approval."""
    return now - timedelta(hours=state.settings.console_access_pending_hours)


def _decide(request_id: str, posted: PostedForm, outcome: str) -> Response:
    """Approve or refuse another person's pending request of the same auditor, once."""
    visitor, state, audit = posted.visitor, posted.state, posted.audit
    found = _of_territory(posted.session, visitor, request_id)
    audit.object_ids = [found.id]
    audit.detail = {"reference": found.reference, "asked_by": found.asked_by}
    if visitor.role != service.Role.APPROVER:
        raise ConsoleRefusal("not-approver")
    if found.asked_by == visitor.person.id:
        raise ConsoleRefusal("own-request")
    now = utcnow()
    values: dict[str, Any] = {"state": outcome, "decided_by": visitor.person.id, "decided_at": now}
    if outcome == APPROVED:
        values["shown_until"] = now + timedelta(hours=state.settings.console_access_shown_hours)
    else:
        values.update(subject_pseudonyms=[], subject_indexes=[])
    asked_after = _pending_since(state, now)
    decided = repository.decide_access_request(posted.session, found.id, asked_after, values)
    if not decided:
        never_decided = found.state == EXPIRED and found.shown_until is None
        if never_decided or (found.state == PENDING and _aware(found.created_at) <= asked_after):
            raise ConsoleRefusal("request-expired", 410)  # waited too long for its approval
        raise ConsoleRefusal("already-decided", 409)  # by this approver or another
    return RedirectResponse(ROOT + "/access", status_code=303)


@access.post("/access/{request_id}/approve", name=AuditAction.CONSOLE_ACCESS_APPROVED)
def approve(request_id: str, posted: Posted) -> Response:
    return _decide(request_id, posted, APPROVED)


@access.post("/access/{request_id}/refuse", name=AuditAction.CONSOLE_ACCESS_REFUSED)
def refuse(request_id: str, posted: Posted) -> Response:
    return _decide(request_id, posted, REFUSED)


@access.get("/access/{request_id}", name=AuditAction.CONSOLE_ACCESS_VIEWED)
def report_page(
    request: Request,
    request_id: str,
    visitor: PurposefulVisitor,
    state: State,
    session: DbSession,
    audit: Audit,
) -> Response:
    """The approved report, to its asker, until its time is over."""
    found = _of_territory(session, visitor, request_id)
    audit.object_ids = [found.id]
    audit.detail = {"reference": found.reference}
    if found.asked_by != visitor.person.id:
        raise ConsoleRefusal("not-found", 404)
    _with_purpose(visitor)
    if found.state == EXPIRED and found.shown_until is not None:  # approved, time over
        raise ConsoleRefusal("access-expired", 410)
    if found.state != APPROVED or found.shown_until is None:
        raise ConsoleRefusal("not-approved")
    now = utcnow()
    if now >= _aware(found.shown_until) or not found.subject_indexes:
        raise ConsoleRefusal("access-expired", 410)
    subject = reports.Subject(list(found.subject_pseudonyms), list(found.subject_indexes))
    caller = service.caller_for(visitor.auditor, visitor.person, PURPOSE)
    report = reports.subject_report(session, caller, state.policy.policy, subject)
    audit.subject_pseudonyms = subject.pseudonyms
    audit.detail = {
        "reference": found.reference,
        "decisions": len(report["decisions"]),
        "accesses": len(report["accesses"]),
        "status_checks": len(report["status_checks"]),
    }
    return page(
        request,
        "access_report.html",
        visitor=visitor,
        found=found,
        shown_until=_aware(found.shown_until),
        report=report,
    )
