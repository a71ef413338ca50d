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
STALE_DAYS = reports.EXPECTED_RECEIPT_DAYS  # records unacknowledged after it: late
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
    to_receipt_by_band: dict[str, int]
    in_time: int
    due: int
    in_time_share: float | None
    unacknowledged_by_age: dict[str, int]
    checks_by_match: dict[str, int]
    trends: reports.Trends

    @property
    def in_time_percent(self) -> float | None:
        return None if self.in_time_share is None else round(self.in_time_share * 100, 1)


def chart(
    chart_id: str,
    title: str,
    header: str,
    labels: list[str],
    series: list[dict[str, Any]],
    *,
    stacked: bool = False,
    line: bool = False,
    title_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One chart's data, also shown as a table beside the chart (``header``: its rows').

    ``title`` is a catalogue key, filled in with ``title_values``; ``line`` draws the
    series as lines (a trend), else as bars.
    """
    return {
        "id": chart_id,
        "title": title,
        "title_values": title_values or {},
        "header": header,
        "data": {
            "labels": labels,
            "stacked": stacked,
            "type": "line" if line else "bar",
            "datasets": series,
        },
    }


@dataclass
class Overview:
    since: str
    until: str
    days: int
    funds: list[FundRow] = field(default_factory=list)
    prefectures: list[tuple[str, str]] = field(default_factory=list)  # (id, name)

    def charts(self, t: Translator) -> list[dict[str, Any]]:
        """The charts' data, each also shown as a table beside its chart (none without funds)."""
        if not self.funds:
            return []
        labels = [fund.name for fund in self.funds]
        funds = self.funds
        shown = [s for s in STATES if any(f.by_state.get(s) for f in funds)] or ["pending"]

        def by_fund(chart_id: str, title: str, series: list[dict[str, Any]], **options: Any) -> Any:
            return chart(chart_id, title, "column.fund", labels, series, **options)

        def counted(
            chart_id: str, title: str, prefix: str, keys: list[str], counts: list[dict[str, int]]
        ) -> Any:
            """Each fund's counts, one stacked series per key (its name: ``prefix + key``)."""
            found = [series(t(prefix + key), [c.get(key, 0) for c in counts]) for key in keys]
            return by_fund(chart_id, title, found, stacked=True)

        return [
            counted(
                "graphique-etats", "chart.states", "state.", shown, [f.by_state for f in funds]
            ),
            by_fund(
                "graphique-delais",
                "chart.delays",
                [
                    series(t("chart.series.to_delivery"), [f.to_delivery_median for f in funds]),
                    series(t("chart.series.to_receipt"), [f.to_receipt_median for f in funds]),
                ],
            ),
            counted(
                "graphique-repartition-delais",
                "chart.receipt_bands",
                "band.",
                reports.BANDS.names,
                [f.to_receipt_by_band for f in funds],
            ),
            *self._trend_charts(t),
            by_fund(
                "graphique-dans-le-delai",
                "chart.in_time",
                [series(t("chart.series.in_time"), [f.in_time_percent for f in funds])],
                title_values={"days": STALE_DAYS},
            ),
            counted(
                "graphique-anciennete",
                "chart.unacknowledged_ages",
                "band.",
                reports.BANDS.names,
                [f.unacknowledged_by_age for f in funds],
            ),
            counted(
                "graphique-correspondances",
                "chart.checks_by_match",
                "match.",
                reports.MATCH_LEVELS,
                [f.checks_by_match for f in funds],
            ),
        ]

    def _trend_charts(self, t: Translator) -> list[dict[str, Any]]:
        """Per day or week: each fund's delay to receipt, and the territory's checks."""
        starts, weekly = self.funds[0].trends.starts, self.funds[0].trends.step_days > 1
        header = "chart.week" if weekly else "chart.day"
        labels = [t("chart.week_of" if weekly else "chart.day_of", day=day) for day in starts]
        step = {"step": t(header).lower()}
        checks = [
            series(
                t("match." + level),
                [
                    sum(f.trends.checks_by_match[level][n] for f in self.funds)
                    for n in range(len(starts))
                ],
            )
            for level in reports.MATCH_LEVELS
        ]

        def over_time(chart_id: str, title: str, found: list[Any], **options: Any) -> Any:
            return chart(chart_id, title, header, labels, found, title_values=step, **options)

        return [
            over_time(
                "graphique-tendance-mediane",
                "chart.receipt_median_trend",
                [series(f.name, f.trends.to_receipt_median) for f in self.funds],
                line=True,
            ),
            over_time(
                "graphique-tendance-p95",
                "chart.receipt_p95_trend",
                [series(f.name, f.trends.to_receipt_p95) for f in self.funds],
                line=True,
            ),
            over_time(
                "graphique-tendance-verifications", "chart.checks_trend", checks, stacked=True
            ),
        ]


def series(label: str, data: list[Any]) -> dict[str, Any]:
    """One series of a chart: its name and its values, one per row of the chart's table."""
    return {"label": label, "data": data}


def overview(session: Session, caller: Caller, days: int) -> Overview:
    """Per fund of the caller's territory: the CODAF report of the last ``days`` days."""
    until = utcnow()
    since = until - timedelta(days=days)
    found = Overview(since=since.date().isoformat(), until=until.date().isoformat(), days=days)
    for fund_id in auditing.participants_in_scope(session, caller, ParticipantKind.FUND):
        report = reports.fund_report(session, fund_id, since, until, STALE_DAYS, trends=True)
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
                to_receipt_by_band=report["owed_to_receipt_by_band"],
                in_time=report["acknowledged_in_time"],
                due=report["acknowledged_due"],
                in_time_share=report["acknowledged_in_time_share"],
                unacknowledged_by_age=report["unacknowledged_by_age"],
                checks_by_match=report["status_checks_by_match"],
                trends=report["trends"],
            )
        )
    for prefecture_id in auditing.participants_in_scope(
        session, caller, ParticipantKind.PREFECTURE
    ):
        prefecture = participants.get(session, prefecture_id)
        name = prefecture.name if prefecture is not None else prefecture_id
        found.prefectures.append((prefecture_id, name))
    return found
