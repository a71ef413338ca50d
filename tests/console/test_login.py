"""Login to the console over HTTP, against a provider whose answers the tests forge: a
valid login opens a session; every forged or replayed answer is refused, shows nothing
and is audited with the rule it broke."""

from __future__ import annotations

import html
import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import select

from audit.actions import AuditAction, AuditOutcome
from gateway.auditlog.models import AuditEvent
from gateway.console.models import ConsoleLogin, ConsoleSession
from gateway.console.service import digest
from tests.console.conftest import LOGIN_COOKIE, SESSION_COOKIE, Visit, console_overrides
from tests.console.forger import Forger
from tests.support.processes import free_port

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from tests.console.conftest import Territories


def events(sessions: sessionmaker[Session], action: AuditAction) -> list[AuditEvent]:
    with sessions() as session:
        statement = select(AuditEvent).where(AuditEvent.action == str(action))
        return list(session.scalars(statement.order_by(AuditEvent.id)))


def test_a_mapped_person_logs_in_with_a_session_cookie_the_database_only_knows_hashed(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = visit()
    answer = browser.login(territories.paris_subject)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/purpose"
    cookie = next(c for c in browser.set_cookies if c.startswith(SESSION_COOKIE + "="))
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= attributes
    assert not any(a.startswith("domain") for a in attributes)  # a __Host- cookie
    raw = browser.cookies[SESSION_COOKIE]
    with sessions() as session:
        stored = session.scalars(select(ConsoleSession)).all()
        assert [s.id_hash for s in stored] == [digest(raw)]
        assert stored[0].person_id == territories.paris_person
        assert session.scalars(select(ConsoleLogin)).all() == []  # the attempt is used up
    [event] = events(sessions, AuditAction.CONSOLE_LOGIN)
    assert event.outcome == AuditOutcome.SUCCESS
    assert event.participant_id == territories.paris_auditor
    assert event.agent_id == territories.paris_person
    assert event.detail["person"].startswith("oidc:")
    assert territories.paris_subject not in str(event.detail)


def test_the_login_goes_to_the_provider_with_pkce_and_a_fresh_state_and_nonce(
    visit: Callable[..., Visit], sessions: sessionmaker[Session]
) -> None:
    browser = visit()
    first = browser.start()
    second = browser.start()

    assert len(set(first) | set(second)) == 6  # nothing reused from one attempt to the next
    with sessions() as session:
        attempts = session.scalars(select(ConsoleLogin)).all()
    assert len(attempts) == 2
    assert {a.state for a in attempts} == {first[0], second[0]}
    assert all(a.id_hash != browser.cookies[LOGIN_COOKIE] for a in attempts)


STRANGER = RSAKey.generate_key(2048, private=True)
FORGERIES: dict[str, tuple[dict[str, Any], str]] = {
    "another audience": ({"aud": "another-client"}, "wrong-audience"),
    "audiences without azp": ({"aud": ["console-codaf", "another"]}, "wrong-azp"),
    "another azp": ({"azp": "another-client"}, "wrong-azp"),
    "another issuer": ({"iss": "https://idp.example"}, "wrong-issuer"),
    "expired": ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 3900}, "expired"),
    "issued in the future": ({"iat": int(time.time()) + 3600}, "issued-in-future"),
    "another nonce": ({"nonce": "not-this-attempts"}, "bad-nonce"),
    "no nonce": ({"nonce": None}, "bad-nonce"),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES), ids=lambda f: f.replace(" ", "-"))
def test_a_forged_id_token_is_refused_and_audited(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    forgery: str,
) -> None:
    changes, rule = FORGERIES[forgery]
    browser = visit()
    answer = browser.login(territories.paris_subject, **changes)

    assert answer.status_code == 403
    assert "Accès refusé" in answer.text
    assert "Aucune donnée n'a été affichée" in html.unescape(answer.text)
    assert SESSION_COOKIE not in browser.cookies
    with sessions() as session:
        assert session.scalars(select(ConsoleSession)).all() == []
    [event] = events(sessions, AuditAction.CONSOLE_LOGIN)
    assert event.outcome == AuditOutcome.REFUSED
    assert event.detail["problem"] == rule


