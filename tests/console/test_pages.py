"""The console's event search (filters, paging by log position, exports), a fund's page
and a prefecture's page over HTTP: each shows its territory's data only, refuses and
audits another territory's, and audits what it showed."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import TYPE_CHECKING, Any

import pytest

from audit.actions import AuditAction, AuditOutcome
from gateway import jobs, tenancy
from gateway.auditing.schemas import CSV_COLUMNS
from gateway.auditing.spreadsheet import BOM
from gateway.auditlog.writer import record
from gateway.console import views
from tests.console.test_login import events
from tests.console.test_sessions import logged_in
from tests.support.factories import NIR, decision, identity

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx2
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.settings import Settings
    from tests.console.conftest import Territories, Visit
    from tests.support.actors import Prefecture

ROW = re.compile(r"<tr>\s*<th scope=\"row\">(\d+)</th>")


def checks(
    sessions: sessionmaker[Session],
    fund: str,
    agent: str,
    count: int,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    **detail: Any,
) -> None:
    """``count`` status checks of the fund's ``agent``, as the gateway records them."""
    with sessions.begin() as session:
        for _ in range(count):
            record(
                session,
                AuditAction.STATUS_CHECKED,
                outcome=outcome,
                participant_id=fund,
                acting_for=fund,
                agent_id=agent,
                purpose="residence-regularity-check",
                detail=detail,
            )


def positions(text: str) -> list[int]:
    """The log positions of the events a page's table shows."""
    return [int(found) for found in ROW.findall(text)]


def reader(visit: Callable[..., Visit], territories: Territories, paris: bool = True) -> Visit:
    browser = logged_in(
        visit, territories.paris_subject if paris else territories.marseille_subject
    )
    browser.state_purpose()
    return browser


def test_the_event_search_shows_the_territorys_events_of_an_agent_and_is_audited(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    checks(sessions, territories.paris_fund, "agent-7", 2)
    checks(sessions, territories.paris_fund, "agent-8", 1)
    checks(sessions, territories.marseille_fund, "agent-7", 3)
    jobs.sequence_audit_log(sessions, settings)
    browser = reader(visit, territories)

    answer = browser.get("/console/events", params={"agent": "agent-7"})

    assert answer.status_code == 200, answer.text
    assert len(positions(answer.text)) == 2
    assert answer.text.count("<td>agent-7</td>") == 2
    assert "<td>agent-8</td>" not in answer.text
    assert territories.marseille_fund not in answer.text
    assert "<script>" not in answer.text
    everything = browser.get("/console/events")
    assert everything.text.count("<td>status:checked</td>") == 3
    [searched, _] = events(sessions, AuditAction.CONSOLE_EVENTS_SEARCHED)
    assert searched.outcome == AuditOutcome.SUCCESS
    assert searched.agent_id == territories.paris_person
    assert searched.purpose == "anti-fraud-control"
    assert searched.detail == {
        "page": "events",
        "filters": ["agent"],
        "after_index": -1,
        "shown": 2,
    }


def test_the_event_search_pages_by_log_position(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    checks(sessions, territories.paris_fund, "agent-p", 5)
    jobs.sequence_audit_log(sessions, settings)
    browser = reader(visit, territories)

    seen: list[int] = []
    path = "/console/events?agent=agent-p"
    pages = 0
    while path:
        answer = browser.get(path)
        assert answer.status_code == 200, answer.text
        seen += positions(answer.text)
        pages += 1
        found = re.search(r'href="([^"]+)" rel="next"', answer.text)
        path = html.unescape(found.group(1)) if found else ""
        if found:
            assert "agent=agent-p" in path
            assert re.search(r"after_index=\d+", path)

    assert pages == 3
    assert len(seen) == 5
    assert seen == sorted(set(seen))
    shown = [e.detail for e in events(sessions, AuditAction.CONSOLE_EVENTS_SEARCHED)]
    assert [d["shown"] for d in shown] == [2, 2, 1]
    assert [d["after_index"] for d in shown] == [-1, seen[1], seen[3]]


def test_the_csv_fr_export_reads_back_as_a_french_excel_does(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    checks(sessions, territories.paris_fund, "=agent-formule", 2)
    checks(sessions, territories.paris_fund, "agent-8", 1)
    jobs.sequence_audit_log(sessions, settings)
    browser = reader(visit, territories)
    page = browser.get("/console/events", params={"agent": "=agent-formule"})
    [link] = [
        html.unescape(href)
        for href in re.findall(r'href="([^"]+)"', page.text)
        if "events.csv" in href and "csv-fr" in href
    ]

    answer = browser.get(link)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="console-events-fr.csv"' in answer.headers["content-disposition"]
    text = answer.content.decode("utf-8")
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text[len(BOM) :]), delimiter=";"))
    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == 3
    agent = rows[1][CSV_COLUMNS.index("agent_id")]
    assert agent == "'=agent-formule"  # text, never a formula
    plain = browser.get("/console/events.csv", params={"agent": "agent-8", "format": "csv"})
    plain_rows = list(csv.reader(io.StringIO(plain.text)))
    assert plain_rows[0] == list(CSV_COLUMNS)
    assert [row[CSV_COLUMNS.index("agent_id")] for row in plain_rows[1:]] == ["agent-8"]
    exported = [e.detail for e in events(sessions, AuditAction.CONSOLE_EVENTS_EXPORTED)]
    assert exported == [
        {
            "page": "events-export",
            "format": "csv-fr",
            "filters": ["agent"],
            "after_index": -1,
            "returned": 2,
            "truncated": False,
        },
        {
            "page": "events-export",
            "format": "csv",
            "filters": ["agent"],
            "after_index": -1,
            "returned": 1,
            "truncated": False,
        },
    ]
    assert browser.get("/console/events.csv", params={"format": "xlsx"}).status_code == 400


