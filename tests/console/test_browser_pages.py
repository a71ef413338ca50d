"""The console's event search, fund page and prefecture page in a real browser (Debian's
Chromium, headless, driven by Playwright), as ``test_browser.py`` runs the console: the
real login, axe-core on each page (no serious or critical violation), no browser error,
the charts drawn, another territory's fund refused, and a screenshot of each page in
``test-artifacts/console/``."""

from __future__ import annotations

import base64
import codecs
import csv
import io
import json
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from audit import merkle
from audit.actions import AuditAction, AuditOutcome
from audit.checkpoints import checkpoint_keys, open_note
from gateway import jobs
from gateway.auditing.schemas import CSV_COLUMNS
from gateway.auditing.spreadsheet import unguarded
from gateway.settings import Settings
from tests.console.browser import Tour
from tests.console.site import PARIS, ROOT, Site
from tests.support.database import sessions_on

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow


def charts_drawn(tour: Tour) -> list[bool]:
    drawn: list[bool] = tour.page.evaluate(
        "Array.from(document.querySelectorAll('canvas[data-chart]'))"
        ".map(c => Chart.getChart(c) !== undefined)"
    )
    return drawn


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def test_the_search_fund_and_prefecture_pages_in_a_browser(chromium: Browser, site: Site) -> None:
    started = site.last_event_id()
    tour = Tour(chromium, site)
    try:
        tour.login(PARIS)
        tour.state_purpose()

        tour.page.get_by_role("link", name="Recherche d'événements").first.click()
        tour.page.wait_for_url("**/console/events")
        tour.check("evenements")
        tour.page.fill("#filtre-departement", "7")
        bad_search = tour.submit("Rechercher", "/console/events")
        assert bad_search.status == 400
        assert "Le champ « Département » n'est pas valide." in tour.page.content()
        tour.check("evenements-erreur")

        tour.page.goto(site.base_url + "/console/overview")
        fund = site.paris_funds[0]
        tour.page.locator(f"a[href='/console/funds/{fund}']").click()
        tour.page.wait_for_url(f"**/console/funds/{fund}")
        assert charts_drawn(tour) == [True, True]
        tour.check("caisse")

        tour.page.goto(site.base_url + "/console/overview")
        tour.page.locator("a[href^='/console/prefectures/']").first.click()
        tour.page.wait_for_url("**/console/prefectures/**")
        assert charts_drawn(tour) == [True, True]
        assert "Refus de renouvellement" in tour.page.content()
        tour.check("prefecture")

        tour.page.get_by_role("link", name="Preuves").first.click()
        tour.page.wait_for_url("**/console/evidence")
        assert "Preuves : le journal d" in tour.page.content()
        tour.check("preuves")

        refused = tour.page.goto(site.base_url + f"/console/funds/{site.marseille_funds[0]}")
        assert refused is not None
        assert refused.status == 404
        tour.check("caisse-autre-territoire")
    finally:
        tour.close()

    [shown, refused_event] = site.events(AuditAction.CONSOLE_FUND_SHOWN, since_id=started)
    assert (shown.outcome, shown.object_ids) == (AuditOutcome.SUCCESS, [fund])
    assert shown.detail["records_owed"] == 3  # the three decisions of the site
    assert refused_event.outcome == AuditOutcome.REFUSED
    assert refused_event.detail["fund_id"] == site.marseille_funds[0]
    [prefecture] = site.events(AuditAction.CONSOLE_PREFECTURE_SHOWN, since_id=started)
    assert prefecture.detail["decisions"] == 3
    searches = site.events(AuditAction.CONSOLE_EVENTS_SEARCHED, since_id=started)
    assert [e.outcome for e in searches] == [AuditOutcome.SUCCESS, AuditOutcome.REFUSED]


LOCALE = json.loads((ROOT / "gateway/console/locales/fr.json").read_text(encoding="utf-8"))
PERSON = "7500000000"  # the site's first decision, CONSOLE-0, is about them


def french_value(cell: str) -> int | float | str:
    """A cell as a French Excel takes it: a whole number, a decimal with its comma, or text."""
    if re.fullmatch(r"-?\d+", cell):
        return int(cell)
    if re.fullmatch(r"-?\d+,\d+", cell):
        return float(cell.replace(",", "."))
    assert not re.fullmatch(r"-?\d+\.\d+", cell), f"{cell}: a decimal point, text to Excel"
    return unguarded(cell)


def as_french_excel_reads(raw: bytes) -> list[dict[str, Any]]:
    """A ``csv-fr`` download: UTF-8 after its byte-order mark, ``;`` between cells."""
    assert raw.startswith(codecs.BOM_UTF8)  # else Excel reads the accents as Windows-1252
    text = raw[len(codecs.BOM_UTF8) :].decode("utf-8")
    first_line = text.split("\r\n", 1)[0]
    assert first_line.split(";") == list(CSV_COLUMNS)  # the list separator of a French Excel
    [header, *rows] = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    return [dict(zip(header, map(french_value, row), strict=True)) for row in rows]


def as_a_script_reads(raw: bytes) -> list[dict[str, str]]:
    """A ``csv`` download: RFC 4180, UTF-8 without a byte-order mark, ``,`` between cells."""
    assert not raw.startswith(codecs.BOM_UTF8)
    [header, *rows] = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""))
    assert tuple(header) == CSV_COLUMNS
    return [dict(zip(header, row, strict=True)) for row in rows]


