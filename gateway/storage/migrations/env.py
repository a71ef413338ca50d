"""Alembic environment: the URL and connection come from ``gateway.storage.migrate``."""

from __future__ import annotations

from alembic import context

from gateway.settings import Settings
from gateway.storage.engine import make_engine
from gateway.storage.registry import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.attributes.get("database_url") or Settings().database_url
    engine = make_engine(url)
    with engine.connect() as own:
        context.configure(
            connection=own,
            target_metadata=metadata,
            render_as_batch=own.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        own.commit()
    engine.dispose()


run()
