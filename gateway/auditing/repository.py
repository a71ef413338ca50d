"""Every query auditors' requests make: events, one person's trail, the CODAF reports.

What an auditor may see is filtered by ``tenancy``: the events made by or for the
participants covering its territory (``auditor_events``), the funds and prefectures of
its territory and what they decided, received or checked (``auditor_rows``); all of it,
for a national auditor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, String, case, cast, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from audit.actions import AuditAction, AuditOutcome
from gateway import tenancy
from gateway.auditlog.models import AuditEvent, AuditLogLeaf
from gateway.batches.models import Batch, Receipt, RecordOutcome
from gateway.decisions.models import Decision, DecisionVersion
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.identities.models import Identity
from gateway.imports.models import DecisionImport
from gateway.participants.models import Participant, ParticipantKind

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date

    from sqlalchemy import ColumnElement, Row, Select
    from sqlalchemy.orm import Session
    from sqlalchemy.sql.compiler import SQLCompiler

    from gateway.auth.caller import Caller

SETTLED = (DisclosureState.ACKNOWLEDGED, DisclosureState.REJECTED, DisclosureState.CANCELLED)


@dataclass(frozen=True)
class EventFilters:
    """What an auditor narrows the events to; ``None`` is no filter."""

    participant: str | None = None
    agent: str | None = None  # the agent a participant's calls named (Agent-Id)
    action: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    pseudonyms: list[str] | None = None  # the events naming one of these subjects
    departement: str | None = None


def _visible_events(caller: Caller, departement: str | None = None) -> Any:
    return tenancy.auditor_events(
        caller, AuditEvent.participant_id, AuditEvent.acting_for, departement=departement
    )


def _mentions(values: list[str]) -> Any:
    """Events whose subject pseudonyms include one of ``values`` (JSON array, both backends)."""
    text = cast(AuditEvent.subject_pseudonyms, String)
    return or_(*(text.contains(f'"{value}"') for value in values))


def events(
    session: Session,
    caller: Caller,
    filters: EventFilters,
    *,
    after_id: int,
    limit: int,
    after_index: int | None = None,
) -> list[AuditEvent]:
    """The events the auditor may see that match, oldest first, after the cursor.

    With ``after_index``, the events already in the Merkle log, in log order, after that
    position: the sequencer appends one batch at a time under a lock, so positions only
    ever grow in commit order, and paging by them reads every event exactly once. Row ids
    are handed out when a row is written, not when it commits: a page by ``after_id`` can
    pass over an event whose transaction commits after a later one's.
    """
    statement = select(AuditEvent).where(_visible_events(caller, filters.departement))
    if after_index is None:
        statement = statement.where(AuditEvent.id > after_id).order_by(AuditEvent.id)
    else:
        statement = (
            statement.join(AuditLogLeaf, AuditLogLeaf.event_id == AuditEvent.event_id)
            .where(AuditLogLeaf.index > after_index)
            .order_by(AuditLogLeaf.index)
        )
    if filters.participant is not None:
        statement = statement.where(
            or_(
                AuditEvent.participant_id == filters.participant,
                AuditEvent.acting_for == filters.participant,
            )
        )
    for column, value in (
        (AuditEvent.agent_id, filters.agent),
        (AuditEvent.action, filters.action),
        (AuditEvent.purpose, filters.purpose),
        (AuditEvent.outcome, filters.outcome),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.since is not None:
        statement = statement.where(AuditEvent.occurred_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AuditEvent.occurred_at < filters.until)
    if filters.pseudonyms is not None:
        statement = statement.where(_mentions(filters.pseudonyms))
    return list(session.scalars(statement.limit(limit)))


# -- one person's report ----------------------------------------------------------------


def decisions_about(session: Session, caller: Caller, indexes: list[str]) -> list[Decision]:
    """The decisions naming the person of these blind indexes the auditor may see.

    In any version, oldest first: those its territory's prefectures decided and those
    disclosed to its territory's funds.
    """
    identity_ids = select(Identity.id).where(
        or_(Identity.bi_agdref.in_(indexes), Identity.bi_ssn.in_(indexes))
    )
    decision_ids = select(DecisionVersion.decision_id).where(
        DecisionVersion.identity_id.in_(identity_ids)
    )
    disclosed_here = select(Disclosure.decision_id).where(
        tenancy.auditor_rows(caller, Disclosure.fund_id)
    )
    statement = (
        select(Decision)
        .where(
            Decision.id.in_(decision_ids),
            or_(
                tenancy.auditor_rows(caller, Decision.prefecture_id),
                Decision.id.in_(disclosed_here),
            ),
        )
        .order_by(Decision.created_at)
    )
    return list(session.scalars(statement))


def versions_of(session: Session, decision_id: str) -> Sequence[DecisionVersion]:
    return session.scalars(
        select(DecisionVersion)
        .where(DecisionVersion.decision_id == decision_id)
        .order_by(DecisionVersion.version)
    ).all()


def disclosures_of(
    session: Session, caller: Caller, decision_id: str, *, every_fund: bool
) -> Sequence[Row[Disclosure, datetime | None, datetime | None, str | None]]:
    """(disclosure, delivered at, acknowledged at, outcome) of a decision's disclosures.

    Those to the auditor's territory's funds, or ``every_fund`` when it oversees the
    prefecture that decided.
    """
    statement = (
        select(Disclosure, Batch.delivered_at, Batch.acknowledged_at, RecordOutcome.outcome)
        .outerjoin(Batch, Batch.id == Disclosure.batch_id)
        .outerjoin(RecordOutcome, RecordOutcome.disclosure_id == Disclosure.id)
        .where(Disclosure.decision_id == decision_id)
        .order_by(Disclosure.version, Disclosure.fund_id)
    )
    if not every_fund:
        statement = statement.where(tenancy.auditor_rows(caller, Disclosure.fund_id))
    return session.execute(statement).all()


def events_about(session: Session, caller: Caller, pseudonyms: list[str]) -> Sequence[AuditEvent]:
    """The events naming one of the person's pseudonyms the auditor may see, in log order."""
    return session.scalars(
        select(AuditEvent)
        .where(_mentions(pseudonyms), _visible_events(caller))
        .order_by(AuditEvent.id)
    ).all()


