"""The console's event search, fund page and prefecture page in a real browser (Debian's
Chromium, headless, driven by Playwright), as ``test_browser.py`` runs the console: the
real login, axe-core on each page (no serious or critical violation), no browser error,
the charts drawn, another territory's fund refused, and a screenshot of each page in
``test-artifacts/console/``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from audit.actions import AuditAction, AuditOutcome
from tests.console.browser import Tour
from tests.console.site import PARIS, Site

if TYPE_CHECKING:
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
        tour.page.get_by_role("button", name="Rechercher").click()
        tour.page.wait_for_url("**/console/events?**")
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
