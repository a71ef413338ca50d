"""Alembic: one head, models and migrations agree on both backends, upgrades are idempotent."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from gateway.storage import migrate
from gateway.storage.engine import make_engine
from gateway.storage.registry import metadata


def _revision(database_url: str) -> str | None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            current, _ = migrate.revisions(connection)
            return current
    finally:
        engine.dispose()


def _tables(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_one_head() -> None:
    heads = migrate.heads()
    assert len(heads) == 1
    assert heads == [migrate.head()]


def test_migrated_database_matches_the_models(database_url: str) -> None:
    assert _revision(database_url) == migrate.head()
    assert migrate.differences(database_url) == []
    assert set(metadata.tables) <= _tables(database_url)


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)
    assert _revision(database_url) == migrate.head()
    assert migrate.differences(database_url) == []


def test_upgrade_from_empty(empty_database_url: str) -> None:
    assert _revision(empty_database_url) is None
    assert migrate.differences(empty_database_url) != []  # the check does see missing tables
    migrate.upgrade(empty_database_url)
    assert _revision(empty_database_url) == migrate.head()
    assert migrate.differences(empty_database_url) == []
    assert _tables(empty_database_url) == set(metadata.tables) | {"alembic_version"}
    migrate.upgrade(empty_database_url)
    assert _revision(empty_database_url) == migrate.head()


def test_downgrade_to_base_and_back(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            config = migrate.config(empty_database_url)
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
    finally:
        engine.dispose()
    assert _tables(empty_database_url) <= {"alembic_version"}
    assert _revision(empty_database_url) is None
    migrate.upgrade(empty_database_url)
    assert migrate.differences(empty_database_url) == []
