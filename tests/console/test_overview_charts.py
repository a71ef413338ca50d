"""The overview's charts of delays, acknowledgements and status checks, over HTTP.

Per fund of the territory: the delay from owed to receipt as bands and as a trend (median,
95th percentile per day or week), the share acknowledged within the expected delay, the
records left unacknowledged by age, and the status checks over time and by match level;
each chart's figures in its table too, the API's fund report giving the same; another
territory's fund never counted.
"""

from __future__ import annotations

import html
import itertools
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import literal, select, text, update

from audit.actions import AuditOutcome
from gateway.auditing import service as reports
from gateway.auditing.repository import hours_between, utc_day
from gateway.batches.models import Batch, BatchState, Receipt
from gateway.console import repository
from gateway.console.models import ConsolePerson
from gateway.decisions.models import Decision
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.storage.base import UTCDateTime, utcnow
from gateway.storage.ids import new_id
from tests.console.test_pages import checks, reader
from tests.console.test_sessions import logged_in
from tests.support.actors import auditor_headers, make_prefecture, seal
from tests.support.factories import decision, identity

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings as GatewaySettings
    from tests.console.conftest import Territories, Visit
    from tests.support.actors import Prefecture, Register

# Paris's records: (hours since owed, hours from owed to receipt or None if not received).
PARIS = {
    "P-1": (240, 12),  # a day or less: in time
    "P-2": (240, 48),  # one to three days: in time
    "P-3": (240, 200),  # over seven days: late
    "P-4": (120, None),  # five days, unacknowledged: not yet late
    "P-5": (216, None),  # nine days, unacknowledged: late
    "P-6": (2, None),  # two hours, unacknowledged
    "P-7": (300, None),  # cancelled (below): neither due nor unacknowledged
}
# Marseille's: none of them may show in Paris's figures.
MARSEILLE = {"M-1": (240, 2), "M-2": (240, 2), "M-3": (100, None), "M-4": (300, None)}


def owe(
    sessions: sessionmaker[Session], fund_id: str, records: Mapping[str, tuple[float, float | None]]
) -> None:
    """Date each of the fund's records (one per batch) and record the receipts given."""
    now = utcnow()
    with sessions.begin() as session:
        rows = session.execute(
            select(Disclosure, Decision.reference)
            .join(Decision, Decision.id == Disclosure.decision_id)
            .where(Disclosure.fund_id == fund_id)
        ).all()
        assert sorted(reference for _, reference in rows) == sorted(records)
        for disclosure, reference in rows:
            owed_ago, receipt_after = records[reference]
            disclosure.created_at = now - timedelta(hours=owed_ago)
            if receipt_after is None:
                continue
            assert disclosure.batch_id is not None
            received = disclosure.created_at + timedelta(hours=receipt_after)
            batch = session.get(Batch, disclosure.batch_id)
            assert batch is not None
            assert batch.record_count == 1
            batch.state, batch.acknowledged_at = BatchState.ACKNOWLEDGED, received
            disclosure.state = DisclosureState.ACKNOWLEDGED
            session.add(
                Receipt(
                    batch_id=batch.id,
                    fund_id=fund_id,
                    content=b"receipt",
                    digest="sha-256:receipt",
                    kid=None,
                    received_at=received,
                    recorded_at=received,
                    outcomes={"rights-ended": 1},
                )
            )


@pytest.fixture
def seeded(
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
    territories: Territories,
    prefecture: Prefecture,
    marseille_prefecture: Prefecture,
) -> Territories:
    """Paris's and Marseille's records owed, received or not, and their funds' checks."""
    for reference in PARIS:
        prefecture.created(decision(reference))  # owed to the CPAM of Paris
    for reference in MARSEILLE:
        person = identity(residence_departement="13")
        marseille_prefecture.created(decision(reference, identity=person))
    seal(sessions, gateway_keys, max_records=1)
    owe(sessions, territories.paris_fund, PARIS)
    with sessions.begin() as session:
        cancelled = select(Decision.id).where(Decision.reference == "P-7").scalar_subquery()
        session.execute(
            update(Disclosure)
            .where(Disclosure.decision_id == cancelled)
            .values(state=DisclosureState.CANCELLED)
        )
    owe(sessions, territories.marseille_fund, MARSEILLE)
    paris, marseille = territories.paris_fund, territories.marseille_fund
    for level, count in (("exact", 3), ("strong", 2), ("weak", 1), ("none", 4)):
        checks(sessions, paris, "agent-75", count, match=level, identifiers=level == "exact")
    checks(sessions, paris, "agent-75", 2, AuditOutcome.REFUSED, rule="outside-territory")
    checks(sessions, marseille, "agent-13", 7, match="exact", identifiers=True)
    return territories


