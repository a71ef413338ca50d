"""What every command needs: settings, and a session that owns its transaction."""

from __future__ import annotations

import getpass
from contextlib import contextmanager
from typing import TYPE_CHECKING

from gateway.settings import Settings
from gateway.storage.engine import make_engine, make_sessionmaker

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session


def settings() -> Settings:
    return Settings()


@contextmanager
def transaction(database_url: str) -> Iterator[Session]:
    """One transaction for one command: committed if it succeeds, rolled back if not."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def operator() -> dict[str, str]:
    """Who ran a command on the host: recorded in the audit event of admin actions."""
    return {"via": "cli", "os_user": getpass.getuser()}
