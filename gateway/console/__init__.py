"""The auditors' web console, under ``/console``: OpenID Connect login, sessions, pages.

``install`` adds it to the application when its OpenID provider is configured
(``GATEWAY_CONSOLE_OIDC_ISSUER`` and ``GATEWAY_CONSOLE_OIDC_CLIENT_ID``): its routes, the
State's design system and Chart.js served from the installed front-end packages
(``GATEWAY_CONSOLE_VENDOR_DIR``, never a CDN), its own script and style, its security
headers, and its refusals as pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gateway.settings import Settings

STATIC = Path(__file__).parent / "static"
# What the console serves from each front-end package: (URL name, folder in the package).
VENDORED = {"dsfr": "@gouvfr/dsfr/dist", "chart.js": "chart.js/dist"}


class ConsoleNotInstallable(RuntimeError):
    """The console is configured but its front-end files are missing."""


def vendored_folders(vendor_dir: Path) -> dict[str, Path]:
    """Each front-end package's served folder; refuses a missing one, naming it."""
    folders = {name: vendor_dir / inside for name, inside in VENDORED.items()}
    missing = [str(path) for path in folders.values() if not path.is_dir()]
    if missing:
        raise ConsoleNotInstallable(
            "the console's front-end files are missing: "
            + ", ".join(missing)
            + " (run `make frontend`, or set GATEWAY_CONSOLE_VENDOR_DIR)"
        )
    return folders


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the console on ``app`` if its provider is configured."""
    if not settings.console_enabled:
        return
    from gateway.console import web  # noqa: PLC0415 - only a served console loads it
    from gateway.console.access import access  # noqa: PLC0415 - idem
    from gateway.console.router import pages, plain  # noqa: PLC0415 - idem

    for name, folder in vendored_folders(settings.console_vendor_dir).items():
        app.mount(f"{web.VENDOR}/{name}", StaticFiles(directory=folder), name=f"console-{name}")
    app.mount(web.STATIC, StaticFiles(directory=STATIC), name="console-static")
    app.include_router(plain)
    app.include_router(pages)
    app.include_router(access)
    app.add_exception_handler(web.ConsoleRefusal, web.refusal_page)
    app.add_middleware(web.ConsoleHeaders)
