"""What the console's event search, fund page and prefecture page show.

The event search takes the filters of ``GET /v1/audit/events`` from a posted form (with
its CSRF token) or a link, checks them as the API does (a bad value names its field),
turns a person's AGDREF number or NIR, posted, never in a URL, into their pseudonym
(``auditing.service.subject_of``) and pages by log position (``after_index``). Links to
the next page and to the exports carry the pseudonym, never the identifier. The fund
and prefecture pages are the CODAF reports of ``auditing.service`` for one participant
of the visitor's territory; another territory's is unknown here.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from audit import merkle
from audit.actions import AuditAction, AuditOutcome
from gateway.auditing import repository as auditing
from gateway.auditing import service as reports
from gateway.auditing.schemas import EventOut
from gateway.auditlog import repository as audit_log
from gateway.auditlog import service as log_service
from gateway.console import repository as console_repository
from gateway.console.service import STALE_DAYS, STATES, chart
from gateway.decisions.models import CorrectionKind, DecisionKind
from gateway.errors import InvalidField
from gateway.participants import repository as participants
from gateway.participants.models import ParticipantKind
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller
    from gateway.console.i18n import Translator
    from gateway.identities.service import IdentityKeys

PAGE_SIZE = 50  # events on one page of the search
EXPORT_ROWS = 10_000  # events in one export at most
TEXT_FIELDS = {"participant": 64, "agent": 64, "action": 64, "purpose": 64, "outcome": 16}
IDENTIFIER_FIELDS = {"agdref_number": 16, "nir": 32}
ACTIONS = sorted(str(action) for action in AuditAction)
OUTCOMES = [str(outcome) for outcome in AuditOutcome]
PSEUDONYM = re.compile(r"^(?:agdref|nir):[0-9a-f]{32}$")
DEPARTEMENT = re.compile(r"^(?:\d{2,3}|2[AB])$")
PARTICIPANT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FORMATS = ("csv", "csv-fr")
KINDS = [str(kind) for kind in DecisionKind]
CORRECTIONS = [str(kind) for kind in CorrectionKind]


class FilterError(ValueError):
    """A filter of the search breaks a rule: its field and the rule, for the page."""

    def __init__(self, name: str, rule: str) -> None:
        super().__init__(f"{name}: {rule}")
        self.field = name
        self.rule = rule


@dataclass
class Search:
    """A search's filters, what links carry of them, and the log position to start after."""

    filters: auditing.EventFilters
    used: list[str]  # the filters' names, as the audit records them
    carried: dict[str, str]  # what the next page's and the exports' links carry
    form: dict[str, str]  # the form's values (an identifier stays out of it)
    after_index: int = -1
    pseudonyms: list[str] = field(default_factory=list)


def _text(params: Mapping[str, str], name: str, limit: int) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if CONTROL.search(value):
        raise FilterError(name, "control-character")
    if len(value) > limit:
        raise FilterError(name, "too-long")
    return value


def _instant(value: str | None, name: str, *, end: bool) -> datetime | None:
    """A date (its whole day: from its start, or up to its end) or an ISO time with zone."""
    if value is None:
        return None
    try:
        if len(value) == len("2026-01-31"):
            day = date.fromisoformat(value)
            found = datetime.combine(day, time(), tzinfo=UTC)
            return found + timedelta(days=1) if end else found
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(name, "date") from None
    if moment.tzinfo is None:
        raise FilterError(name, "time-zone")
    return moment.astimezone(UTC)