@pytest.fixture
def marseille_prefecture(
    client: TestClient, settings: GatewaySettings, participant: Register
) -> Prefecture:
    return make_prefecture(client, settings, participant, departements=["13"], prefix="pref-13")


def chart_data(page: str, chart_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="{chart_id}-donnees">(.*?)</script>', page, re.DOTALL
    )
    assert found is not None, chart_id
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def table_rows(page: str, chart_id: str) -> dict[str, list[str]]:
    """The rows of a chart's table: each row's head and its cells, as shown."""
    start = page.index(f'id="{chart_id}-tableau"')
    body = page[start : page.index("</tbody>", start)]
    rows = re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', body, re.DOTALL)
    return {html.unescape(head): re.findall(r"<td>(.*?)</td>", cells) for head, cells in rows}


def series(data: dict[str, Any]) -> dict[str, list[Any]]:
    return {dataset["label"]: dataset["data"] for dataset in data["datasets"]}


BANDS_FR = ["Moins d'un jour", "De 1 à 3 jours", "De 3 à 7 jours", "7 jours ou plus"]
LEVELS_FR = ["Exacte (identifiant)", "Forte", "Faible", "Aucune", "Conflit d'identité"]


def test_the_overview_charts_each_funds_delays_acknowledgements_and_checks(
    visit: Callable[..., Visit], seeded: Territories
) -> None:
    territories = seeded
    browser = reader(visit, territories)

    answer = browser.get("/console/overview", params={"days": "30"})

    assert answer.status_code == 200, answer.text
    page = answer.text
    assert territories.marseille_fund not in page
    assert "<script>" not in page
    [fund] = table_rows(page, "graphique-etats")  # its rows: the territory's one fund
    # The delay from owed to receipt, in bands: 12 h, 48 h, 200 h.
    bands = chart_data(page, "graphique-repartition-delais")
    assert bands["stacked"] is True
    assert series(bands) == {label: [n] for label, n in zip(BANDS_FR, [1, 1, 0, 1], strict=True)}
    assert table_rows(page, "graphique-repartition-delais") == {fund: ["1", "1", "0", "1"]}
    # Acknowledged within the expected seven days: two of the four due (three received,
    # one nine days old); the five-day-old and two-hour-old ones are not due yet.
    in_time = chart_data(page, "graphique-dans-le-delai")
    assert series(in_time) == {"Accusés dans le délai (%)": [50.0]}
    assert "Part des enregistrements accusés dans le délai attendu de 7 jours (%)" in page
    assert table_rows(page, "graphique-dans-le-delai") == {fund: ["50,0"]}
    assert "50,0 % (2 sur 4)" in page
    # Unacknowledged by age: two hours, five days, nine days; the last is the table's
    # count of records unacknowledged after seven days.
    ages = chart_data(page, "graphique-anciennete")
    assert series(ages) == {label: [n] for label, n in zip(BANDS_FR, [1, 0, 1, 1], strict=True)}
    assert table_rows(page, "graphique-anciennete") == {fund: ["1", "0", "1", "1"]}
    # Status checks by match level (the refused ones matched nothing: not counted).
    by_match = chart_data(page, "graphique-correspondances")
    assert series(by_match) == {
        label: [n] for label, n in zip(LEVELS_FR, [3, 2, 1, 4, 0], strict=True)
    }
    # Trends, per day over 30 days: the three received records were owed ten days ago.
    median = chart_data(page, "graphique-tendance-mediane")
    assert median["type"] == "line"
    owed_day = (utcnow() - timedelta(hours=240)).date()
    labels = median["labels"]
    assert len(labels) == 31
    assert labels[0] == (utcnow() - timedelta(days=30)).date().strftime("%d/%m/%Y")
    [medians] = series(median).values()
    day = labels.index(owed_day.strftime("%d/%m/%Y"))
    assert medians[day] == pytest.approx(48, abs=0.01)
    assert [value for n, value in enumerate(medians) if n != day] == [None] * 30
    [p95s] = series(chart_data(page, "graphique-tendance-p95")).values()
    assert p95s[day] == pytest.approx(48 + 0.9 * (200 - 48), abs=0.01)
    assert table_rows(page, "graphique-tendance-mediane")[labels[day]] == ["48,0"]
    assert table_rows(page, "graphique-tendance-mediane")[labels[0]] == ["—"]
    trend = series(chart_data(page, "graphique-tendance-verifications"))
    assert list(trend) == LEVELS_FR
    assert [sum(counts) for counts in trend.values()] == [3, 2, 1, 4, 0]  # none of Marseille's
    assert trend["Exacte (identifiant)"][-1] == 3  # checked today


