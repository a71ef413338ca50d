"""What the console's browser tests share: Debian's Chromium, a database for the served
site, and ``Tour``, one person's browser on the console (axe-core on each page, its
screenshot in ``test-artifacts/console/``, no browser error)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gateway.storage import migrate
from tests.console.site import ARTIFACTS, NODE_MODULES, Site

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Locator, Page, Response

AXE = NODE_MODULES / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}


def chromium_path() -> str:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail("Chromium is needed for the browser tests: `make chromium` installs it")
    return found


def database_url(request: pytest.FixtureRequest, backend: str, directory: Path) -> Iterator[str]:
    """A migrated database for a served site: a SQLite file, or a PostgreSQL database."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'console.db'}"
        migrate.upgrade(url)
        yield url
        return
    databases = request.getfixturevalue("postgres_database")()
    url = next(databases)
    migrate.upgrade(url)
    yield url
    databases.close()


class Tour:
    """One person's browser on the console: its page, and what the browser reported."""

    def __init__(self, browser: Browser, site: Site, *, javascript: bool = True) -> None:
        self.site = site
        self.context = browser.new_context(locale="fr-FR", java_script_enabled=javascript)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self._record(f"page error: {error}"))
        self.callbacks: list[str] = []
        self.page.on("request", self._request)

    def _on_console(self) -> bool:
        return self.page.url.startswith(self.site.base_url + "/console")

    def _record(self, message: str) -> None:
        if self._on_console():
            self.errors.append(message)

    def _console(self, message: Any) -> None:
        source = message.location.get("url")
        # A refusal is a page with its 4xx status, which the browser reports: not an error.
        if message.type == "error" and source != self.page.url:
            self._record(f"{message.text} ({source})")

    def _request(self, request: Any) -> None:
        if "/console/callback" in request.url:
            self.callbacks.append(request.url)

    def login(self, login: str) -> None:
        """Through the provider's own login and consent pages."""
        self.page.goto(self.site.base_url + "/console/")
        self.page.get_by_role("link", name="Se connecter").click()
        self.page.wait_for_url(self.site.issuer + "/interaction/**")
        self.sign_in(login)

    def sign_in(self, login: str) -> None:
        """On the provider's login page: the login, then the consent."""
        self.page.fill("input[name=login]", login)
        self.page.fill("input[name=password]", "any password")
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("button:has-text('Continue')")
        self.page.click("button:has-text('Continue')")
        self.page.wait_for_url(self.site.base_url + "/console/**")

    def state_purpose(self) -> None:
        self.page.wait_for_url("**/console/purpose")
        self.page.click("label[for=finalite-1]")
        self.page.click("button:has-text('Continuer')")
        self.page.wait_for_url("**/console/overview")

    def check(self, name: str) -> None:
        """axe-core on the page, its screenshot, and no error reported by the browser."""
        self.page.wait_for_load_state("load")
        self.page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
        violations = self.page.evaluate(
            """async () => (await axe.run(document)).violations.map(
                v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length}))"""
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{name}-{self.site.backend}.png"
        self.page.screenshot(path=shot, full_page=True)
        assert shot.stat().st_size > 0
        serious = [v for v in violations if v["impact"] in SERIOUS]
        assert serious == [], f"{name}: {serious}"
        assert self.errors == [], f"{name}: {self.errors}"

    def submit(self, button: str, path: str) -> Response:
        """Click a form's button, and wait for the page its POST to ``path`` answers."""
        with self.page.expect_response(
            lambda answer: answer.request.method == "POST" and answer.url.endswith(path)
        ) as posted:
            self.page.get_by_role("button", name=button).click()
        self.page.wait_for_load_state("load")
        return posted.value

    def download(self, link: Locator) -> bytes:
        """Click a download link: the file the browser saved."""
        with self.page.expect_download() as caught:
            link.click()
        saved = caught.value.path()
        return Path(saved).read_bytes()

    def funds_shown(self) -> str:
        return self.page.locator("#tableau-caisses tbody").inner_text()

    def close(self) -> None:
        self.context.close()
