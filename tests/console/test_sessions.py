"""The console's sessions and pages over HTTP: the purpose before any data, CSRF tokens
and origins on every form, idle and absolute limits, logout, the territory's overview and
its audit event, the security headers, the vendored files, the console off by default."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from audit.actions import AuditAction, AuditOutcome
from gateway.console import ConsoleNotInstallable, vendored_folders
from gateway.console.models import ConsoleSession
from gateway.settings import Environment, Settings
from gateway.storage.base import utcnow
from tests.console.conftest import SESSION_COOKIE
from tests.console.test_login import events

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.console.conftest import Territories, Visit


def logged_in(visit: Callable[..., Visit], subject: str, **settings: object) -> Visit:
    browser = visit(**settings)
    assert browser.login(subject).status_code == 303
    return browser


def test_data_waits_for_a_purpose_from_the_policys_list(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = logged_in(visit, territories.paris_subject)

    before = browser.get("/console/overview")
    assert (before.status_code, before.headers["location"]) == (303, "/console/purpose")
    form = browser.get("/console/purpose")
    assert "anti-fraud-control" in form.text
    assert "data-subject-request" in form.text
    refused = browser.post(
        "/console/purpose", {"csrf": browser.csrf(), "purpose": "residence-regularity-check"}
    )
    assert refused.status_code == 403
    stated = browser.state_purpose()
    assert (stated.status_code, stated.headers["location"]) == (303, "/console/overview")
    assert browser.get("/console/overview").status_code == 200

    outcomes = [
        (e.outcome, e.purpose, e.detail.get("problem"))
        for e in events(sessions, AuditAction.CONSOLE_PURPOSE_STATED)
    ]
    assert outcomes == [
        (AuditOutcome.REFUSED, None, "purpose-not-allowed"),
        (AuditOutcome.SUCCESS, "anti-fraud-control", None),
    ]
    first_try = events(sessions, AuditAction.CONSOLE_OVERVIEW_SHOWN)[0]
    assert (first_try.outcome, first_try.detail["problem"]) == (
        AuditOutcome.REFUSED,
        "purpose-required",
    )


@pytest.mark.parametrize(
    ("form", "origin"),
    [
        ({}, "http://testserver"),
        ({"csrf": "forged"}, "http://testserver"),
        ({"csrf": None}, "https://evil.example"),
        ({"csrf": None}, None),
    ],
    ids=["no-token", "wrong-token", "other-origin", "no-origin"],
)
def test_a_post_without_its_csrf_token_or_from_elsewhere_is_refused(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    form: dict[str, str | None],
    origin: str | None,
) -> None:
    browser = logged_in(visit, territories.paris_subject)
    token = browser.csrf()
    data = {"purpose": "anti-fraud-control"}
    if "csrf" in form:
        data["csrf"] = form["csrf"] or token

    answer = browser.post("/console/purpose", data, origin=origin)
    logout = browser.post("/console/logout", data, origin=origin)

    assert (answer.status_code, logout.status_code) == (403, 403)
    with sessions() as session:
        [kept] = session.scalars(select(ConsoleSession)).all()
    assert kept.purpose is None  # nothing changed, the session still open
    [event] = events(sessions, AuditAction.CONSOLE_PURPOSE_STATED)
    assert (event.outcome, event.detail["problem"]) == (AuditOutcome.REFUSED, "csrf")
    assert event.agent_id == territories.paris_person


def test_an_idle_session_ends(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = logged_in(visit, territories.paris_subject, console_idle_timeout_seconds=60)
    browser.state_purpose()
    assert browser.get("/console/overview").status_code == 200
    with sessions.begin() as session:
        session.execute(
            update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(seconds=61))
        )

    answer = browser.get("/console/overview")

    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/console/?notice=session_ended",
    )
    assert "Votre session a pris fin" in browser.get(answer.headers["location"]).text
    last = events(sessions, AuditAction.CONSOLE_OVERVIEW_SHOWN)[-1]
    assert (last.outcome, last.detail["problem"]) == (AuditOutcome.REFUSED, "session-idle")


def test_a_session_ends_at_its_absolute_lifetime_however_busy(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = logged_in(visit, territories.paris_subject)
    browser.state_purpose()
    with sessions.begin() as session:
        session.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))

    answer = browser.get("/console/overview")

    assert answer.status_code == 303
    last = events(sessions, AuditAction.CONSOLE_OVERVIEW_SHOWN)[-1]
    assert last.detail["problem"] == "session-expired"


def test_logout_ends_the_session_here(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = logged_in(visit, territories.paris_subject)
    stolen = dict(browser.cookies)
    answer = browser.post("/console/logout", {"csrf": browser.csrf()})

    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/console/?notice=logged_out",
    )
    assert SESSION_COOKIE not in browser.cookies
    with sessions() as session:
        assert session.scalars(select(ConsoleSession)).all() == []
    browser.cookies = stolen  # the old cookie, replayed
    assert browser.get("/console/overview").headers["location"] == "/console/"
    [event] = events(sessions, AuditAction.CONSOLE_LOGOUT)
    assert (event.outcome, event.participant_id) == (
        AuditOutcome.SUCCESS,
        territories.paris_auditor,
    )


def test_the_overview_shows_the_territorys_funds_only_and_is_audited(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    paris = logged_in(visit, territories.paris_subject)
    paris.state_purpose()
    marseille = logged_in(visit, territories.marseille_subject)
    marseille.state_purpose("data-subject-request")

    seen_in_paris = paris.get("/console/overview", params={"days": "90"})
    seen_in_marseille = marseille.get("/console/overview")

    assert territories.paris_fund in seen_in_paris.text
    assert territories.marseille_fund not in seen_in_paris.text
    assert territories.marseille_fund in seen_in_marseille.text
    assert territories.paris_fund not in seen_in_marseille.text
    assert 'type="application/json"' in seen_in_paris.text
    assert "<script>" not in seen_in_paris.text  # no inline script
    shown = {e.participant_id: e for e in events(sessions, AuditAction.CONSOLE_OVERVIEW_SHOWN)}
    assert shown[territories.paris_auditor].object_ids == [territories.paris_fund]
    assert shown[territories.paris_auditor].agent_id == territories.paris_person
    assert shown[territories.paris_auditor].purpose == "anti-fraud-control"
    assert shown[territories.paris_auditor].detail == {
        "page": "overview",
        "filters": {"days": 90},
        "funds": 1,
        "records_owed": 0,
        "fishing_flags": 0,
    }
    assert shown[territories.marseille_auditor].object_ids == [territories.marseille_fund]
    assert shown[territories.marseille_auditor].purpose == "data-subject-request"


def test_a_period_outside_the_list_is_refused(
    visit: Callable[..., Visit], territories: Territories
) -> None:
    browser = logged_in(visit, territories.paris_subject)
    browser.state_purpose()

    assert browser.get("/console/overview", params={"days": "3650"}).status_code == 400
    assert browser.get("/console/overview", params={"days": "x"}).status_code == 400


def test_every_console_answer_carries_the_security_headers(
    visit: Callable[..., Visit], territories: Territories
) -> None:
    browser = logged_in(visit, territories.paris_subject)
    browser.state_purpose()
    for path in ("/console/", "/console/purpose", "/console/overview"):
        answer = browser.get(path)
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert browser.get("/console/overview").headers["cache-control"] == "no-store"


def test_the_design_system_and_charts_are_served_from_the_installed_packages(
    visit: Callable[..., Visit],
) -> None:
    browser = visit()
    css = browser.get("/console/vendor/dsfr/dsfr.min.css")
    chart = browser.get("/console/vendor/chart.js/chart.umd.min.js")
    own = browser.get("/console/static/console.js")

    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert chart.status_code == 200
    assert own.status_code == 200
    assert css.headers["cache-control"] == "no-cache"
    assert browser.get("/console/vendor/dsfr/../../package.json").status_code == 404
    home = browser.get("/console/").text
    assert "https://" not in home.split("<body>")[0]  # no CDN in the page's head


def test_the_console_is_off_until_its_provider_is_set(client: TestClient) -> None:
    assert client.get("/console/").status_code == 404
    assert client.get("/console/vendor/dsfr/dsfr.min.css").status_code == 404


def test_a_console_without_its_front_end_files_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConsoleNotInstallable, match="make frontend"):
        vendored_folders(tmp_path)


def test_production_refuses_a_console_over_plain_http() -> None:
    def production(issuer: str, *, secure: bool = True) -> Settings:
        return Settings(
            environment=Environment.PRODUCTION,
            console_oidc_issuer=issuer,
            console_oidc_client_id="console",
            console_secure_cookies=secure,
        )

    with pytest.raises(ValidationError, match="https:// URL in production"):
        production("http://idp.example")
    with pytest.raises(ValidationError, match="cannot be false in production"):
        production("https://idp.example", secure=False)
    assert production("https://idp.example").console_enabled
    assert not Settings(environment=Environment.PRODUCTION).console_enabled