def test_the_trends_are_weekly_over_a_longer_period(
    visit: Callable[..., Visit], seeded: Territories
) -> None:
    territories = seeded
    browser = reader(visit, territories)

    page = browser.get("/console/overview", params={"days": "90"}).text

    labels = chart_data(page, "graphique-tendance-mediane")["labels"]
    assert all(label.startswith("Semaine du ") for label in labels)
    assert 13 <= len(labels) <= 14
    mondays = [date(int(d[6:]), int(d[3:5]), int(d[:2])) for d in (lab[-10:] for lab in labels)]
    assert all(monday.weekday() == 0 for monday in mondays)
    [medians] = series(chart_data(page, "graphique-tendance-mediane")).values()
    owed = (utcnow() - timedelta(hours=240)).date()
    week = mondays.index(owed - timedelta(days=owed.weekday()))
    assert medians[week] == pytest.approx(48, abs=0.01)
    assert "chaque semaine" in page


def test_another_territorys_auditor_counts_only_its_own_fund(
    visit: Callable[..., Visit], seeded: Territories
) -> None:
    territories = seeded
    browser = reader(visit, territories, paris=False)

    page = browser.get("/console/overview").text

    assert territories.paris_fund not in page
    bands = series(chart_data(page, "graphique-repartition-delais"))
    assert bands == {label: [n] for label, n in zip(BANDS_FR, [2, 0, 0, 0], strict=True)}
    ages = series(chart_data(page, "graphique-anciennete"))
    assert ages == {label: [n] for label, n in zip(BANDS_FR, [0, 0, 1, 1], strict=True)}
    assert series(chart_data(page, "graphique-dans-le-delai")) == {
        "Accusés dans le délai (%)": [round(100 * 2 / 3, 1)]
    }
    trend = series(chart_data(page, "graphique-tendance-verifications"))
    assert [sum(counts) for counts in trend.values()] == [7, 0, 0, 0, 0]


def test_a_territory_without_funds_has_no_charts(
    visit: Callable[..., Visit],
    territories: Territories,
    participant: Register,
    sessions: sessionmaker[Session],
) -> None:
    corsica = participant("auditor", departements=["2A"], prefix="codaf-2a")
    with sessions.begin() as session:
        issuer = visit().forger.issuer
        person = ConsolePerson(
            id=new_id(),
            issuer=issuer,
            subject="sub-corse",
            auditor_id=corsica.id,
            role="reader",
            created_at=utcnow(),
        )
        repository.add_person(session, person)
    browser = logged_in(visit, "sub-corse")
    browser.state_purpose()

    answer = browser.get("/console/overview")

    assert answer.status_code == 200, answer.text
    assert "Aucune caisse n'est rattachée à votre territoire." in html.unescape(answer.text)
    assert "data-chart" not in answer.text
    assert territories.paris_fund not in answer.text