def event_visible(session: Session, caller: Caller, event_id: str) -> bool:
    """Whether the auditor may see the event (an unknown one is not visible)."""
    statement = select(AuditEvent.id).where(
        AuditEvent.event_id == event_id, _visible_events(caller)
    )
    return session.scalar(statement.limit(1)) is not None


# -- the CODAF reports --------------------------------------------------------------------


def participants_in_scope(session: Session, caller: Caller, kind: ParticipantKind) -> list[str]:
    """The participants of this kind in the auditor's territory (all, if national)."""
    statement = select(Participant.id).where(
        Participant.kind == kind, tenancy.auditor_rows(caller, Participant.id)
    )
    return sorted(session.scalars(statement.order_by(Participant.id)).unique())


def _owed_in(fund_id: str, since: datetime, until: datetime) -> Any:
    return (Disclosure.fund_id == fund_id) & Disclosure.created_at.between(since, until)


def records_by_state(
    session: Session, fund_id: str, since: datetime, until: datetime
) -> dict[str, int]:
    """The fund's records owed in the period, counted by state."""
    statement = (
        select(Disclosure.state, func.count())
        .where(_owed_in(fund_id, since, until))
        .group_by(Disclosure.state)
    )
    return dict(session.execute(statement).all())


def batch_counts(
    session: Session, fund_id: str, since: datetime, until: datetime
) -> tuple[int, int, int]:
    """(delivered, acknowledged, all) of the fund's batches sealed in the period."""
    delivered, acknowledged, total = session.execute(
        select(
            func.count(Batch.delivered_at), func.count(Batch.acknowledged_at), func.count()
        ).where(Batch.fund_id == fund_id, Batch.created_at.between(since, until))
    ).one()
    return int(delivered), int(acknowledged), int(total)


def record_timings(
    session: Session, fund_id: str, since: datetime, until: datetime
) -> Sequence[Row[datetime, datetime | None, datetime | None, date]]:
    """Each sealed record owed in the period: (owed, delivered, receipt, decision date).

    Delivery and receipt are None until they happen.
    """
    return session.execute(
        select(
            Disclosure.created_at,
            Batch.delivered_at,
            Receipt.recorded_at,
            DecisionVersion.decision_date,
        )
        .join(Batch, Batch.id == Disclosure.batch_id)
        .outerjoin(Receipt, Receipt.batch_id == Batch.id)
        .join(
            DecisionVersion,
            (DecisionVersion.decision_id == Disclosure.decision_id)
            & (DecisionVersion.version == Disclosure.version),
        )
        .where(_owed_in(fund_id, since, until))
    ).all()


def outcomes(session: Session, fund_id: str, since: datetime, until: datetime) -> dict[str, int]:
    """The outcomes the fund gave the records owed in the period, counted."""
    statement = (
        select(RecordOutcome.outcome, func.count())
        .join(Disclosure, Disclosure.id == RecordOutcome.disclosure_id)
        .where(_owed_in(fund_id, since, until))
        .group_by(RecordOutcome.outcome)
    )
    return dict(session.execute(statement).all())