def search_of(
    params: Mapping[str, str], keys: IdentityKeys, *, identifiers: bool = False
) -> Search:
    """The search a query string or, with ``identifiers``, a posted form asks for.

    Or the first rule it breaks. A person's number is taken from a posted form alone: in
    a query string it would stay in the browser's history and the proxies' logs.
    """
    values = {name: _text(params, name, limit) for name, limit in TEXT_FIELDS.items()}
    if values["action"] is not None and values["action"] not in ACTIONS:
        raise FilterError("action", "unknown")
    if values["outcome"] is not None and values["outcome"] not in OUTCOMES:
        raise FilterError("outcome", "unknown")
    since_text, until_text = _text(params, "since", 40), _text(params, "until", 40)
    since = _instant(since_text, "since", end=False)
    until = _instant(until_text, "until", end=True)
    if since is not None and until is not None and since >= until:
        raise FilterError("until", "before-since")
    departement = _text(params, "departement", 3)
    if departement is not None:
        departement = departement.upper()
        if not DEPARTEMENT.match(departement):
            raise FilterError("departement", "departement")
    given = {name: _text(params, name, n) for name, n in IDENTIFIER_FIELDS.items()}
    pseudonyms = _pseudonyms(params, keys, given, posted=identifiers)
    after = params.get("after_index", "").strip() or "-1"
    if not re.fullmatch(r"-1|\d{1,18}", after):
        raise FilterError("after_index", "position")
    filters = auditing.EventFilters(
        **values,
        since=since,
        until=until,
        pseudonyms=pseudonyms or None,
        departement=departement,
    )
    plain = {
        **values,
        "since": since_text,
        "until": until_text,
        "departement": departement,
    }
    carried = {name: value for name, value in plain.items() if value is not None}
    if pseudonyms:
        carried["personne"] = pseudonyms[0]
    used = sorted([*carried.keys() - {"personne"}, *(["subject"] if pseudonyms else [])])
    form = {name: carried.get(name, "") for name in plain}
    return Search(filters, used, carried, form, int(after), pseudonyms)


def form_of(params: Mapping[str, str]) -> dict[str, str]:
    """The form's values as given, for a refused search (an identifier stays out of it)."""
    names = [*TEXT_FIELDS, "since", "until", "departement"]
    return {name: CONTROL.sub("", params.get(name, ""))[:64] for name in names}


def _pseudonyms(
    params: Mapping[str, str],
    keys: IdentityKeys,
    identifiers: dict[str, str | None],
    *,
    posted: bool,
) -> list[str]:
    """The person's pseudonym, from a posted AGDREF number or NIR, or a link's ``personne``."""
    given = [name for name, value in identifiers.items() if value is not None]
    if given and not posted:
        raise FilterError(given[0], "in-url")
    carried = params.get("personne", "").strip()
    if len(given) > 1 or (given and carried):
        raise FilterError("agdref_number", "one-of")
    if given:
        try:
            subject = reports.subject_of(keys, identifiers["agdref_number"], identifiers["nir"])
        except InvalidField as error:
            raise FilterError(error.errors[0].field, "identifier") from None
        return subject.pseudonyms
    if carried:
        if not PSEUDONYM.match(carried):
            raise FilterError("personne", "pseudonym")
        return [carried]
    return []


@dataclass
class EventsPage:
    events: list[EventOut]
    next_index: int | None


def events_page(
    session: Session, caller: Caller, search: Search, limit: int | None = None
) -> EventsPage:
    """At most ``limit`` events (a page's) after the search's position, and the next one's."""
    limit = limit or PAGE_SIZE
    found = auditing.events(
        session, caller, search.filters, after_id=0, limit=limit + 1, after_index=search.after_index
    )
    logged = audit_log.leaf_indexes(session, [e.event_id for e in found[:limit]])
    shown = [EventOut.of(e, logged.get(e.event_id)) for e in found[:limit]]
    more = len(found) > limit and bool(shown)
    return EventsPage(shown, shown[-1].leaf_index if more else None)


def export_rows(page: EventsPage) -> list[list[Any]]:
    """The events as the API's CSV gives them."""
    return [event.csv_row() for event in page.events]


def link(path: str, carried: Mapping[str, str | int]) -> str:
    return path + ("?" + urlencode(carried) if carried else "")


def participant_in_scope(
    session: Session, caller: Caller, kind: ParticipantKind, participant_id: str
) -> str | None:
    """The participant's name when the caller's territory covers it, else ``None``."""
    if not PARTICIPANT_ID.match(participant_id):
        return None
    if participant_id not in auditing.participants_in_scope(session, caller, kind):
        return None
    found = participants.get(session, participant_id)
    return found.name if found is not None else participant_id


def period(days: int) -> tuple[datetime, datetime]:
    until = utcnow()
    return until - timedelta(days=days), until


