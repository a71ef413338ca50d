"""Fixtures: one database per backend per run, migrated by Alembic; each test in a
transaction rolled back afterwards; gateway keys generated for the run; the participants
most tests start from.

PostgreSQL comes from ``GATEWAY_TEST_POSTGRES_URL`` (default: the local server, user
postgres). Unreachable, its tests are skipped, except under ``CI=true`` where the run
fails: CI must prove both backends.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.identities.quality import LabelledPair
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Environment, Settings
from gateway.storage import migrate
from gateway.storage.engine import make_engine
from tests.support.actors import (
    BASE_URL,
    Client,
    Fund,
    Prefecture,
    Register,
    World,
    make_fund,
    make_prefecture,
    register,
    token_for,
)
from tools.identity_pairs.generator import generate

# Under CI, property tests draw the same examples every run: a red build then means a
# change broke something, not that a new random draw found an old bug (those are found,
# and kept in .hypothesis/, on developers' machines).
hypothesis.settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI") == "true":
    hypothesis.settings.load_profile("ci")

# Commands' output is read as one line, whatever the terminal: the command line's consoles
# take their width from COLUMNS when first imported, and pytest-xdist's workers would
# otherwise give them 80 columns.
os.environ["COLUMNS"] = "200"

POSTGRES_ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]
# The fixtures parametrised by backend, and those that reach the server themselves.
BACKEND_FIXTURES = ("database_url", "empty_database_url")
SERVER_FIXTURES = ("postgres_admin_url", "postgres_database")
# Module fixtures whose every parameter is one expensive run that several tests read.
SHARED_RUN_FIXTURES = ("fuzzed_app", "fuzz_run")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``postgresql`` every test on that backend or needing its server otherwise, so
    that ``-m "not postgresql"`` runs SQLite alone (and needs no server).

    Under parallel workers (pytest-xdist), the tests sharing one expensive module fixture
    run on one worker (``xdist_group``: the schemathesis runs, one per backend and kind),
    and the slow tests start first, so that the run does not end on one long test.
    """
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        params = item.callspec.params if hasattr(item, "callspec") else {}
        on_postgresql = any(params.get(name) == "postgresql" for name in BACKEND_FIXTURES)
        if on_postgresql or any(name in item.fixturenames for name in SERVER_FIXTURES):
            item.add_marker(pytest.mark.postgresql)
        shared = [str(params[name]) for name in SHARED_RUN_FIXTURES if name in params]
        if shared:
            group = "-".join([item.module.__name__ if item.module else "", *shared])
            item.add_marker(pytest.mark.xdist_group(group))
    if getattr(config.option, "numprocesses", None):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _postgres_available() -> str | None:
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        return str(error).splitlines()[0]
    finally:
        engine.dispose()
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    problem = _postgres_available()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI and unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def postgres_database(postgres_admin_url: str) -> Callable[[], Generator[str]]:
    """A factory of fresh databases, each dropped when its user is done."""

    def fresh() -> Generator[str]:
        name = f"gateway_test_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield (
                sa.make_url(postgres_admin_url)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    return fresh


@pytest.fixture
def postgresql_url(postgres_database: Callable[[], Generator[str]]) -> Iterator[str]:
    """A PostgreSQL database of the test's own, migrated and committed to for real (what
    several processes share)."""
    databases = postgres_database()
    url = next(databases)
    migrate.upgrade(url)
    yield url
    databases.close()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'gateway.db'}"
        migrate.upgrade(url)
        yield url
        return
    factory = request.getfixturevalue("postgres_database")
    databases = factory()
    url = next(databases)
    migrate.upgrade(url)
    yield url
    databases.close()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    yield built
    built.dispose()


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys") / "keys"
    GatewayKeys.init(directory, Environment.DEVELOPMENT)
    return directory


@pytest.fixture(scope="session")
def gateway_keys(key_dir: Path) -> GatewayKeys:
    return GatewayKeys.load(key_dir)


@pytest.fixture
def settings(database_url: str, key_dir: Path) -> Settings:
    return Settings(database_url=database_url, key_dir=key_dir, public_base_url=BASE_URL)


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions joined to one outer transaction that is rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    yield sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    outer.rollback()
    connection.close()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as opened:
        yield opened


@pytest.fixture
def app_client(
    settings: Settings,
    gateway_keys: GatewayKeys,
    engine: Engine,
    sessions: sessionmaker[Session],
) -> Iterator[Callable[..., TestClient]]:
    """Clients of apps on the test's transaction, each with ``settings`` changed by the
    keyword arguments and ``routers`` added; all are closed after the test."""
    opened = ExitStack()

    def make(*, routers: tuple[APIRouter, ...] = (), **overrides: Any) -> TestClient:
        configured = settings.model_copy(update=overrides) if overrides else settings
        app = create_app(configured, keys=gateway_keys, engine=engine, sessions=sessions)
        for router in routers:
            app.include_router(router)
        http = TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)
        return opened.enter_context(http)

    with opened:
        yield make


@pytest.fixture
def client(app_client: Callable[..., TestClient]) -> TestClient:
    return app_client()


@pytest.fixture
def participant(sessions: sessionmaker[Session]) -> Register:
    """Register a participant with a fresh key, committed for the test's duration."""

    def make(kind: str, **options: Any) -> Client:
        with sessions.begin() as opened:
            return register(opened, kind, **options)

    return make


@pytest.fixture
def prefecture(client: TestClient, settings: Settings, participant: Register) -> Prefecture:
    """The prefecture of Paris (département 75), with its token."""
    return make_prefecture(client, settings, participant, departements=["75"], prefix="pref-75")


@pytest.fixture
def fund(client: TestClient, settings: Settings, participant: Register) -> Fund:
    """A CAF in Seine-Saint-Denis (département 93), with its token."""
    return make_fund(client, settings, participant, regime=Regime.CAF, departements=["93"])


@pytest.fixture
def world(
    client: TestClient,
    settings: Settings,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
    participant: Register,
) -> World:
    """A prefecture of Paris and a CPAM in 75 it owes its decisions to, on ``client``."""
    prefecture = make_prefecture(client, settings, participant, departements=["75"])
    caller = participant("fund", regime=Regime.CPAM, departements=["75"])
    token = token_for(client, settings, caller)
    return World(client, settings, sessions, gateway_keys, participant, prefecture, caller, token)


# -- databases and processes of a test's own --------------------------------------------


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own on each backend, empty (not migrated), dropped after.

    For what the shared, rolled-back database cannot be: migrations run from nothing, or
    data committed for other processes and threads to see.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    factory: Callable[[], Generator[str]] = request.getfixturevalue("postgres_database")
    databases = factory()
    yield next(databases)
    databases.close()


@pytest.fixture
def migrated_database_url(empty_database_url: str) -> str:
    """A database of the test's own on each backend, migrated to the head."""
    migrate.upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``gateway serve`` and ``gateway worker`` configure the root logger; put pytest's
    handlers back after."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access"]
    saved = [
        (logging.getLogger(n), logging.getLogger(n).handlers[:], logging.getLogger(n).propagate)
        for n in names
    ]
    level = logging.getLogger().level
    yield
    for logger, handlers, propagate in saved:
        logger.handlers[:] = handlers
        logger.propagate = propagate
    logging.getLogger().setLevel(level)


# -- labelled identity pairs ------------------------------------------------------------


@pytest.fixture(scope="module")
def pairs() -> list[LabelledPair]:
    """2000 labelled pairs from the generator, half of one person and half of two."""
    return generate(2000, 7)
