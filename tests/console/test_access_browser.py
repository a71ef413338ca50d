"""A person's access report under dual control in a real browser: two people of the Paris
auditor, each in their own browser context, logging in through the real OpenID provider;
one asks, the other approves, the first reads the report. axe-core on each page and a
screenshot of each in ``test-artifacts/console/``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from audit.actions import AuditAction, AuditOutcome
from gateway.console import repository
from tests.console.browser import Tour
from tests.console.site import PARIS, UNMAPPED, Site, mapped_person
from tests.support.database import sessions_on

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow
APPROVER = UNMAPPED  # the provider's third account, mapped here as Paris's approver
PERSON = "7500000000"  # the site's first decision, CONSOLE-0, is about them


def map_approver(served: Site) -> str:
    """What the operator does: the provider's third account, an approver of Paris."""
    with sessions_on(served.served.database_url) as sessions, sessions.begin() as session:
        auditor = served.served.clients["codaf_75"].id
        person = mapped_person(served.issuer, APPROVER, auditor, "approver")
        repository.add_person(session, person)
        return person.id


def for_data_subject_requests(tour: Tour, login: str) -> None:
    tour.login(login)
    tour.page.wait_for_url("**/console/purpose")
    tour.page.locator("input[value=data-subject-request]").check(force=True)
    tour.page.click("button:has-text('Continuer')")
    tour.page.wait_for_url("**/console/overview")
    tour.page.get_by_role("link", name="Rapports d'accès d'une personne").click()
    tour.page.wait_for_url("**/console/access")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_two_people_ask_approve_and_read_a_persons_access_report(
    chromium: Browser,
    site: Site,
) -> None:
    approver_id = map_approver(site)
    asker, approver = Tour(chromium, site), Tour(chromium, site)
    visited: list[str] = []
    asker.page.on("request", lambda request: visited.append(request.url))
    try:
        for_data_subject_requests(asker, PARIS)
        asker.check("acces-demande")
        asker.page.fill("#reference", "DPO-2026-7")
        asker.page.locator("#identifiant-agdref").check(force=True)
        asker.page.fill("#numero", PERSON)
        posted = asker.submit("Demander le rapport", "/console/access")
        assert posted.status == 303  # posted with its CSRF token, then the list
        assert asker.page.url == site.base_url + "/console/access"
        assert "En attente d'approbation" in asker.page.locator("#tableau-demandes").inner_text()

        for_data_subject_requests(approver, APPROVER)
        pending = approver.page.locator("#tableau-a-decider").inner_text()
        assert "DPO-2026-7" in pending
        assert site.people[PARIS] in pending
        assert PERSON not in approver.page.content()
        approver.check("acces-approbation")
        approver.page.get_by_role("button", name="Approuver").click()
        approver.page.wait_for_url("**/console/access")
        assert approver.page.locator("#tableau-a-decider").count() == 0

        asker.page.reload()
        with asker.page.expect_response("**/console/access/*") as opened:
            asker.page.get_by_role("link", name="Voir le rapport").click()
        asker.page.wait_for_url("**/console/access/*")
        assert opened.value.headers["cache-control"] == "no-store"  # kept by no browser
        shown = asker.page.content()
        assert "CONSOLE-0" in shown
        assert "CONSOLE-1" not in shown
        assert all(fund in shown for fund in site.paris_funds)
        asker.check("acces-rapport")
    finally:
        asker.close()
        approver.close()

    assert visited
    assert not [url for url in visited if PERSON in url]  # in no URL, so in no history

    [asked] = site.events(AuditAction.CONSOLE_ACCESS_ASKED)
    [approved] = site.events(AuditAction.CONSOLE_ACCESS_APPROVED)
    [viewed] = site.events(AuditAction.CONSOLE_ACCESS_VIEWED)
    assert (asked.agent_id, approved.agent_id, viewed.agent_id) == (
        site.people[PARIS],
        approver_id,
        site.people[PARIS],
    )
    assert viewed.outcome == AuditOutcome.SUCCESS
    assert viewed.subject_pseudonyms == asked.subject_pseudonyms != []