def fund_report(session: Session, fund_id: str, days: int, t: Translator) -> dict[str, Any]:
    """One fund's CODAF report over the last ``days`` days, and its charts."""
    since, until = period(days)
    report = reports.fund_report(session, fund_id, since, until, STALE_DAYS)
    states = [s for s in STATES if report["records_by_state"].get(s)] or ["pending"]
    outcomes = sorted(report["outcomes"])
    charts = [
        chart(
            "graphique-etats",
            "chart.states",
            "fund.chart.state",
            [t("state." + s) for s in states],
            [
                {
                    "label": t("chart.series.records"),
                    "data": [report["records_by_state"].get(s, 0) for s in states],
                }
            ],
        ),
        chart(
            "graphique-delais",
            "fund.chart.delays",
            "fund.chart.delay",
            [t("chart.series.to_delivery"), t("chart.series.to_receipt")],
            [
                {
                    "label": t("fund.series.median"),
                    "data": [
                        report["owed_to_delivery_hours_median"],
                        report["owed_to_receipt_hours_median"],
                    ],
                },
                {
                    "label": t("fund.series.p95"),
                    "data": [
                        report["owed_to_delivery_hours_p95"],
                        report["owed_to_receipt_hours_p95"],
                    ],
                },
            ],
        ),
    ]
    return {
        "report": report,
        "outcomes": outcomes,
        "charts": charts,
        "since": since.date().isoformat(),
        "until": until.date().isoformat(),
    }


def prefecture_report(
    session: Session, prefecture_id: str, days: int, t: Translator
) -> dict[str, Any]:
    """One prefecture's CODAF report over the last ``days`` days, and its charts."""
    since, until = period(days)
    report = reports.prefecture_report(session, prefecture_id, since, until)
    decided, corrected = report["decisions_by_kind"], report["corrections_by_kind"]
    charts = [
        chart(
            "graphique-decisions",
            "prefecture.chart.kinds",
            "prefecture.chart.label",
            [t("kind." + kind) for kind in KINDS],
            [
                {
                    "label": t("prefecture.series.decisions"),
                    "data": [decided.get(k, 0) for k in KINDS],
                }
            ],
        ),
        chart(
            "graphique-corrections",
            "prefecture.chart.corrections",
            "prefecture.chart.label",
            [t("correction." + kind) for kind in CORRECTIONS],
            [
                {
                    "label": t("prefecture.series.corrections"),
                    "data": [corrected.get(k, 0) for k in CORRECTIONS],
                }
            ],
        ),
    ]
    return {
        "report": report,
        "charts": charts,
        "since": since.date().isoformat(),
        "until": until.date().isoformat(),
    }


EVENT_ID = re.compile(r"^[0-9a-f-]{36}$")


def evidence(session: Session, caller: Caller, event_id: str | None) -> dict[str, Any]:
    """The latest signed checkpoint and, for an event the caller may see, its proof.

    The inclusion proof in that checkpoint's tree is checked here and given whole so that
    anyone can check it again: the event's canonical bytes, its leaf hash, the path and
    the signed root.

    ``proof`` is None when no event is asked for, ``{"found": False}`` for an event the
    caller may not see, or one not yet under the checkpoint (both answered alike).
    """
    signed = audit_log.checkpoint(session)
    shown: dict[str, Any] = {"checkpoint": None, "proof": None}
    if signed is None:
        return shown
    shown["checkpoint"] = {
        "tree_size": signed.tree_size,
        "root_hash": _b64(signed.root_hash),
        "note": signed.note,
        "kid": signed.kid,
        "signed_at": signed.signed_at,
    }
    if event_id is None:
        return shown
    leaf = audit_log.leaf(session, event_id=event_id)
    stored = console_repository.event(session, event_id)
    if (
        leaf is None
        or stored is None
        or leaf.index >= signed.tree_size
        or not auditing.event_visible(session, caller, event_id)
    ):
        shown["proof"] = {"found": False, "event_id": event_id}
        return shown
    leaf_bytes = EventOut.of(stored, leaf.index).leaf_text()
    leaf_hash, path = log_service.inclusion_proof(session, leaf.index, signed.tree_size)
    verified = merkle.leaf_hash(leaf_bytes.encode()) == leaf_hash and merkle.verify_inclusion(
        leaf_hash, leaf.index, signed.tree_size, path, signed.root_hash
    )
    shown["proof"] = {
        "found": True,
        "event_id": event_id,
        "action": stored.action,
        "occurred_at": stored.occurred_at,
        "leaf_index": leaf.index,
        "tree_size": signed.tree_size,
        "leaf": leaf_bytes,
        "leaf_hash": _b64(leaf_hash),
        "proof": [_b64(node) for node in path],
        "root_hash": _b64(signed.root_hash),
        "verified": verified,
    }
    return shown


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()
