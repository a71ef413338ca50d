"""Running Alembic from code: upgrade, current revision, and the models-versus-migrations check."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from gateway.storage.engine import make_engine
from gateway.storage.registry import metadata

if TYPE_CHECKING:
    from sqlalchemy import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def config(database_url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if database_url is not None:
        cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    engine = make_engine(database_url)
    try:
        # Not in a transaction of ours: the migrations' transaction is Alembic's, so that
        # a migration may step outside it (an index built CONCURRENTLY on PostgreSQL).
        with engine.connect() as connection:
            cfg = config(database_url)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
            connection.commit()
    finally:
        engine.dispose()


@functools.cache
def _scripts() -> ScriptDirectory:
    """The migrations shipped with this code: read once, they do not change while it runs."""
    return ScriptDirectory.from_config(config())


def head() -> str | None:
    return _scripts().get_current_head()


def heads() -> list[str]:
    return list(ScriptDirectory.from_config(config()).get_heads())


def revisions(connection: Connection) -> tuple[str | None, str | None]:
    """(the database's revision, the code's head)."""
    current = MigrationContext.configure(connection).get_current_revision()
    return current, head()


def schema_state(current: str | None, head: str | None) -> Literal["current", "behind", "ahead"]:
    """Where the database's schema stands for this code.

    ``behind``: a revision this code knows, before its head (``gateway db upgrade`` is
    due). ``ahead``: a revision this code does not know, applied by a newer release whose
    migrations ran before its code rolled out; this code keeps serving meanwhile, since a
    release's migrations only add to what the previous release reads (docs/operations.md).
    """
    if current == head:
        return "current"
    if current is None:
        return "behind"
    try:
        known = _scripts().get_revision(current)
    except (CommandError, RevisionError):
        known = None
    return "behind" if known is not None else "ahead"


def differences(database_url: str) -> list[Any]:
    """What autogenerate would change: empty when models and migrations agree."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()
