"""Fail fast: what ``gateway serve`` and ``gateway worker`` check before they start.

A misconfigured gateway must not start and fail later, quietly: in production it refuses
to start without its production keys, or on SQLite unless ``GATEWAY_ALLOW_SQLITE=true``
(a misspelled ``GATEWAY_DATABASE_URL`` would otherwise fall back to a local file). In any
environment an unparseable database URL or a malformed setting is refused (by
``Settings``), and a ``GATEWAY_`` variable that no setting reads is named in a warning,
with the setting it was probably meant to be.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from gateway.keys import GatewayKeys, KeyStoreError
from gateway.settings import Environment, Settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import ValidationError

PREFIX = "GATEWAY_"
# Variables the command line reads itself (participants' commands), and the test suite's.
OTHER_VARIABLES = frozenset(
    {
        "GATEWAY_URL",
        "GATEWAY_CLIENT_ID",
        "GATEWAY_CLIENT_KEY",
        "GATEWAY_FUND_STATE_DIR",
        "GATEWAY_AGENT_ID",
        "GATEWAY_TEST_POSTGRES_URL",
        "GATEWAY_BENCH_POSTGRES_URL",
        "GATEWAY_CRASH_SEED",
    }
)


class StartRefused(Exception):
    """The configuration is not one to start with; the message says what to change."""


def known_variables() -> frozenset[str]:
    return frozenset(PREFIX + name.upper() for name in Settings.model_fields) | OTHER_VARIABLES


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One warning per ``GATEWAY_`` variable nothing reads, with the likeliest meant one."""
    known = known_variables()
    warnings = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper in known:
            continue
        close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.75)
        hint = f": did you mean {close[0]}?" if close else ""
        warnings.append(f"{name} is set but no setting reads it{hint}")
    return warnings


def invalid_settings(error: ValidationError) -> str:
    """A ``Settings`` validation error as one line naming each variable and its rule."""
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item.get("loc", ()))
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{PREFIX}{field.upper()}: {message}")
    return "invalid settings: " + "; ".join(parts)


def check(settings: Settings, *, needs_keys: bool) -> GatewayKeys | None:
    """Refuse what must not start; return the keys, if there are any.

    Keys are needed by the server in any environment, and by every command in production,
    where they must be production keys. A SQLite database is refused in production unless
    ``allow_sqlite`` says it is meant.
    """
    production = settings.environment == Environment.PRODUCTION
    keys: GatewayKeys | None = None
    try:
        keys = GatewayKeys.load(settings.key_dir)
        if production:
            keys.check_production(settings.key_dir)
    except (KeyStoreError, OSError, ValueError, KeyError) as error:
        if production or needs_keys:
            raise StartRefused(str(error)) from None
    if production and settings.on_sqlite and not settings.allow_sqlite:
        raise StartRefused(
            f"GATEWAY_DATABASE_URL is SQLite ({settings.database_url}) in production: set it "
            "to the PostgreSQL database, or GATEWAY_ALLOW_SQLITE=true for a single-host site"
        )
    return keys
