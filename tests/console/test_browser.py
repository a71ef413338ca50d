"""The console in a real browser: Debian's Chromium, headless, driven by Playwright, logging
in through the real login and consent pages of ``oidc-provider`` (run with Node), against
a gateway served in its own process on SQLite and on PostgreSQL.

On every console page: axe-core (from node_modules, evaluated in the page) finds no
serious or critical violation, the browser reports no error (a CSP violation is one), and
a screenshot is written to ``test-artifacts/console/`` (kept by CI), named by page.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from audit.actions import AuditAction, AuditOutcome
from gateway.storage import migrate
from tests.console.browser import Tour
from tests.console.site import ARTIFACTS, MARSEILLE, PARIS, UNMAPPED, Site, console_site

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow
IDLE_SECONDS = 2


def an_auditor_logs_in_sees_the_territorys_funds_and_logs_out(tour: Tour, site: Site) -> None:
    started = site.last_event_id()
    home = tour.page.goto(site.base_url + "/console/")
    assert home is not None
    assert "default-src 'self'" in home.headers["content-security-policy"]
    tour.check("accueil")

    tour.login(PARIS)
    tour.check("finalite")
    tour.state_purpose()
    tour.check("vue-ensemble")

    shown = tour.funds_shown()
    assert all(fund in shown for fund in site.paris_funds)
    assert not any(fund in shown for fund in site.marseille_funds)
    drawn = tour.page.evaluate(
        "Array.from(document.querySelectorAll('canvas[data-chart]'))"
        ".map(c => [c.id, Chart.getChart(c) === undefined ? null : Chart.getChart(c).config.type])"
    )
    assert drawn == [
        ["graphique-etats", "bar"],
        ["graphique-delais", "bar"],
        ["graphique-repartition-delais", "bar"],
        ["graphique-tendance-mediane", "line"],
        ["graphique-tendance-p95", "line"],
        ["graphique-tendance-verifications", "bar"],
        ["graphique-dans-le-delai", "bar"],
        ["graphique-anciennete", "bar"],
        ["graphique-correspondances", "bar"],
    ]
    assert tour.page.locator("canvas").first.is_visible()
    cookies = {c["name"]: c for c in tour.context.cookies()}
    session = cookies["__Host-console-session"]
    assert (session["httpOnly"], session["secure"], session["sameSite"]) == (True, True, "Lax")

    tour.page.get_by_role("button", name="Se déconnecter").click()
    tour.page.wait_for_url("**/console/?notice=logged_out")
    assert "Vous êtes déconnecté" in tour.page.content()
    tour.check("deconnexion")
    assert "__Host-console-session" not in {c["name"] for c in tour.context.cookies()}

    [overview] = site.events(AuditAction.CONSOLE_OVERVIEW_SHOWN, since_id=started)
    assert overview.agent_id == site.people[PARIS]
    assert sorted(overview.object_ids) == sorted(site.paris_funds)
    assert overview.detail["records_owed"] == 6  # three decisions, owed to each fund
    assert [e.outcome for e in site.events(AuditAction.CONSOLE_LOGOUT, since_id=started)] == [
        AuditOutcome.SUCCESS
    ]


def an_auditor_of_another_territory_sees_none_of_them(tour: Tour, site: Site) -> None:
    tour.login(MARSEILLE)
    tour.state_purpose()
    tour.check("vue-ensemble-autre-territoire")

    shown = tour.funds_shown()
    assert not any(fund in shown for fund in site.paris_funds)
    assert all(fund in shown for fund in site.marseille_funds)
    assert "Aucun" not in shown


def a_person_nobody_mapped_is_refused_and_shown_nothing(tour: Tour, site: Site) -> None:
    started = site.last_event_id()
    tour.login(UNMAPPED)

    assert "Accès refusé" in tour.page.content()
    assert tour.page.locator("table").count() == 0
    tour.check("refus")
    assert "__Host-console-session" not in {c["name"] for c in tour.context.cookies()}
    [event] = site.events(AuditAction.CONSOLE_LOGIN, since_id=started)
    assert (event.outcome, event.detail["problem"]) == (AuditOutcome.REFUSED, "unmapped")


def a_replayed_callback_is_refused_and_audited(tour: Tour, site: Site) -> None:
    started = site.last_event_id()
    tour.login(PARIS)
    tour.state_purpose()
    [callback] = tour.callbacks

    answer = tour.page.goto(callback)

    assert answer is not None
    assert answer.status == 400
    assert "Accès refusé" in tour.page.content()
    outcomes = [
        (e.outcome, e.detail.get("problem"))
        for e in site.events(AuditAction.CONSOLE_LOGIN, since_id=started)
    ]
    assert outcomes == [(AuditOutcome.SUCCESS, None), (AuditOutcome.REFUSED, "unknown-login")]


def another_attempts_state_is_refused_and_audited(tour: Tour, site: Site) -> None:
    """The provider answers an earlier attempt (another tab's): its state is not the one
    this browser's attempt holds, so the answer is refused and no session opened."""
    started = site.last_event_id()
    tour.page.goto(site.base_url + "/console/login")
    tour.page.wait_for_url(site.issuer + "/interaction/**")
    earlier = tour.page.url
    tour.page.goto(site.base_url + "/console/login")  # a second attempt replaces the first
    tour.page.wait_for_url(site.issuer + "/interaction/**")
    tour.page.goto(earlier)
    tour.sign_in(PARIS)

    assert "Accès refusé" in tour.page.content()
    assert "__Host-console-session" not in {c["name"] for c in tour.context.cookies()}
    [event] = site.events(AuditAction.CONSOLE_LOGIN, since_id=started)
    assert (event.outcome, event.detail["problem"]) == (AuditOutcome.REFUSED, "bad-state")


def a_post_without_its_csrf_token_is_refused(tour: Tour, site: Site) -> None:
    tour.login(PARIS)
    tour.state_purpose()
    tour.page.evaluate("document.querySelector('input[name=csrf]').remove()")
    tour.page.get_by_role("button", name="Se déconnecter").click()
    tour.page.wait_for_load_state()

    assert "Le formulaire a expiré" in tour.page.content()
    tour.check("refus-csrf")
    assert tour.page.goto(site.base_url + "/console/overview") is not None
    assert tour.page.url.endswith("/console/overview")  # still logged in


def a_browser_without_javascript_reads_the_overview(browser: Browser, site: Site) -> None:
    tour = Tour(browser, site, javascript=False)
    try:
        tour.login(PARIS)
        tour.state_purpose()
        shown = tour.funds_shown()
        assert all(fund in shown for fund in site.paris_funds)
        # Each chart's figures are in its table, which needs no script.
        assert tour.page.locator("#graphique-etats-tableau tbody tr").count() == 2
        assert not tour.page.locator("canvas").first.is_visible()  # no empty chart
        shot = ARTIFACTS / f"vue-ensemble-sans-javascript-{site.backend}.png"
        tour.page.screenshot(path=shot, full_page=True)
    finally:
        tour.close()


# What reads the database in each scene differs by backend; the refusals are the same on
# both, and proven on both over HTTP (test_login.py, test_sessions.py): in the browser, once.
SCENES = {
    "sqlite": (
        an_auditor_logs_in_sees_the_territorys_funds_and_logs_out,
        an_auditor_of_another_territory_sees_none_of_them,
        a_person_nobody_mapped_is_refused_and_shown_nothing,
        a_replayed_callback_is_refused_and_audited,
        another_attempts_state_is_refused_and_audited,
        a_post_without_its_csrf_token_is_refused,
    ),
    "postgresql": (
        an_auditor_logs_in_sees_the_territorys_funds_and_logs_out,
        an_auditor_of_another_territory_sees_none_of_them,
    ),
}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def test_the_console_in_a_browser(chromium: Browser, site: Site) -> None:
    """Each scene in a browser context of its own (its own cookies), on one served gateway."""
    for scene in SCENES[site.backend]:
        tour = Tour(chromium, site)
        try:
            scene(tour, site)
        finally:
            tour.close()
    if site.backend == "sqlite":
        a_browser_without_javascript_reads_the_overview(chromium, site)


@pytest.fixture
def short_idle_site(tmp_path: Path) -> Iterator[Site]:
    """A console whose sessions end after two idle seconds (SQLite, no decisions)."""
    url = f"sqlite:///{tmp_path / 'console.db'}"
    migrate.upgrade(url)
    env = {"GATEWAY_CONSOLE_IDLE_TIMEOUT_SECONDS": str(IDLE_SECONDS)}
    with console_site(url, tmp_path, "sqlite", decisions=0, **env) as served:
        yield served


def test_an_idle_session_ends(chromium: Browser, short_idle_site: Site) -> None:
    tour = Tour(chromium, short_idle_site)
    try:
        tour.login(PARIS)
        tour.page.wait_for_url("**/console/purpose")
        time.sleep(IDLE_SECONDS + 1)
        tour.page.reload()

        assert tour.page.url.endswith("/console/")
        tour.page.goto(short_idle_site.base_url + "/console/overview")
        assert tour.page.url.endswith("/console/?notice=session_ended")
        assert "Votre session a pris fin" in tour.page.content()
        tour.check("fin-de-session")
    finally:
        tour.close()