def test_a_person_is_searched_by_pseudonym_and_their_identifier_is_kept_nowhere(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    settings: Settings,
    prefecture: Prefecture,
) -> None:
    prefecture.created(decision("P-1", identity=identity(agdref_number="7500000001")))
    prefecture.created(decision("P-2", identity=identity(agdref_number="7500000002")))
    jobs.sequence_audit_log(sessions, settings)
    browser = reader(visit, territories)

    in_url = browser.get("/console/events", params={"agdref_number": "7500000001"})
    assert in_url.status_code == 400  # never searched from a URL
    assert "jamais dans l&#39;adresse" in in_url.text
    answer = search(browser, {"agdref_number": "7500000001"})

    assert answer.status_code == 200, answer.text
    assert "no-store" in answer.headers["cache-control"]
    assert answer.text.count("<td>decision:created</td>") == 1
    assert "7500000001" not in answer.text  # not in the form, nor in the links
    assert "personne=agdref%3A" in answer.text
    [refused, _form, searched] = events(sessions, AuditAction.CONSOLE_EVENTS_SEARCHED)
    assert (refused.outcome, refused.detail["field"]) == (AuditOutcome.REFUSED, "agdref_number")
    assert "7500000001" not in str(refused.detail)
    assert refused.subject_pseudonyms == []
    assert searched.detail["filters"] == ["subject"]
    assert "7500000001" not in str(searched.detail)
    assert len(searched.subject_pseudonyms) == 1
    assert searched.subject_pseudonyms[0].startswith("agdref:")
    follow = re.search(r'href="([^"]+events\.csv[^"]+)"', answer.text)
    assert follow is not None
    exported = browser.get(html.unescape(follow.group(1)))
    assert len(list(csv.reader(io.StringIO(exported.text.lstrip(BOM)), delimiter=";"))) == 2


def search(browser: Visit, params: dict[str, str]) -> httpx2.Response:
    """The search form, posted with the page's CSRF token."""
    return browser.post("/console/events", {"csrf": browser.csrf("/console/events"), **params})


