"""What the console does for a logged-in person: who they act as, and what a page shows.

A person acts as the auditor participant the operator mapped them to: the console builds
that auditor's ``Caller`` (its territory, the purpose the person stated, the person's
mapping id as the agent) and calls the auditors' services with it, in-process, so the
territory rules of ``gateway.tenancy`` hold exactly as for the API.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from audit.pseudonyms import pseudonym
from gateway.auditing import repository as auditing
from gateway.auditing import service as reports
from gateway.auth.caller import Caller
from gateway.auth.scopes import Scope
from gateway.disclosures.models import DisclosureState
from gateway.participants import repository as participants
from gateway.participants.models import ParticipantKind, ParticipantStatus
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.console.i18n import Translator
    from gateway.console.models import ConsolePerson
    from gateway.identities.service import IdentityKeys
    from gateway.participants.models import Participant

PERIODS = (7, 30, 90, 365)  # the overview's periods, in days
DEFAULT_PERIOD = 30
STALE_DAYS = 7  # records unacknowledged after this many days are counted apart
STATES = [str(state) for state in DisclosureState]


class Role(StrEnum):
    READER = "reader"
    APPROVER = "approver"


def new_secret() -> str:
    """A random value for a cookie, a state, a nonce, a PKCE verifier or a CSRF token."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """What the database keeps of a cookie's value: its SHA-256."""
    return hashlib.sha256(value.encode()).hexdigest()


def person_pseudonym(keys: IdentityKeys, issuer: str, subject: str) -> str:
    """A person as the audit names them before they are mapped: a keyed pseudonym."""
    return pseudonym(keys.pseudonym_key, "oidc", f"{issuer} {subject}")


def usable_auditor(session: Session, person: ConsolePerson) -> Participant | None:
    """The auditor participant the person acts as, if it is registered and active."""
    auditor = participants.get(session, person.auditor_id)
    if (
        auditor is None
        or auditor.kind != ParticipantKind.AUDITOR
        or auditor.status != ParticipantStatus.ACTIVE
    ):
        return None
    return auditor


def caller_for(auditor: Participant, person: ConsolePerson, purpose: str) -> Caller:
    """The auditor's ``Caller``, for the person, with the purpose they stated."""
    return Caller(
        participant_id=auditor.id,
        kind=ParticipantKind.AUDITOR,
        acting_for=auditor.id,
        scopes=frozenset({Scope.AUDIT_READ}),
        territory=tuple(auditor.departements),
        national=auditor.national,
        purpose=purpose,
        agent_id=person.id,
        case_reference=None,
        dpop_bound=False,
    )


def territory_label(auditor: Participant, t: Translator) -> str:
    if auditor.national:
        return t("overview.national")
    return ", ".join(auditor.departements)


@dataclass
class FundRow:
    id: str
    name: str
    owed: int
    by_state: dict[str, int]
    to_delivery_median: float | None
    to_delivery_p95: float | None
    to_receipt_median: float | None
    to_receipt_p95: float | None
    unacknowledged: int
    status_checks: int
    status_check_agents: int
    fishing_flags: int


@dataclass
class Overview:
    since: str
    until: str
    days: int
    funds: list[FundRow] = field(default_factory=list)
    prefectures: list[tuple[str, str]] = field(default_factory=list)  # (id, name)

    def charts(self, t: Translator) -> list[dict[str, Any]]:
        """The charts' data, each also shown as a table beside its chart."""
        labels = [fund.name for fund in self.funds]
        shown = [s for s in STATES if any(f.by_state.get(s) for f in self.funds)] or ["pending"]
        return [
            {
                "id": "graphique-etats",
                "title": "chart.states",
                "header": "column.fund",
                "data": {
                    "labels": labels,
                    "stacked": True,
                    "datasets": [
                        {
                            "label": t("state." + state),
                            "data": [f.by_state.get(state, 0) for f in self.funds],
                        }
                        for state in shown
                    ],
                },
            },
            {
                "id": "graphique-delais",
                "title": "chart.delays",
                "header": "column.fund",
                "data": {
                    "labels": labels,
                    "stacked": False,
                    "datasets": [
                        {
                            "label": t("chart.series.to_delivery"),
                            "data": [f.to_delivery_median for f in self.funds],
                        },
                        {
                            "label": t("chart.series.to_receipt"),
                            "data": [f.to_receipt_median for f in self.funds],
                        },
                    ],
                },
            },
        ]


def overview(session: Session, caller: Caller, days: int) -> Overview:
    """Per fund of the caller's territory: the CODAF report of the last ``days`` days."""
    until = utcnow()
    since = until - timedelta(days=days)
    found = Overview(since=since.date().isoformat(), until=until.date().isoformat(), days=days)
    for fund_id in auditing.participants_in_scope(session, caller, ParticipantKind.FUND):
        report = reports.fund_report(session, fund_id, since, until, STALE_DAYS)
        fund = participants.get(session, fund_id)
        found.funds.append(
            FundRow(
                id=fund_id,
                name=fund.name if fund is not None else fund_id,
                owed=report["records_owed"],
                by_state=dict(report["records_by_state"]),
                to_delivery_median=report["owed_to_delivery_hours_median"],
                to_delivery_p95=report["owed_to_delivery_hours_p95"],
                to_receipt_median=report["owed_to_receipt_hours_median"],
                to_receipt_p95=report["owed_to_receipt_hours_p95"],
                unacknowledged=report["unacknowledged"],
                status_checks=report["status_checks"],
                status_check_agents=report["status_check_agents"],
                fishing_flags=len(report["fishing_flags"]),
            )
        )
    for prefecture_id in auditing.participants_in_scope(
        session, caller, ParticipantKind.PREFECTURE
    ):
        prefecture = participants.get(session, prefecture_id)
        name = prefecture.name if prefecture is not None else prefecture_id
        found.prefectures.append((prefecture_id, name))
    return found
