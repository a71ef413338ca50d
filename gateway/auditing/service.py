"""What auditors are told: one person's report, and the CODAF reports per fund and prefecture.

A person is named by an AGDREF number or a NIR/NIA, turned server-side into the keyed
pseudonyms the audit events carry and the blind indexes the identities carry: neither the
query string's identifier nor any other reaches a log or an event.

Per fund: records owed and their states, batches delivered and acknowledged, the delays
from when a record became owed to its delivery and to its receipt, and apart from them
from the decision's own date to receipt (median, 95th percentile), the outcome of each
record, records still unacknowledged after N days, and the status checks made (how many,
by how many agents, on how many days): the effectiveness and periodicity CODAF checks.
With them, in bands of a day, three days and the expected delay (``EXPECTED_RECEIPT_DAYS``,
the default N): the delays to receipt and the ages of the records still unacknowledged;
the share acknowledged within N days of those due; the checks by match level; and their
trends per day or week (``fund_trends``). Per prefecture: decisions by kind, corrections
by kind, imports and their rejected lines.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from audit.actions import AuditAction
from audit.pseudonyms import pseudonym
from gateway.auditing import fishing, repository
from gateway.errors import InvalidField
from gateway.identities.agdref import parse_agdref
from gateway.identities.errors import IdentityFieldError
from gateway.identities.matching import Level
from gateway.identities.nir import NumberType, parse_social_security_number
from gateway.participants import repository as participants
from gateway.participants.models import ParticipantKind
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Row
    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller
    from gateway.identities.service import IdentityKeys
    from policies.model import Policy


# A record owed and not acknowledged after this many days is late: counted apart as
# ``unacknowledged`` (the reports' default ``unacknowledged_after_days``, the console's).
EXPECTED_RECEIPT_DAYS = 7
# The bands of a delay from owed to receipt, and of the age of a record not yet
# acknowledged (name, upper bound in hours): a day; three days, past which a batch left
# without a receipt alerts the operators (``GatewayBatchUnacknowledged``); the expected delay.
BANDS = repository.Bands(
    (
        ("under_1_day", 24.0),
        ("1_to_3_days", 72.0),
        ("3_to_7_days", 24.0 * EXPECTED_RECEIPT_DAYS),
    ),
    "7_days_or_more",
)
MATCH_LEVELS = [str(level) for level in Level]
DAILY_UP_TO = timedelta(days=31)  # a longer period's trends are weekly
WEEK = 7
WEEKLY_BUCKETS = 60  # at most, about: a longer period's buckets are several weeks long


@dataclass(frozen=True)
class Subject:
    pseudonyms: list[str]  # as the audit events name the person
    indexes: list[str]  # as the identities are indexed


def subject_of(keys: IdentityKeys, agdref_number: str | None, nir: str | None) -> Subject:
    """The person's pseudonyms and blind indexes, from exactly one identifier."""
    if (agdref_number is None) == (nir is None):
        raise InvalidField("agdref_number", "one-of", "give an agdref_number or a nir, not both")
    if agdref_number is not None:
        try:
            canonical = parse_agdref(agdref_number).canonical
        except IdentityFieldError as error:
            raise InvalidField("agdref_number", error.rule, str(error)) from error
        return Subject(
            [pseudonym(keys.pseudonym_key, "agdref", canonical)],
            [pseudonym(keys.blind_index_key, "agdref", canonical)],
        )
    try:
        number = parse_social_security_number(nir or "", NumberType.NIR).number
    except IdentityFieldError as error:
        raise InvalidField("nir", error.rule, str(error)) from error
    return Subject(
        [pseudonym(keys.pseudonym_key, "nir", number)],
        [pseudonym(keys.blind_index_key, "ssn", number)],
    )


def subject_report(
    session: Session, caller: Caller, policy: Policy, subject: Subject
) -> dict[str, Any]:
    """The person's decisions, who received which fields when, and the events about them.

    What the auditor's territory decided, disclosed or checked (everything, for a national
    auditor).
    """
    decisions = []
    overseen = set(repository.participants_in_scope(session, caller, ParticipantKind.PREFECTURE))
    for decision in repository.decisions_about(session, caller, subject.indexes):
        versions = repository.versions_of(session, decision.id)
        rows = repository.disclosures_of(
            session, caller, decision.id, every_fund=decision.prefecture_id in overseen
        )
        decisions.append(
            {
                "decision_id": decision.id,
                "reference": decision.reference,
                "prefecture": decision.prefecture_id,
                "kind": decision.kind,
                "status": decision.status,
                "decided_on": versions[0].decision_date.isoformat() if versions else None,
                "corrections": [
                    {
                        "version": v.version,
                        "kind": v.correction_kind,
                        "date": v.correction_date.isoformat() if v.correction_date else None,
                    }
                    for v in versions
                    if v.correction_kind
                ],
                "disclosures": [
                    {
                        "fund": d.fund_id,
                        "version": d.version,
                        "state": d.state,
                        "fields": list(policy.profiles.get(d.profile, [])),
                        "owed_since": d.created_at.isoformat(),
                        "delivered_at": delivered.isoformat() if delivered else None,
                        "acknowledged_at": acknowledged.isoformat() if acknowledged else None,
                        "outcome": outcome,
                    }
                    for d, delivered, acknowledged, outcome in rows
                ],
            }
        )
    events = repository.events_about(session, caller, subject.pseudonyms)
    return {
        "decisions": decisions,
        "accesses": [
            {
                "at": event.occurred_at.isoformat(),
                "action": event.action,
                "body": event.acting_for or event.participant_id,
                "purpose": event.purpose,
                "outcome": event.outcome,
            }
            for event in events
        ],
        # The status checks that concerned the person: which body, when, how it matched.
        "status_checks": [
            {
                "at": event.occurred_at.isoformat(),
                "body": event.acting_for or event.participant_id,
                "outcome": event.outcome,
                "match": event.detail.get("match"),
                "result": event.detail.get("result"),
            }
            for event in events
            if event.action == AuditAction.STATUS_CHECKED
        ],
    }


