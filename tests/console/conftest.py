"""Fixtures of the console's tests: a provider that forges answers for the HTTP-level
tests, the console on the test's app, auditors of two territories and the people mapped
to them; and the browser tests' Chromium and served site (``site.py``, ``browser.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import sync_playwright
from pydantic import SecretStr

from gateway.console import repository
from gateway.participants.models import Regime
from tests.console.browser import chromium_path, database_url
from tests.console.forger import Forger, serve_forger
from tests.console.site import (
    CLIENT_ID,
    CLIENT_SECRET,
    NODE_MODULES,
    Site,
    console_site,
    mapped_person,
)
from tests.support.actors import BASE_URL

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import httpx2
    from fastapi.testclient import TestClient
    from playwright.sync_api import Browser
    from sqlalchemy.orm import Session, sessionmaker

    from tests.support.actors import Register

SESSION_COOKIE = "__Host-console-session"
LOGIN_COOKIE = "__Host-console-login"


@pytest.fixture(scope="module")
def forger() -> Iterator[Forger]:
    yield from serve_forger(Forger(CLIENT_ID, CLIENT_SECRET))


@dataclass
class Territories:
    """Auditors of Paris and of Marseille, a fund in each, and one person mapped to each."""

    paris_auditor: str
    marseille_auditor: str
    paris_fund: str
    marseille_fund: str
    paris_person: str
    marseille_person: str
    paris_subject: str = "sub-paris"
    marseille_subject: str = "sub-marseille"


@pytest.fixture
def territories(
    participant: Register, sessions: sessionmaker[Session], forger: Forger
) -> Territories:
    paris = participant("auditor", departements=["75"], prefix="codaf-75")
    marseille = participant("auditor", departements=["13"], prefix="codaf-13")
    paris_fund = participant("fund", departements=["75"], regime=Regime.CPAM, prefix="cpam-75")
    marseille_fund = participant("fund", departements=["13"], regime=Regime.CAF, prefix="caf-13")
    people = []
    with sessions.begin() as session:
        for auditor, subject in ((paris.id, "sub-paris"), (marseille.id, "sub-marseille")):
            person = mapped_person(forger.issuer, subject, auditor)
            repository.add_person(session, person)
            people.append(person.id)
    return Territories(
        paris.id, marseille.id, paris_fund.id, marseille_fund.id, people[0], people[1]
    )


def console_overrides(forger: Forger, **extra: Any) -> dict[str, Any]:
    return {
        "console_oidc_issuer": forger.issuer,
        "console_oidc_client_id": CLIENT_ID,
        "console_oidc_client_secret": SecretStr(CLIENT_SECRET),
        "console_vendor_dir": NODE_MODULES,
        **extra,
    }


@dataclass
class Visit:
    """One browser's visit, over the test's app: its own cookies (Secure ones included,
    which a plain-HTTP test client would not send), no redirect followed."""

    client: TestClient
    forger: Forger
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, **options: Any) -> httpx2.Response:
        headers = dict(options.pop("headers", {}))
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.client.cookies.clear()
        response = self.client.request(
            method, path, headers=headers, follow_redirects=False, **options
        )
        for raw in response.headers.get_list("set-cookie"):
            self.set_cookies.append(raw)
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0].strip('"')
            if re.search(r"(?i)max-age=0\b", raw) or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def get(self, path: str, **options: Any) -> httpx2.Response:
        return self.request("GET", path, **options)

    def post(
        self, path: str, data: dict[str, str], origin: str | None = BASE_URL
    ) -> httpx2.Response:
        headers = {"Origin": origin} if origin is not None else {}
        return self.request("POST", path, data=data, headers=headers)

    def start(self) -> tuple[str, str, str]:
        """Start a login: the state, nonce and PKCE challenge the provider is sent."""
        response = self.get("/console/login")
        assert response.status_code == 303, response.text
        location = urlsplit(response.headers["location"])
        assert (
            f"{location.scheme}://{location.netloc}{location.path}" == self.forger.issuer + "/auth"
        )
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert query["code_challenge_method"] == "S256"
        assert query["response_type"] == "code"
        assert query["client_id"] == CLIENT_ID
        return query["state"], query["nonce"], query["code_challenge"]

    def login(self, subject: str, /, **changes: Any) -> httpx2.Response:
        """A whole login as ``subject``, the ID token's claims changed by ``changes``."""
        state, nonce, challenge = self.start()
        code = self.forger.issue(challenge, self.forger.claims(nonce, subject, **changes))
        return self.get("/console/callback", params={"code": code, "state": state})

    def csrf(self, path: str = "/console/purpose") -> str:
        page = self.get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        return found.group(1)

    def state_purpose(self, purpose: str = "anti-fraud-control") -> httpx2.Response:
        return self.post("/console/purpose", {"csrf": self.csrf(), "purpose": purpose})


@pytest.fixture
def visit(
    app_client: Callable[..., TestClient], forger: Forger, territories: Territories
) -> Callable[..., Visit]:
    """A new visit on the console, its settings changed by keyword arguments."""
    del territories

    def make(**extra: Any) -> Visit:
        return Visit(app_client(**console_overrides(forger, **extra)), forger)

    return make


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def site(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Site]:
    """The served gateway and its provider, for one test: each test has its own, so that
    the tests spread over the workers without starting one twice."""
    for url in database_url(request, backend, tmp_path):
        with console_site(url, tmp_path, backend) as served:
            yield served
