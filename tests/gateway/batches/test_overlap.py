"""Sealing while the outbox moves: corrections and new decisions keep arriving, and
``gateway seal`` runs again and again (and two sealers at once): every run finishes,
nothing is lost or sealed twice, no fund's ``seq`` has a gap, and every correction
reaches each fund that got the decision, after the version it corrects.

Each test runs on a database of its own with committed data: the corrections come from
a thread of their own, through the API, while the sealer commits batches.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.batches import sealing
from gateway.batches.models import Batch
from gateway.batches.storage import open_content
from gateway.decisions.models import Decision
from gateway.disclosures.models import Disclosure
from gateway.identities.service import IdentityKeys
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Environment, Settings
from gateway.storage.engine import make_engine, make_sessionmaker
from policies.loader import DEFAULT_POLICY, load_file
from tests.support.actors import BASE_URL, Client, Prefecture, make_prefecture, register
from tests.support.cli import invoke
from tests.support.factories import days_ago, decision, identity
from tests.support.jose import batch_payload

# Thousands of records sealed several times over while a thread posts: seconds.
pytestmark = pytest.mark.slow

DECISIONS = 2500
MAX_RECORDS = "5000"
SEAL_RUNS = 4


@dataclass
class Installation:
    url: str
    key_dir: Path
    engine: Engine
    sessions: sessionmaker[Session]
    keys: GatewayKeys
    funds: list[Client] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "GATEWAY_DATABASE_URL": self.url,
            "GATEWAY_KEY_DIR": str(self.key_dir),
            "GATEWAY_BATCH_MAX_RECORDS": MAX_RECORDS,
        }


@pytest.fixture
def installation(migrated_database_url: str, tmp_path: Path) -> Iterator[Installation]:
    key_dir = tmp_path / "keys"
    keys = GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    engine = make_engine(migrated_database_url)
    try:
        yield Installation(migrated_database_url, key_dir, engine, make_sessionmaker(engine), keys)
    finally:
        engine.dispose()


@pytest.fixture
def http(installation: Installation) -> Iterator[tuple[TestClient, Prefecture]]:
    """The API on the installation's database, and a prefecture of 93 with its backlog
    owed to a CPAM and a CAF of 93."""

    def participant(kind: str, **options: Any) -> Client:
        with installation.sessions.begin() as session:
            return register(session, kind, **options)

    installation.funds = [
        participant("fund", regime=Regime.CPAM, departements=["93"]),
        participant("fund", regime=Regime.CAF, departements=["93"]),
    ]
    settings = Settings(
        database_url=installation.url, key_dir=installation.key_dir, public_base_url=BASE_URL
    )
    app = create_app(
        settings,
        keys=installation.keys,
        engine=installation.engine,
        sessions=installation.sessions,
    )
    with TestClient(app, base_url=BASE_URL) as client:
        prefecture = make_prefecture(client, settings, participant, departements=["93"])
        lines = [
            decision(f"FLOW-{n}", identity=identity(residence_departement="93"))
            for n in range(DECISIONS)
        ]
        content = "\n".join(json.dumps(line) for line in lines).encode()
        imported = prefecture.imported(content, installation.sessions, installation.keys)
        assert imported["accepted"] == DECISIONS
        yield client, prefecture


class Corrections(threading.Thread):
    """A prefecture correcting its decisions oldest first (those being sealed), as fast as
    the API answers, and posting a new decision now and then, until stopped."""

    def __init__(self, prefecture: Prefecture, decision_ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.prefecture = prefecture
        self.decision_ids = decision_ids
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.corrected = 0
        self.posted = 0

    def finish(self, more: int = 2, timeout: float = 60) -> None:
        """Stop after ``more`` further corrections: those land on versions already sealed
        (sealing has run), so the outbox check always has a correction after a sealed
        version to follow, however the threads were scheduled."""
        target = self.corrected + more
        deadline = time.monotonic() + timeout
        while self.corrected < target and not self.failures and self.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        self.stop.set()
        self.join(timeout=timeout)

    def run(self) -> None:
        try:
            self.correcting()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.failures.append(repr(error))

    def correcting(self) -> None:
        for n, decision_id in enumerate(self.decision_ids):
            if self.stop.is_set():
                return
            if n % 3 == 0:  # a data correction, later annulled: a chain of versions
                self.correct(decision_id, "data-correction", effect_date=days_ago(40))
                self.correct(decision_id, "annulment")
            else:
                self.correct(decision_id, "annulment")
            if n % 4 == 0:
                body = decision(f"NEW-{n}", identity=identity(residence_departement="93"))
                response = self.prefecture.post(body)
                if response.status_code != 201:
                    self.failures.append(response.text)
                self.posted += 1

    def correct(self, decision_id: str, kind: str, **fields: Any) -> None:
        body = {
            "kind": kind,
            "reference": f"C-{uuid.uuid4().hex[:12]}",
            "correction_date": days_ago(1),
            **fields,
        }
        response = self.prefecture.correct(decision_id, body)
        if response.status_code != 201:
            self.failures.append(response.text)
        self.corrected += 1


def records_of(installation: Installation) -> dict[str, tuple[str, int, str]]:
    """record id -> (fund, seq, type) of every record in every batch, checking each batch's
    signature and that each fund's seqs run 1..n, chained."""
    cipher = installation.keys.identity_cipher()
    where: dict[str, tuple[str, int, str]] = {}
    seen: Counter[str] = Counter()
    with installation.sessions() as session:
        for fund in installation.funds:
            statement = select(Batch).where(Batch.fund_id == fund.id).order_by(Batch.seq)
            batches = list(session.scalars(statement))
            assert [b.seq for b in batches] == list(range(1, len(batches) + 1)), fund.id
            previous = None
            for batch in batches:
                assert batch.previous_digest == previous
                previous = batch.digest
                payload = batch_payload(open_content(cipher, batch), installation.keys)
                assert (payload["fund_id"], payload["seq"]) == (fund.id, batch.seq)
                assert payload["record_count"] == len(payload["records"]) == batch.record_count
                for record in payload["records"]:
                    seen[record["record_id"]] += 1
                    where[record["record_id"]] = (fund.id, batch.seq, record["type"])
                    if record["type"] == "rectification":
                        assert record["data"]["priority_class"] == "correction"
    assert [r for r, count in seen.items() if count > 1] == [], "a record was sealed twice"
    return where