def _quantiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=20, method="inclusive")[18]


def _delays(
    timings: Sequence[Row[datetime, datetime | None, datetime | None, date]],
) -> dict[str, float | None]:
    """Median and 95th percentile of each delay a fund answers for, and of the decision's.

    A fund's delays run from when the record became owed: it cannot act on a decision
    before it is sent, and a backlog imported years later is owed from its import. Apart
    from them, the delay from the decision's own date to receipt.
    """
    to_delivery: list[float] = []
    to_receipt: list[float] = []
    decision_to_receipt: list[float] = []
    for owed, delivered, received, decided in timings:
        if delivered is not None:
            to_delivery.append(_hours(owed, delivered))
        if received is not None:
            to_receipt.append(_hours(owed, received))
            decision_day = datetime.combine(decided, datetime.min.time(), tzinfo=received.tzinfo)
            decision_to_receipt.append((received - decision_day).total_seconds() / 86400)
    figures: dict[str, float | None] = {}
    for name, values in (
        ("owed_to_delivery_hours", to_delivery),
        ("owed_to_receipt_hours", to_receipt),
        ("decision_to_receipt_days", decision_to_receipt),
    ):
        median, p95 = _quantiles(values)
        figures[f"{name}_median"] = None if median is None else round(median, 2)
        figures[f"{name}_p95"] = None if p95 is None else round(p95, 2)
    return figures


def _hours(start: datetime, end: datetime) -> float:
    """Hours between two stored times (both naive UTC, or both aware)."""
    if (start.tzinfo is None) != (end.tzinfo is None):
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return max((end - start).total_seconds(), 0.0) / 3600


def _banded(counts: dict[str, int]) -> dict[str, int]:
    """Every band's count, in the bands' order (none missing: a spreadsheet's columns)."""
    return {band: counts.get(band, 0) for band in BANDS.names}


def _in_time(
    session: Session, fund_id: str, since: datetime, until: datetime, now: datetime, days: int
) -> dict[str, Any]:
    """The records of the period acknowledged within ``days`` of being owed, of those due."""
    in_time, due = repository.received_in_time(session, fund_id, since, until, now, days * 24.0)
    return {
        "acknowledged_in_time": in_time,
        "acknowledged_due": due,
        "acknowledged_in_time_share": round(in_time / due, 4) if due else None,
    }


def fund_report(
    session: Session,
    fund_id: str,
    since: datetime,
    until: datetime,
    stale_days: int,
    *,
    trends: bool = False,
) -> dict[str, Any]:
    """The fund's CODAF report of the period; with ``trends``, its ``Trends`` too."""
    now = utcnow()
    states = repository.records_by_state(session, fund_id, since, until)
    delivered, acknowledged, batches = repository.batch_counts(session, fund_id, since, until)
    delays = _delays(repository.record_timings(session, fund_id, since, until))
    by_band = repository.receipt_delays_by_band(session, fund_id, since, until, BANDS)
    fund = participants.get(session, fund_id)
    outcomes = repository.outcomes(session, fund_id, since, until)
    stale = repository.unsettled_before(session, fund_id, now - timedelta(days=stale_days))
    ages = repository.unsettled_by_age(session, fund_id, now, BANDS)
    checked = repository.checks_by_day_and_match(session, fund_id, since, until)
    by_match = dict.fromkeys(MATCH_LEVELS, 0)
    for _, level, count in checked:
        if level in by_match:
            by_match[level] += count
    count, agent_count, days = repository.check_counts(session, fund_id, since, until)
    checks = {"count": count, "agents": agent_count, "days": days}
    agents = fishing.agent_checks(session, fund_id, since, until)
    report = {
        "fund_id": fund_id,
        # A national fund (by registration) checks anyone; the others, their territory.
        "national": bool(fund and fund.national),
        "departements": fund.departements if fund else [],
        "records_owed": sum(states.values()),
        "records_by_state": states,
        "batches": batches,
        "batches_delivered": delivered,
        "batches_acknowledged": acknowledged,
        **delays,
        "owed_to_receipt_by_band": _banded(by_band),
        **_in_time(session, fund_id, since, until, now, stale_days),
        "outcomes": outcomes,
        "unacknowledged_after_days": stale_days,
        "unacknowledged": stale,
        "unacknowledged_by_age": _banded(ages),
        "status_checks": checks["count"],
        "status_checks_by_match": by_match,
        "status_check_agents": checks["agents"],
        "status_check_days": checks["days"],
        "status_checks_weak": sum(agent.weak for agent in agents),
        "status_checks_conflict": sum(agent.conflicts for agent in agents),
        "status_checks_by_name": sum(agent.by_name for agent in agents),
        "status_checks_outside_territory": sum(agent.outside_territory for agent in agents),
        "status_checks_without_departement": sum(a.without_departement for a in agents),
        "fishing_flags": [agent.as_dict() for agent in agents if agent.reasons],
    }
    if trends:
        report["trends"] = fund_trends(session, fund_id, since, until, checked)
    return report