def test_the_api_fund_report_gives_the_same_figures(
    client: TestClient, settings: GatewaySettings, participant: Register, seeded: Territories
) -> None:
    territories = seeded
    headers = auditor_headers(client, settings, participant, departements=["75"])

    answer = client.get("/v1/audit/reports/funds", headers=headers)

    assert answer.status_code == 200, answer.text
    [row] = answer.json()["funds"]
    assert row["fund_id"] == territories.paris_fund
    assert row["records_by_state"] == {"acknowledged": 3, "sealed": 3, "cancelled": 1}
    assert row["owed_to_receipt_by_band"] == {
        "under_1_day": 1,
        "1_to_3_days": 1,
        "3_to_7_days": 0,
        "7_days_or_more": 1,
    }
    assert (row["acknowledged_in_time"], row["acknowledged_due"]) == (2, 4)
    in_time_bands = ("under_1_day", "1_to_3_days", "3_to_7_days")
    assert row["acknowledged_in_time"] == sum(
        row["owed_to_receipt_by_band"][b] for b in in_time_bands
    )
    assert row["acknowledged_in_time_share"] == 0.5
    assert row["unacknowledged_by_age"] == {
        "under_1_day": 1,
        "1_to_3_days": 0,
        "3_to_7_days": 1,
        "7_days_or_more": 1,
    }
    assert row["unacknowledged"] == row["unacknowledged_by_age"]["7_days_or_more"]
    assert row["status_checks_by_match"] == {
        "exact": 3,
        "strong": 2,
        "weak": 1,
        "none": 4,
        "conflict": 0,
    }
    trends = row["trends"]
    assert trends["step_days"] == 1
    owed_day = trends["starts"].index((utcnow() - timedelta(hours=240)).date().isoformat())
    assert trends["owed_to_receipt_hours_median"][owed_day] == pytest.approx(48, abs=0.01)
    assert sum(trends["status_checks_by_match"]["none"]) == 4
    # A shorter expected delay: only the receipt after 12 hours is in time.
    shorter = client.get(
        "/v1/audit/reports/funds",
        params={"unacknowledged_after_days": 1},
        headers=headers,
    ).json()["funds"][0]
    assert (shorter["acknowledged_in_time"], shorter["acknowledged_due"]) == (1, 5)
    spreadsheet = client.get("/v1/audit/reports/funds", params={"format": "csv"}, headers=headers)
    assert "owed_to_receipt_by_band.under_1_day" in spreadsheet.text
    assert "status_checks_by_match.weak" in spreadsheet.text
    assert "trends" not in spreadsheet.text
    widest = client.get(
        "/v1/audit/reports/funds",
        params={"since": "1900-01-01T00:00:00Z", "until": "9998-12-31T23:59:59Z"},
        headers=headers,
    )
    assert widest.status_code == 200, widest.text
    [whole] = widest.json()["funds"]
    assert len(whole["trends"]["starts"]) <= reports.WEEKLY_BUCKETS + 2
    assert whole["acknowledged_in_time"] == 2
    assert sum(whole["trends"]["status_checks_by_match"]["exact"]) == 3


INSTANTS = st.datetimes(
    # Hypothesis takes naive bounds and gives the zone apart.
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=INSTANTS, end=INSTANTS)
def test_the_database_counts_hours_between_two_times_as_python_does(
    session: Session, start: datetime, end: datetime
) -> None:
    stored = UTCDateTime()
    hours = session.scalar(select(hours_between(literal(start, stored), literal(end, stored))))
    assert hours == pytest.approx((end - start).total_seconds() / 3600, abs=1e-3)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(moment=INSTANTS)
def test_a_time_falls_on_its_utc_day_whatever_the_sessions_time_zone(
    session: Session, moment: datetime
) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL TIME ZONE 'Pacific/Kiritimati'"))  # UTC+14
    day = session.scalar(select(utc_day(literal(moment, UTCDateTime()))))
    assert reports._day(day) == moment.date()  # noqa: SLF001 - as the trends read it


@given(
    since=INSTANTS,
    length=st.one_of(st.sampled_from([7, 30, 31, 32, 90, 365, 420, 421]), st.integers(1, 40_000)),
    offset=st.floats(min_value=0, max_value=1),
)
def test_every_day_of_a_period_falls_in_its_own_bucket(
    since: datetime, length: int, offset: float
) -> None:
    until = since + timedelta(days=length)
    step, starts = reports._buckets(since, until)  # noqa: SLF001 - the bucketing itself
    if length <= 31:
        assert step == 1
    elif length <= 7 * reports.WEEKLY_BUCKETS:  # a year: weekly
        assert step == 7
    else:
        assert step % 7 == 0
    assert len(starts) <= reports.WEEKLY_BUCKETS + 2
    assert starts[0] <= since.date() < starts[0] + timedelta(days=step)
    assert starts[-1] <= until.date() < starts[-1] + timedelta(days=step)
    assert all(
        later - earlier == timedelta(days=step) for earlier, later in itertools.pairwise(starts)
    )
    day: date = (since + (until - since) * offset).date()
    assert any(start <= day < start + timedelta(days=step) for start in starts)