def as_the_page_shows(row: dict[str, Any]) -> list[str]:
    """An exported event as a row of the search's table."""
    none = LOCALE["value.none"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", row["occurred_at"])
    return [
        str(row["leaf_index"]),
        row["occurred_at"][:19].replace("T", " "),
        row["action"],
        LOCALE["outcome." + row["outcome"]],
        *(row[name] or none for name in ("participant_id", "acting_for", "agent_id", "purpose")),
        str(len(json.loads(row["subject_pseudonyms"]))),
    ]


def shown_rows(tour: Tour) -> list[list[str]]:
    rows: list[list[str]] = tour.page.eval_on_selector_all(
        "#tableau-evenements tbody tr",
        "rows => rows.map(r => Array.from(r.children).map(c => c.textContent.trim()))",
    )
    return rows


def verified_offline(raw: bytes, jwks: dict[str, Any]) -> dict[str, Any]:
    """A proof download checked with the public JWKS alone: the checkpoint's signature,
    then the event's leaf at its place in the signed tree."""
    document = json.loads(raw)
    note = open_note(document["checkpoint"], checkpoint_keys(jwks))
    inclusion: dict[str, Any] = document["inclusion"]
    assert inclusion["tree_size"] == note.tree_size
    path = [base64.b64decode(node) for node in inclusion["proof"]]
    leaf = merkle.leaf_hash(inclusion["leaf"].encode())
    assert merkle.verify_inclusion(
        leaf, inclusion["leaf_index"], note.tree_size, path, note.root_hash
    )
    altered = merkle.leaf_hash(inclusion["leaf"].replace('"success"', '"refused"').encode())
    assert not merkle.verify_inclusion(
        altered, inclusion["leaf_index"], note.tree_size, path, note.root_hash
    )
    return inclusion


def proof_downloaded(tour: Tour, site: Site, event_id: str) -> dict[str, Any]:
    """The event's proof on the evidence page, downloaded and checked offline."""
    tour.page.goto(site.base_url + "/console/evidence")
    tour.page.fill("#evenement", event_id)
    tour.page.get_by_role("button", name=LOCALE["evidence.proof.submit"]).click()
    tour.page.wait_for_url("**/console/evidence?event=*")
    assert tour.page.locator("#preuve-verifiee").is_visible()
    tour.check("preuves-evenement")
    raw = tour.download(tour.page.locator("#telecharger-preuve"))
    jwks = httpx.get(site.base_url + "/.well-known/jwks.json", timeout=10).json()
    proof = verified_offline(raw, jwks)
    assert json.loads(proof["leaf"])["event_id"] == event_id
    return proof


def a_person_searched(tour: Tour, site: Site) -> None:
    """A search by AGDREF number: posted, its page not kept, its links by pseudonym."""
    tour.page.goto(site.base_url + "/console/events")
    tour.page.fill("#filtre-agdref_number", PERSON)
    person_search = tour.submit("Rechercher", "/console/events")
    assert person_search.status == 200
    assert person_search.headers["cache-control"] == "no-store"
    assert [row[2] for row in shown_rows(tour)] == ["decision:created"]
    tour.check("evenements-personne")
    exports = tour.page.locator("a[href*='events.csv']")
    hrefs = [exports.nth(i).get_attribute("href") or "" for i in range(exports.count())]
    assert len(hrefs) == 2
    assert all("personne=agdref" in href and PERSON not in href for href in hrefs)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def test_the_searchs_exports_and_an_events_proof_downloaded_and_read_back(
    chromium: Browser, site: Site, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=site.served.database_url,
        key_dir=tmp_path / "keys",
        public_base_url=site.base_url,
    )
    with sessions_on(site.served.database_url) as sessions:
        assert jobs.sign_audit_checkpoint(sessions, settings) > 0  # the decisions, logged
    started = site.last_event_id()
    prefecture = site.served.clients["prefecture"].id
    tour = Tour(chromium, site)
    visited: list[str] = []
    tour.page.on("request", lambda request: visited.append(request.url))
    try:
        tour.login(PARIS)
        tour.state_purpose()
        tour.page.goto(site.base_url + "/console/events")
        tour.page.fill("#filtre-participant", prefecture)
        assert tour.submit("Rechercher", "/console/events").status == 200
        shown = shown_rows(tour)
        tour.check("evenements-prefecture")
        french = as_french_excel_reads(
            tour.download(tour.page.get_by_role("link", name=LOCALE["events.export.csv-fr"]))
        )
        plain = as_a_script_reads(
            tour.download(tour.page.get_by_role("link", name=LOCALE["events.export.csv"]))
        )

        assert [as_the_page_shows(row) for row in french] == shown
        assert [row["action"] for row in french].count("decision:created") == 3
        assert all(isinstance(row[n], int) for row in french for n in ("id", "leaf_index"))
        assert [{k: str(v) for k, v in row.items()} for row in french] == plain

        event_id = str(french[0]["event_id"])
        proof = proof_downloaded(tour, site, event_id)
        assert proof["leaf"] == french[0]["leaf"]  # the bytes the export gave
        a_person_searched(tour, site)
    finally:
        tour.close()

    assert not [url for url in visited if PERSON in url]  # no URL, no history entry
    exported = site.events(AuditAction.CONSOLE_EVENTS_EXPORTED, since_id=started)
    assert [(e.detail["format"], e.detail["returned"]) for e in exported] == [
        ("csv-fr", len(shown)),
        ("csv", len(shown)),
    ]
    [proved] = site.events(AuditAction.CONSOLE_EVIDENCE_EXPORTED, since_id=started)
    assert proved.object_ids == [event_id]
    *_, searched = site.events(AuditAction.CONSOLE_EVENTS_SEARCHED, since_id=started)
    assert searched.detail["filters"] == ["subject"]
    assert searched.subject_pseudonyms != []
    assert PERSON not in json.dumps(searched.detail)
