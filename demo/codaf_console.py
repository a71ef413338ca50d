"""The CODAF console: an auditor logs in through an OpenID provider, in a real browser.

The provider is the one the console's tests run (``oidc-provider`` from the npm registry,
with Node); the browser is Debian's Chromium, driven headless by Playwright. The operator
maps the person to the auditor of Paris with ``gateway console people add``; she logs in
on the provider's own pages, states her purpose, and sees her territory's overview. The
screenshots of the overview and of a fund's page stay after the demo, and the scene
prints where.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from typer.testing import CliRunner

from demo.stage import console
from gateway.cli.main import app

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_SCRIPT = ROOT / "tests" / "console" / "oidc" / "provider.mjs"
SCREENSHOTS = ROOT / "var" / "demo" / "console"
CLIENT_ID = "console-codaf"
AUDITOR_LOGIN = "auditrice-paris"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def provider(console_callback: str, secret: str, log_path: Path) -> Iterator[str]:
    """The OpenID provider on a loopback port until the block ends; yields its issuer."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("the console scene needs Node and `make frontend`")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": secret,
        "OIDC_REDIRECT_URIS": console_callback,
        "OIDC_ACCOUNTS": AUDITOR_LOGIN,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - Node and the committed provider script
            [node, str(PROVIDER_SCRIPT)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    discovery = f"{issuer}/.well-known/openid-configuration"
                    if httpx.get(discovery, timeout=1).status_code == httpx.codes.OK:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the OpenID provider did not start: {log_path}")
                time.sleep(0.1)
            yield issuer
        finally:
            process.terminate()
            process.wait(timeout=10)


def map_person(settings: Settings, auditor: str) -> str:
    """What the operator runs: ``gateway console people add SUB --auditor ID``."""
    env = {
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_KEY_DIR": str(settings.key_dir),
        "GATEWAY_CONSOLE_OIDC_ISSUER": str(settings.console_oidc_issuer),
        "GATEWAY_CONSOLE_OIDC_CLIENT_ID": CLIENT_ID,
    }
    result = CliRunner().invoke(
        app, ["console", "people", "add", AUDITOR_LOGIN, "--auditor", auditor], env=env
    )
    return result.output.strip().splitlines()[0] if result.exit_code == 0 else result.output


def scene(base_url: str, settings: Settings, expect: Callable[[str, bool], None]) -> None:
    """Log the auditor in headlessly and keep screenshots of what she sees."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only this scene

    console.print(f"  operator: {map_person(settings, 'codaf-75')}")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 900})
            page.goto(base_url + "/console/")
            page.get_by_role("link", name="Se connecter").click()
            page.wait_for_url(str(settings.console_oidc_issuer) + "/interaction/**")
            page.fill("input[name=login]", AUDITOR_LOGIN)
            page.fill("input[name=password]", "any password")
            page.click("button[type=submit]")
            page.wait_for_selector("button:has-text('Continue')")
            page.click("button:has-text('Continue')")
            page.wait_for_url("**/console/purpose")
            page.click("label[for=finalite-1]")
            page.click("button:has-text('Continuer')")
            page.wait_for_url("**/console/overview")
            page.wait_for_load_state("load")
            overview = SCREENSHOTS / "overview.png"
            page.screenshot(path=str(overview), full_page=True)
            shots.append(overview)
            text = page.inner_text("main")
            page.goto(base_url + "/console/funds/cpam-75")
            page.wait_for_load_state("load")
            fund = SCREENSHOTS / "fund-cpam-75.png"
            page.screenshot(path=str(fund), full_page=True)
            shots.append(fund)
            fund_text = page.inner_text("main")
        finally:
            browser.close()
    expect(
        "an auditor of Paris logs in through the OpenID provider and sees her territory's "
        "funds (cpam-75) in French",
        "cpam-75" in text and "Vue d" in text,
    )
    expect(
        "her fund page for cpam-75 shows the CPAM of Paris's report",
        "CPAM de Paris" in fund_text,
    )
    for shot in shots:
        console.print(f"  screenshot: {shot}")
