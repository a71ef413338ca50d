"""The restore drill of ``docs/operations.md``: back up, restore into a fresh database, go on.

A gateway on PostgreSQL receives decisions, seals them, has a batch acknowledged, answers
status checks and signs an audit checkpoint. It is backed up as the operations guide says
(``pg_dump`` of the database, an archive of the key directory), then restored into a new
database and a new key directory. The restored gateway must be the same gateway: its
audit log verifies offline against the public keys published before the backup, the
fund's next batch continues the ``seq`` and digest chain it verified before, and status
checks, by identifier and by name (which opens sealed identities), answer as before.
"""

from __future__ import annotations

import secrets
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from connectors.fund import verify_batch
from gateway.app import create_app
from gateway.keys import GatewayKeys
from gateway.settings import Settings
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.support.actors import BASE_URL, Client, api_headers, register, seal, token_for
from tests.support.cli import Cli
from tests.support.factories import decision, identity
from tests.support.jose import JOSE, signed_receipt

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from pathlib import Path

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

PEOPLE = [f"75{n:08d}" for n in range(3)]


class Site:
    """One gateway installation: its database, its keys, its two participants' systems."""

    def __init__(self, cli: Cli, prefecture: Client, fund: Client) -> None:
        self.cli, self.prefecture, self.fund = cli, prefecture, fund
        self.keys = GatewayKeys.load(cli.key_dir)
        self.settings = Settings(
            database_url=cli.database_url, key_dir=cli.key_dir, public_base_url=BASE_URL
        )
        self.engine = make_engine(cli.database_url)
        self.sessions = make_sessionmaker(self.engine)

    def http(self) -> TestClient:
        app = create_app(self.settings, keys=self.keys, engine=self.engine)
        return TestClient(app, base_url=BASE_URL)

    def headers(self, http: TestClient, caller: Client) -> dict[str, str]:
        return api_headers(token_for(http, self.settings, caller), caller)

    def post(self, http: TestClient, reference: str, agdref: str) -> None:
        person = identity(agdref_number=agdref, social_security_number=None)
        response = http.post(
            "/v1/decisions",
            json=decision(reference, identity=person),
            headers=self.headers(http, self.prefecture),
        )
        assert response.status_code == 201, response.text

    def checks(self, http: TestClient) -> list[dict[str, Any]]:
        """By each AGDREF number, and by name, birth date and place alone."""
        by_name = identity(agdref_number=None, social_security_number=None)
        people = [{"agdref_number": agdref} for agdref in PEOPLE] + [by_name]
        response = http.post(
            "/v1/status-checks",
            json={"checks": [{"identity": {**p, "residence_departement": "75"}} for p in people]},
            headers=self.headers(http, self.fund),
        )
        assert response.status_code == 200, response.text
        answers: list[dict[str, Any]] = response.json()["answers"]
        return answers

    def batches(self, http: TestClient) -> list[dict[str, Any]]:
        response = http.get("/v1/batches", headers=self.headers(http, self.fund))
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["batches"]
        return found

    def download(self, http: TestClient, batch_id: str) -> bytes:
        response = http.get(f"/v1/batches/{batch_id}", headers=self.headers(http, self.fund))
        assert response.status_code == 200, response.text
        return response.content


@pytest.fixture
def databases(postgres_database: Callable[[], Generator[str]]) -> Iterator[Callable[[], str]]:
    """Fresh PostgreSQL databases, as many as asked, each dropped at the end."""
    opened: list[Generator[str]] = []

    def fresh() -> str:
        opened.append(postgres_database())
        return next(opened[-1])

    yield fresh
    for generator in opened:
        generator.close()


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_restored_gateway_verifies_continues_its_chains_and_answers_as_before(
    tmp_path: Path, databases: Callable[[], str]
) -> None:
    # -- a gateway at work --------------------------------------------------------------
    original = Cli.installed(_directory(tmp_path, "original"), databases())
    original.run("db", "upgrade")
    original.run("keys", "init")
    engine = make_engine(original.database_url)
    with make_sessionmaker(engine).begin() as session:
        prefecture = register(session, "prefecture", departements=["75"])
        fund = register(session, "fund", departements=["75"])
    engine.dispose()
    site = Site(original, prefecture, fund)
    published = site.keys.public_jwks()
    with site.http() as http:
        for number, agdref in enumerate(PEOPLE):
            site.post(http, f"BK-{number}-{secrets.token_hex(3)}", agdref)
        seal(site.sessions, site.keys, fund_ids=[fund.id])
        (batch,) = site.batches(http)
        content = site.download(http, batch["id"])
        verified = verify_batch(content, jwks=published, fund_id=fund.id, expected_seq=1)
        receipt = http.post(
            f"/v1/batches/{batch['id']}/receipt",
            content=signed_receipt(fund, content, site.keys),
            headers={**site.headers(http, fund), "Content-Type": JOSE},
        )
        assert receipt.status_code == 201, receipt.text
        before = site.checks(http)
    assert [answer["result"] for answer in before] == ["adverse_decision"] * 4
    assert before[-1]["match"] == "strong"  # found by name: the sealed identities opened
    assert "checkpoint of size" in original.run("audit", "checkpoint")
    site.engine.dispose()

    # -- the backup, as docs/operations.md says ------------------------------------------
    dump, archive = tmp_path / "gateway.dump", tmp_path / "keys.tar.gz"
    _run("pg_dump", "--format=custom", f"--file={dump}", _libpq(original.database_url))
    _run("tar", "--create", "--gzip", f"--file={archive}", "-C", str(original.key_dir), ".")

    # -- the restore, into a new database and a new key directory ------------------------
    restored = Cli.installed(_directory(tmp_path, "restored"), databases())
    target = _libpq(restored.database_url)
    _run("pg_restore", "--no-owner", "--exit-on-error", "--dbname", target, str(dump))
    restored.key_dir.mkdir(mode=0o700)
    _run("tar", "--extract", "--gzip", f"--file={archive}", "-C", str(restored.key_dir))
    restored.run("db", "upgrade")  # at the head already: nothing to apply

    # The log verifies offline with the keys published before the backup.
    export = restored.files / "log.ndjson"
    restored.run("audit", "export", str(export))
    jwks = restored.jwk_file("jwks", published)
    assert "FAILED" not in restored.run("audit", "verify", str(export), "--jwks", jwks)

    again = Site(restored, prefecture, fund)
    with again.http() as http:
        # Status checks answer as before: the identities still open under the restored keys.
        assert again.checks(http) == before
        # The fund's next batch continues its seq and digest chain.
        again.post(http, f"BK-after-{secrets.token_hex(3)}", PEOPLE[0])
        seal(again.sessions, again.keys, fund_ids=[fund.id])
        _, following = again.batches(http)
        assert following["seq"] == batch["seq"] + 1
        verify_batch(
            again.download(http, following["id"]),
            jwks=published,
            fund_id=fund.id,
            expected_seq=verified.seq + 1,
            previous_digest=verified.digest,
        )
    again.engine.dispose()


def _directory(parent: Path, name: str) -> Path:
    directory = parent / name
    directory.mkdir()
    return directory


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as the PostgreSQL tools read it."""
    return url.replace("postgresql+psycopg://", "postgresql://")