class hours_between(FunctionElement[float]):  # noqa: N801 - an SQL function, named as one
    """Hours from one stored time to another, computed by the database.

    SQLite keeps times as text and has no interval type: its Julian day numbers instead.
    """

    type = Float()
    inherit_cache = True
    name = "hours_between"


@compiles(hours_between, "sqlite")
def _hours_on_sqlite(element: hours_between, compiler: SQLCompiler, **options: Any) -> str:
    start, end = (compiler.process(clause, **options) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 24.0)"


@compiles(hours_between, "postgresql")
def _hours_on_postgresql(element: hours_between, compiler: SQLCompiler, **options: Any) -> str:
    start, end = (compiler.process(clause, **options) for clause in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"


class utc_day(FunctionElement[Any]):  # noqa: N801 - an SQL function, named as one
    """The day (in UTC) of a stored time, whatever the database session's time zone."""

    inherit_cache = True
    name = "utc_day"


@compiles(utc_day, "sqlite")
def _day_on_sqlite(element: utc_day, compiler: SQLCompiler, **options: Any) -> str:
    return f"date({compiler.process(element.clauses, **options)})"  # stored as UTC text


@compiles(utc_day, "postgresql")
def _day_on_postgresql(element: utc_day, compiler: SQLCompiler, **options: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **options)} AT TIME ZONE 'UTC') AS DATE)"


def _instant(value: datetime) -> Any:
    """A time given to the database as the columns store theirs."""
    return literal(value, Disclosure.created_at.type)


@dataclass(frozen=True)
class Bands:
    """Bands of a duration: each one's name and upper bound in hours, then the last's name."""

    bounds: tuple[tuple[str, float], ...]
    last: str

    @property
    def names(self) -> list[str]:
        return [*(name for name, _ in self.bounds), self.last]

    def of(self, hours: ColumnElement[float]) -> Any:
        """The name of the band ``hours`` falls in: the first whose bound it is under."""
        return case(*((hours < bound, name) for name, bound in self.bounds), else_=self.last)


def _by_band(session: Session, band: Any, statement: Select[Any]) -> dict[str, int]:
    """The rows of ``statement`` counted by ``band``."""
    grouped = statement.add_columns(band, func.count()).group_by(band)
    return {str(name): int(count) for name, count in session.execute(grouped).all()}


def receipt_delays_by_band(
    session: Session, fund_id: str, since: datetime, until: datetime, bands: Bands
) -> dict[str, int]:
    """The fund's records owed in the period and received, by band of delay to receipt."""
    delay = hours_between(Disclosure.created_at, Receipt.recorded_at)
    received = (
        select()
        .select_from(Disclosure)
        .join(Receipt, Receipt.batch_id == Disclosure.batch_id)
        .where(_owed_in(fund_id, since, until))
    )
    return _by_band(session, bands.of(delay), received)


def received_in_time(
    session: Session, fund_id: str, since: datetime, until: datetime, now: datetime, hours: float
) -> tuple[int, int]:
    """(received within ``hours`` of being owed, due) of the fund's records of the period.

    Within: in less than ``hours``, as the bands count it. Due: received, or owed for
    longer than ``hours`` by ``now`` (late, received or not); a record cancelled and never
    received is owed no more.
    """
    delay = hours_between(Disclosure.created_at, Receipt.recorded_at)
    age = hours_between(Disclosure.created_at, _instant(now))
    in_time = func.count(case((delay < hours, 1)))
    due = func.count(case((Receipt.recorded_at.is_not(None) | (age > hours), 1)))
    found, owed = session.execute(
        select(in_time, due)
        .select_from(Disclosure)
        .outerjoin(Receipt, Receipt.batch_id == Disclosure.batch_id)
        .where(
            _owed_in(fund_id, since, until),
            Receipt.recorded_at.is_not(None) | (Disclosure.state != DisclosureState.CANCELLED),
        )
    ).one()
    return int(found), int(owed)


def receipt_delays_by_day(
    session: Session, fund_id: str, since: datetime, until: datetime
) -> Sequence[Row[Any, float]]:
    """(day owed, hours from owed to receipt) of each record of the period received."""
    return session.execute(
        select(
            utc_day(Disclosure.created_at),
            hours_between(Disclosure.created_at, Receipt.recorded_at),
        )
        .join(Receipt, Receipt.batch_id == Disclosure.batch_id)
        .where(_owed_in(fund_id, since, until))
    ).all()