def test_a_search_without_its_csrf_token_is_refused(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = reader(visit, territories)
    refused = browser.post("/console/events", {"csrf": "x" * 43, "nir": NIR})
    assert refused.status_code == 403
    [event] = events(sessions, AuditAction.CONSOLE_EVENTS_SEARCHED)
    assert (event.outcome, event.detail["problem"]) == (AuditOutcome.REFUSED, "csrf")
    assert event.subject_pseudonyms == []
    assert NIR not in str(event.detail)


@pytest.mark.parametrize(
    ("params", "field", "label"),
    [
        ({"since": "31/12/2026"}, "since", "Du"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "until", "Au"),
        ({"nir": "123"}, "nir", "NIR d&#39;une personne"),
        ({"agdref_number": "7500000001", "nir": "1"}, "agdref_number", "Numéro AGDREF"),
        ({"departement": "7"}, "departement", "Département"),
        ({"outcome": "maybe"}, "outcome", "Résultat"),
        ({"after_index": "x"}, "after_index", "Position dans le journal"),
    ],
    ids=[
        "date",
        "until-before-since",
        "nir",
        "two-identifiers",
        "departement",
        "outcome",
        "cursor",
    ],
)
def test_a_bad_filter_is_refused_in_french_naming_its_field(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    params: dict[str, str],
    field: str,
    label: str,
) -> None:
    browser = reader(visit, territories)

    answer = search(browser, params)

    assert answer.status_code == 400
    assert f"Le champ « {label}" in answer.text
    assert "n&#39;est pas valide" in answer.text
    assert "7500000001" not in answer.text
    for name, value in params.items():  # the other values given stay in the form
        if name in {"since", "until", "departement"}:
            assert f'value="{value}"' in answer.text
    [_form, refused] = events(sessions, AuditAction.CONSOLE_EVENTS_SEARCHED)
    assert refused.outcome == AuditOutcome.REFUSED
    assert refused.detail["field"] == field
    assert refused.detail["problem"] == "invalid-field"
    assert "7500000001" not in str(refused.detail)
    assert browser.get("/console/events.csv", params=params).status_code == 400


def test_a_funds_page_shows_its_report_and_links_a_flagged_agent_to_the_search(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    prefecture: Prefecture,
) -> None:
    prefecture.created(decision("F-1"))  # owed to the CPAM of Paris
    checks(sessions, territories.paris_fund, "agent-ok", 3, match="strong", identifiers=True)
    checks(
        sessions,
        territories.paris_fund,
        "agent-peche",
        5,
        AuditOutcome.REFUSED,
        rule=tenancy.OUTSIDE_TERRITORY,
    )
    browser = reader(visit, territories)

    answer = browser.get(f"/console/funds/{territories.paris_fund}", params={"days": "90"})

    assert answer.status_code == 200, answer.text
    assert territories.paris_fund in answer.text
    assert "agent-peche" in answer.text
    assert "Vérifications hors territoire" in answer.text
    link = f"/console/events?participant={territories.paris_fund}&amp;agent=agent-peche"
    assert link in answer.text
    assert 'id="graphique-etats-donnees"' in answer.text
    assert "<script>" not in answer.text
    overview = browser.get("/console/overview")
    assert f'href="/console/funds/{territories.paris_fund}"' in overview.text
    [shown] = events(sessions, AuditAction.CONSOLE_FUND_SHOWN)
    assert shown.object_ids == [territories.paris_fund]
    assert shown.detail == {
        "page": "fund",
        "filters": {"days": 90},
        "records_owed": 1,
        "status_checks": 3,
        "fishing_flags": 1,
    }


def test_another_territorys_fund_or_prefecture_is_refused_and_audited(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    prefecture: Prefecture,
) -> None:
    checks(sessions, territories.paris_fund, "agent-secret", 1)
    marseille = reader(visit, territories, paris=False)

    fund = marseille.get(f"/console/funds/{territories.paris_fund}")
    prefecture_page = marseille.get(f"/console/prefectures/{prefecture.id}")
    unknown = marseille.get("/console/funds/nobody<script>")

    for answer in (fund, prefecture_page, unknown):
        assert answer.status_code == 404
        assert "ne relève pas de votre territoire" in answer.text
        assert "agent-secret" not in answer.text
    [refused_fund, refused_unknown] = events(sessions, AuditAction.CONSOLE_FUND_SHOWN)
    assert refused_fund.outcome == AuditOutcome.REFUSED
    assert refused_fund.participant_id == territories.marseille_auditor
    assert refused_fund.detail["problem"] == "not-found"
    assert refused_fund.detail["fund_id"] == territories.paris_fund
    assert refused_fund.object_ids == []
    assert "fund_id" not in refused_unknown.detail  # not a participant's id: not recorded
    [refused_prefecture] = events(sessions, AuditAction.CONSOLE_PREFECTURE_SHOWN)
    assert refused_prefecture.detail["prefecture_id"] == prefecture.id
    assert refused_prefecture.outcome == AuditOutcome.REFUSED


def test_a_prefectures_page_shows_its_decisions_by_kind(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    prefecture: Prefecture,
) -> None:
    prefecture.created(decision("K-1", kind="renewal-refusal"))
    prefecture.created(decision("K-2", kind="renewal-refusal"))
    prefecture.created(decision("K-3", kind="permit-withdrawal"))
    browser = reader(visit, territories)

    overview = browser.get("/console/overview")
    answer = browser.get(f"/console/prefectures/{prefecture.id}")

    assert f'href="/console/prefectures/{prefecture.id}"' in overview.text
    assert answer.status_code == 200, answer.text
    assert re.search(r"Refus de renouvellement</th><td>2</td>", answer.text)
    assert re.search(r"Retrait de titre de séjour</th><td>1</td>", answer.text)
    assert 'id="graphique-decisions-donnees"' in answer.text
    [shown] = events(sessions, AuditAction.CONSOLE_PREFECTURE_SHOWN)
    assert shown.object_ids == [prefecture.id]
    assert shown.detail == {
        "page": "prefecture",
        "filters": {"days": 30},
        "decisions": 3,
        "corrections": 0,
        "imports": 0,
    }