def test_an_id_token_signed_by_another_key_is_refused(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = visit()
    state, nonce, challenge = browser.start()
    stranger = RSAKey.import_key(STRANGER.as_dict(private=True), {"kid": "forger-1"})
    code = browser.forger.issue(
        challenge, browser.forger.claims(nonce, territories.paris_subject), stranger
    )
    answer = browser.get("/console/callback", params={"code": code, "state": state})

    assert answer.status_code == 403
    assert SESSION_COOKIE not in browser.cookies
    [event] = events(sessions, AuditAction.CONSOLE_LOGIN)
    assert (event.outcome, event.detail["problem"]) == (AuditOutcome.REFUSED, "bad-signature")


def test_a_wrong_state_is_refused_and_spends_the_attempt(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = visit()
    state, nonce, challenge = browser.start()
    code = browser.forger.issue(challenge, browser.forger.claims(nonce, territories.paris_subject))
    refused = browser.get("/console/callback", params={"code": code, "state": state + "x"})
    again = browser.get("/console/callback", params={"code": code, "state": state})

    assert refused.status_code == 400
    assert again.status_code == 400  # the attempt was used by the forged answer
    assert SESSION_COOKIE not in browser.cookies
    problems = [e.detail["problem"] for e in events(sessions, AuditAction.CONSOLE_LOGIN)]
    assert problems == ["bad-state", "unknown-login"]


def test_a_replayed_code_is_refused_by_the_provider_and_the_refusal_audited(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = visit()
    state, nonce, challenge = browser.start()
    code = browser.forger.issue(challenge, browser.forger.claims(nonce, territories.paris_subject))
    assert browser.get("/console/callback", params={"code": code, "state": state}).is_redirect
    other = visit()
    new_state, _, _ = other.start()
    replayed = other.get("/console/callback", params={"code": code, "state": new_state})

    assert replayed.status_code == 403
    assert SESSION_COOKIE not in other.cookies
    outcomes = [
        (e.outcome, e.detail.get("problem")) for e in events(sessions, AuditAction.CONSOLE_LOGIN)
    ]
    assert outcomes == [(AuditOutcome.SUCCESS, None), (AuditOutcome.REFUSED, "code-refused")]


def test_a_callback_without_its_login_cookie_is_refused(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = visit()
    state, nonce, challenge = browser.start()
    code = browser.forger.issue(challenge, browser.forger.claims(nonce, territories.paris_subject))
    elsewhere = visit()  # another browser, sent the victim's callback link
    answer = elsewhere.get("/console/callback", params={"code": code, "state": state})

    assert answer.status_code == 400
    assert SESSION_COOKIE not in elsewhere.cookies
    [event] = events(sessions, AuditAction.CONSOLE_LOGIN)
    assert event.detail["problem"] == "unknown-login"


def test_the_providers_refusal_is_shown_and_audited(
    visit: Callable[..., Visit], sessions: sessionmaker[Session]
) -> None:
    browser = visit()
    state, _, _ = browser.start()
    answer = browser.get("/console/callback", params={"error": "access_denied", "state": state})

    assert answer.status_code == 403
    [event] = events(sessions, AuditAction.CONSOLE_LOGIN)
    assert event.detail["problem"] == "provider-error"
    assert event.detail["provider_error"] == "access_denied"


def test_a_person_nobody_mapped_is_refused_and_named_by_a_pseudonym_only(
    visit: Callable[..., Visit], sessions: sessionmaker[Session]
) -> None:
    browser = visit()
    answer = browser.login("sub-stranger@example.org")

    assert answer.status_code == 403
    assert "n'est rattaché à aucun CODAF" in html.unescape(answer.text)
    assert SESSION_COOKIE not in browser.cookies
    [event] = events(sessions, AuditAction.CONSOLE_LOGIN)
    assert (event.outcome, event.detail["problem"]) == (AuditOutcome.REFUSED, "unmapped")
    assert event.participant_id is None
    assert event.agent_id is None
    assert event.detail["person"].startswith("oidc:")
    assert "stranger" not in str(event.detail) + str(event.subject_pseudonyms)


def test_a_new_login_ends_the_browsers_earlier_session(
    visit: Callable[..., Visit], territories: Territories, sessions: sessionmaker[Session]
) -> None:
    browser = visit()
    browser.login(territories.paris_subject)
    first = browser.cookies[SESSION_COOKIE]
    browser.login(territories.marseille_subject)

    assert browser.cookies[SESSION_COOKIE] != first
    with sessions() as session:
        [left] = session.scalars(select(ConsoleSession)).all()
    assert left.id_hash == digest(browser.cookies[SESSION_COOKIE])
    assert left.person_id == territories.marseille_person


def test_a_provider_out_of_reach_is_a_page_not_a_crash(app_client: Callable[..., Any]) -> None:
    gone = Forger("console-codaf", "x")
    gone.issuer = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    browser = Visit(app_client(**console_overrides(gone)), gone)
    answer = browser.get("/console/login")

    assert answer.status_code == 503
    assert "ne répond pas" in html.unescape(answer.text)
    assert LOGIN_COOKIE not in browser.cookies


def test_the_console_may_authenticate_with_a_private_key_instead_of_a_secret(
    app_client: Callable[..., Any],
    forger: Forger,
    territories: Territories,
    tmp_path: Path,
    sessions: sessionmaker[Session],
) -> None:
    key = ECKey.generate_key("P-256", private=True)
    key_file = tmp_path / "console.private.jwk.json"
    key_file.write_text(json.dumps({**key.as_dict(private=True), "alg": "ES256", "kid": "c1"}))
    forger.client_key = ECKey.import_key(key.as_dict(private=False))
    try:
        overrides = console_overrides(
            forger, console_oidc_client_secret=None, console_oidc_private_key=key_file
        )
        browser = Visit(app_client(**overrides), forger)
        answer = browser.login(territories.paris_subject)
    finally:
        forger.client_key = None

    assert answer.status_code == 303, answer.text
    [event] = events(sessions, AuditAction.CONSOLE_LOGIN)
    assert event.outcome == AuditOutcome.SUCCESS


def test_a_providers_error_with_another_state_is_a_bad_state(
    visit: Callable[..., Visit], sessions: sessionmaker[Session]
) -> None:
    browser = visit()
    state, _, _ = browser.start()
    answer = browser.get(
        "/console/callback", params={"error": "access_denied", "state": state + "x"}
    )

    assert answer.status_code == 400
    [event] = events(sessions, AuditAction.CONSOLE_LOGIN)
    assert event.detail["problem"] == "bad-state"
    assert "provider_error" not in event.detail
