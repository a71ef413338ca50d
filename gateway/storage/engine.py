"""Engines and session factories for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# Execution option for connections that only read (health checks): on SQLite they do not
# wait for the write lock.
READ_ONLY = "gateway_read_only"


def make_engine(database_url: str, *, pool_size: int | None = None, **kwargs: Any) -> Engine:
    """Build an engine; on SQLite, make transactions real (see ``_sqlite_transactions``).

    Statement parameters are hidden from the engine's errors and logs: they are the
    callers' values (identifiers, search terms), which no log may hold. On PostgreSQL,
    ``pool_size`` connections are kept open once opened, and as many more opened at a
    peak and closed when given back (each costs a server process and its start-up).
    """
    kwargs.setdefault("hide_parameters", True)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Sessions move between the event loop and worker threads, one at a time.
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _sqlite_transactions(engine)
        return engine
    # Each connection is checked as it leaves the pool: those a restart or an outage broke
    # are dropped and replaced, so the gateway recovers without a restart of its own.
    kwargs.setdefault("pool_pre_ping", True)
    if pool_size is not None:
        kwargs.setdefault("pool_size", pool_size)
        kwargs.setdefault("max_overflow", pool_size)
    # psycopg prepares a statement after a few runs, and PostgreSQL may then keep a generic
    # plan made while a table was still empty: a sequential scan that grows with the table.
    # Custom plans keep each lookup on its index as tables fill up (the import's hot path).
    # JIT compiling pays off for long analytical queries, never for these short ones: it
    # cost status checks 70 to 100 ms a query when the planner misjudged a lookup.
    # A server out of reach is reported within seconds (a 503), not after the system's
    # TCP timeout.
    kwargs.setdefault(
        "connect_args",
        {"options": "-c plan_cache_mode=force_custom_plan -c jit=off", "connect_timeout": 5},
    )
    return create_engine(url, **kwargs)


def _sqlite_transactions(engine: Engine) -> None:
    # pysqlite opens transactions lazily and mishandles SAVEPOINT; SQLAlchemy's documented
    # recipe takes over BEGIN. BEGIN IMMEDIATE takes the write lock up front, so two
    # processes (server and worker) never fail half-way through upgrading a read lock.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def ping(connection: Connection) -> None:
    """A round trip to the database; raises if it does not answer."""
    connection.execute(text("SELECT 1"))


def make_sessionmaker(bind: Any) -> sessionmaker[Session]:
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)