def check_outbox(installation: Installation) -> None:
    """Everything owed is in exactly one batch, and every correction reached each fund that
    got the decision, in a later batch than any earlier version."""
    where = records_of(installation)
    with installation.sessions() as session:
        rows = session.execute(
            select(
                Disclosure.id,
                Disclosure.decision_id,
                Disclosure.version,
                Disclosure.fund_id,
                Disclosure.state,
                Disclosure.batch_id,
            )
        ).all()
        current = dict(session.execute(select(Decision.id, Decision.current_version)).all())
    assert [row.id for row in rows if row.state == "pending"] == []
    sealed = {row.id for row in rows if row.batch_id is not None}
    assert sealed == set(where), "the batches and the outbox disagree"
    assert all(row.state == "cancelled" for row in rows if row.batch_id is None)
    received: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)  # version -> seq
    for row in rows:
        if row.batch_id is not None:
            fund_id, seq, _ = where[row.id]
            assert fund_id == row.fund_id
            received[(row.decision_id, row.fund_id)][row.version] = seq
    corrected = 0
    for (decision_id, fund_id), versions in received.items():
        latest = current[decision_id]
        # A fund that got any version of the decision gets its latest.
        assert latest in versions, (decision_id, fund_id, versions, latest)
        # And after every earlier one: in a later batch.
        earlier = [seq for version, seq in versions.items() if version < latest]
        assert all(seq < versions[latest] for seq in earlier), (decision_id, fund_id, versions)
        corrected += bool(earlier)
    assert corrected > 0, "no correction raced a sealed version"


def test_sealing_finishes_under_a_steady_flow_of_corrections_and_new_decisions(
    installation: Installation,
    http: tuple[TestClient, Prefecture],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, prefecture = http
    with installation.sessions() as session:
        statement = select(Decision.id).order_by(Decision.created_at, Decision.id)
        decision_ids = list(session.scalars(statement))
    corrections = Corrections(prefecture, decision_ids)
    caplog.set_level(logging.WARNING)
    corrections.start()
    try:
        outputs = [invoke("seal", env=installation.env()) for _ in range(SEAL_RUNS)]
    finally:
        corrections.finish()
    assert corrections.failures == []
    assert corrections.corrected > 0
    assert all("Traceback" not in output for output in outputs)
    invoke("seal", env=installation.env())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    check_outbox(installation)


def test_two_sealers_under_corrections_share_the_funds_and_finish(
    installation: Installation, http: tuple[TestClient, Prefecture]
) -> None:
    _, prefecture = http
    with installation.sessions() as session:
        statement = select(Decision.id).order_by(Decision.created_at, Decision.id)
        decision_ids = list(session.scalars(statement))
    loaded = load_file(DEFAULT_POLICY)
    errors: list[BaseException] = []
    sealed: list[list[sealing.SealedBatch]] = []

    def sealer() -> None:
        engine = make_engine(installation.url)
        try:
            sealed.append(
                sealing.seal(
                    make_sessionmaker(engine),
                    installation.keys,
                    IdentityKeys.from_store(installation.keys),
                    loaded,
                    max_records=int(MAX_RECORDS),
                )
            )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            engine.dispose()

    corrections = Corrections(prefecture, decision_ids)
    corrections.start()
    try:
        threads = [threading.Thread(target=sealer) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        corrections.finish()
    assert errors == []
    assert corrections.failures == []
    # No batch twice: each sealer's batches are its own.
    ids = [batch.id for batches in sealed for batch in batches]
    assert len(ids) == len(set(ids))
    invoke("seal", env=installation.env())
    check_outbox(installation)