def unsettled_by_age(session: Session, fund_id: str, now: datetime, bands: Bands) -> dict[str, int]:
    """The fund's records not settled by ``now``, counted by band of their age since owed."""
    age = hours_between(Disclosure.created_at, _instant(now))
    unsettled = (
        select()
        .select_from(Disclosure)
        .where(Disclosure.fund_id == fund_id, Disclosure.state.not_in(SETTLED))
    )
    return _by_band(session, bands.of(age), unsettled)


def unsettled_before(session: Session, fund_id: str, before: datetime) -> int:
    """The fund's records owed before ``before`` and still not settled."""
    count = session.scalar(
        select(func.count()).where(
            Disclosure.fund_id == fund_id,
            Disclosure.state.not_in(SETTLED),
            Disclosure.created_at < before,
        )
    )
    return count or 0


def check_counts(
    session: Session, fund_id: str, since: datetime, until: datetime
) -> tuple[int, int, int]:
    """(checks, agents, days) of the fund's successful status checks in the period."""
    checks, agents, days = session.execute(
        select(
            func.count(),
            func.count(AuditEvent.agent_id.distinct()),
            func.count(func.date(AuditEvent.occurred_at).distinct()),
        ).where(
            AuditEvent.acting_for == fund_id,
            AuditEvent.action == AuditAction.STATUS_CHECKED,
            AuditEvent.outcome == AuditOutcome.SUCCESS,
            AuditEvent.occurred_at.between(since, until),
        )
    ).one()
    return int(checks), int(agents), int(days)


def checks_by_day_and_match(
    session: Session, fund_id: str, since: datetime, until: datetime
) -> Sequence[Row[Any, str | None, int]]:
    """(day, match level, count) of the fund's successful status checks in the period."""
    day = utc_day(AuditEvent.occurred_at)
    match = AuditEvent.detail["match"].as_string()
    return session.execute(
        select(day, match, func.count())
        .where(
            AuditEvent.acting_for == fund_id,
            AuditEvent.action == AuditAction.STATUS_CHECKED,
            AuditEvent.outcome == AuditOutcome.SUCCESS,
            AuditEvent.occurred_at.between(since, until),
        )
        .group_by(day, match)
    ).all()


def agent_check_counts(
    session: Session, fund_id: str, since: datetime, until: datetime
) -> Sequence[Row[str | None, str, str | None, str | None, bool | None, int]]:
    """(agent, outcome, match, rule, sent identifiers, count) of the fund's checks, grouped.

    Counted in the database: a sweep is millions of events.
    """
    match = AuditEvent.detail["match"].as_string()
    rule = AuditEvent.detail["rule"].as_string()
    identifiers = AuditEvent.detail["identifiers"].as_boolean()
    return session.execute(
        select(AuditEvent.agent_id, AuditEvent.outcome, match, rule, identifiers, func.count())
        .where(
            AuditEvent.acting_for == fund_id,
            AuditEvent.action == AuditAction.STATUS_CHECKED,
            AuditEvent.occurred_at.between(since, until),
        )
        .group_by(AuditEvent.agent_id, AuditEvent.outcome, match, rule, identifiers)
    ).all()


def decisions_by_kind(
    session: Session, prefecture_id: str, since: datetime, until: datetime
) -> dict[str, int]:
    """The prefecture's decisions created in the period, counted by kind."""
    decided = (Decision.prefecture_id == prefecture_id) & Decision.created_at.between(since, until)
    statement = select(Decision.kind, func.count()).where(decided).group_by(Decision.kind)
    return dict(session.execute(statement).all())


def corrections_by_kind(
    session: Session, prefecture_id: str, since: datetime, until: datetime
) -> dict[str | None, int]:
    """The prefecture's corrections made in the period, counted by kind."""
    statement = (
        select(DecisionVersion.correction_kind, func.count())
        .join(Decision, Decision.id == DecisionVersion.decision_id)
        .where(
            Decision.prefecture_id == prefecture_id,
            DecisionVersion.correction_kind.is_not(None),
            DecisionVersion.created_at.between(since, until),
        )
        .group_by(DecisionVersion.correction_kind)
    )
    return dict(session.execute(statement).all())


def import_counts(
    session: Session, prefecture_id: str, since: datetime, until: datetime
) -> tuple[int, int, int]:
    """(imports, lines accepted, lines rejected) of the prefecture's real imports."""
    imports, accepted, rejected = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(DecisionImport.accepted), 0),
            func.coalesce(func.sum(DecisionImport.rejected), 0),
        ).where(
            DecisionImport.prefecture_id == prefecture_id,
            DecisionImport.dry_run.is_(False),
            DecisionImport.created_at.between(since, until),
        )
    ).one()
    return int(imports), int(accepted), int(rejected)
