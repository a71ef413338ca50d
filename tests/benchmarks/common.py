"""What every benchmark sets up: a database it creates and drops, keys, one participant,
and ``gateway serve`` in its own process."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import sqlalchemy as sa
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from joserfc.jwk import ECKey

from gateway.auth.assertions import ASSERTION_TYPE
from gateway.keys import GatewayKeys
from gateway.participants import service
from gateway.participants.models import ParticipantKind, Regime
from gateway.participants.schemas import ParticipantSpec
from gateway.settings import Environment
from gateway.storage import migrate
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.support.processes import gateway_process

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator


ADMIN_URL = os.environ.get(
    "GATEWAY_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _create_database(backend: str, workdir: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    name = f"gateway_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False), name


def _drop_database(name: str) -> None:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def prefecture_spec(client_id: str, key: ECKey) -> ParticipantSpec:
    """The benchmarks' prefecture of Paris, authenticating with ``key``."""
    return ParticipantSpec(
        id=client_id,
        kind=ParticipantKind.PREFECTURE,
        name="Benchmark prefecture",
        departements=["75"],
        jwks=key.as_dict(private=False),
    )


def fund_spec(client_id: str, key: ECKey) -> ParticipantSpec:
    """The benchmarks' fund (a CPAM of Paris), authenticating with ``key``."""
    return ParticipantSpec(
        id=client_id,
        kind=ParticipantKind.FUND,
        name="Benchmark fund",
        regime=Regime.CPAM,
        departements=["75"],
        jwks=key.as_dict(private=False),
    )


def token_form(base_url: str, client_id: str, key: ECKey) -> dict[str, str]:
    """A client-credentials request with a fresh client assertion for ``base_url``'s gateway."""
    assertion = private_key_jwt_sign(
        key,
        client_id=client_id,
        token_endpoint=f"{base_url}/oauth2/token",
        alg="ES256",
        expires_in=60,
    )
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


def issue_token(base_url: str, client_id: str, key: ECKey) -> str:
    """An access token of the gateway at ``base_url`` for ``client_id``."""
    response = httpx.post(
        f"{base_url}/oauth2/token", data=token_form(base_url, client_id, key), timeout=10
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


@contextmanager
def benchmark_database(backend: str, *participants: ParticipantSpec) -> Iterator[tuple[str, Path]]:
    """A fresh, migrated database with keys and ``participants``: (its URL, the key dir)."""
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    database_url, database_name = _create_database(backend, workdir)
    try:
        migrate.upgrade(database_url)
        GatewayKeys.init(workdir / "keys", Environment.DEVELOPMENT)
        engine = make_engine(database_url)
        with make_sessionmaker(engine).begin() as session:
            for participant in participants:
                service.register(session, participant)
        engine.dispose()
        yield database_url, workdir / "keys"
    finally:
        if database_name is not None:
            _drop_database(database_name)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class BenchmarkGateway:
    """``gateway serve`` in its process: its URL, its database and its keys."""

    base_url: str
    process: subprocess.Popen[bytes]
    database_url: str
    key_dir: Path


@contextmanager
def benchmark_gateway(
    backend: str, *participants: ParticipantSpec, workers: int = 1
) -> Iterator[BenchmarkGateway]:
    """The gateway serving a fresh database with ``participants`` registered; cleaned up after."""
    with (
        benchmark_database(backend, *participants) as (database_url, key_dir),
        gateway_process(database_url, key_dir, workers=workers, log_level="WARNING") as served,
    ):
        yield BenchmarkGateway(*served, database_url, key_dir)