@dataclass
class Trends:
    """A fund's figures per day, or per week from Monday, of a period.

    Per day up to 31 days, per week up to 420; a longer period's buckets are as many
    weeks as keep them about 60.
    """

    step_days: int
    starts: list[date]
    to_receipt_median: list[float | None] = field(default_factory=list)
    to_receipt_p95: list[float | None] = field(default_factory=list)
    checks_by_match: dict[str, list[int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """As the API's JSON report gives it: each list runs along ``starts``."""
        return {
            "step_days": self.step_days,
            "starts": [start.isoformat() for start in self.starts],
            "owed_to_receipt_hours_median": self.to_receipt_median,
            "owed_to_receipt_hours_p95": self.to_receipt_p95,
            "status_checks_by_match": self.checks_by_match,
        }


def _buckets(since: datetime, until: datetime) -> tuple[int, list[date]]:
    """The trends' step in days and the first day of each bucket of the period."""
    weeks = -(-(until - since).days // (WEEK * WEEKLY_BUCKETS))  # rounded up
    step = 1 if until - since <= DAILY_UP_TO else WEEK * weeks
    first = since.date() - timedelta(days=since.date().weekday() if step > 1 else 0)
    count = (until.date() - first).days // step + 1
    return step, [first + timedelta(days=step * n) for n in range(count)]


def _day(value: object) -> date:
    """A day as the database gives ``date(...)``: a date (PostgreSQL) or its text (SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def fund_trends(
    session: Session,
    fund_id: str,
    since: datetime,
    until: datetime,
    checked: Sequence[Row[Any, str | None, int]],
) -> Trends:
    """Over the period, per day or per week: trends of a fund's delays and checks.

    The delay from owed to receipt of the records owed that day or week (median, 95th
    percentile), and the status checks made then (``checked``: counted by day and match
    level, as the report read them), by match level.
    """
    step, starts = _buckets(since, until)
    first = starts[0]

    def bucket(day: object) -> int:
        return min(max((_day(day) - first).days // step, 0), len(starts) - 1)

    delays: list[list[float]] = [[] for _ in starts]
    for day, hours in repository.receipt_delays_by_day(session, fund_id, since, until):
        delays[bucket(day)].append(max(float(hours), 0.0))
    trends = Trends(step, starts)
    for values in delays:
        median, p95 = _quantiles(values)
        trends.to_receipt_median.append(None if median is None else round(median, 2))
        trends.to_receipt_p95.append(None if p95 is None else round(p95, 2))
    trends.checks_by_match = {level: [0] * len(starts) for level in MATCH_LEVELS}
    for day, level, count in checked:
        if level in trends.checks_by_match:
            trends.checks_by_match[level][bucket(day)] += count
    return trends


def prefecture_report(
    session: Session, prefecture_id: str, since: datetime, until: datetime
) -> dict[str, Any]:
    kinds = repository.decisions_by_kind(session, prefecture_id, since, until)
    corrections = repository.corrections_by_kind(session, prefecture_id, since, until)
    imports = repository.import_counts(session, prefecture_id, since, until)
    return {
        "prefecture_id": prefecture_id,
        "decisions": sum(kinds.values()),
        "decisions_by_kind": kinds,
        "corrections_by_kind": corrections,
        "imports": imports[0],
        "imported_lines_accepted": imports[1],
        "imported_lines_rejected": imports[2],
    }


def flat(report: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: nested counts become ``name.key`` columns."""
    row: dict[str, Any] = {}
    for name, value in report.items():
        if isinstance(value, list):  # départements; flagged agents: their ids
            row[name] = " ".join(
                str(item.get("agent_id")) if isinstance(item, dict) else str(item) for item in value
            )
        elif isinstance(value, dict):
            row.update({f"{name}.{key}": count for key, count in sorted(value.items())})
        else:
            row[name] = value
    return row
