"""``gateway db``: the schema upgraded to the head, and checked against the models."""

from __future__ import annotations

from gateway.storage import migrate
from gateway.storage.engine import make_engine
from tests.support.cli import Cli


def test_db_upgrade_reaches_the_head(cli: Cli) -> None:
    assert cli.run("db", "upgrade") == f"database at {migrate.head()}"
    engine = make_engine(cli.database_url)
    try:
        with engine.connect() as connection:
            assert migrate.revisions(connection) == (migrate.head(), migrate.head())
    finally:
        engine.dispose()


def test_db_check_agrees(cli: Cli) -> None:
    output = cli.run("db", "check")
    assert output == f"models and migrations agree (head {migrate.head()})"
