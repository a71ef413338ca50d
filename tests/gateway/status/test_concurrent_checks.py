"""Status checks answered at once by many threads of one process, as a server's thread pool
answers them: each request gets the answers about its own people, never another's.

The lookups share statement constructs built once per process (the repository's
aliases); nothing of one request may leak into another. Runs on a database of its own
with committed decisions, since each thread has a connection of its own.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from audit.actions import AuditAction
from gateway.app import create_app
from gateway.auditlog.models import AuditEvent
from gateway.auth.caller import Caller
from gateway.identities.service import IdentityKeys
from gateway.keys import GatewayKeys
from gateway.participants.models import ParticipantKind, Regime
from gateway.settings import Environment, Settings
from gateway.status import limits, service
from gateway.status.models import RateWindow
from gateway.storage.base import utcnow
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.support.actors import BASE_URL, POLICY, Client, make_prefecture, register
from tests.support.factories import decision

UNKNOWN = {"agdref_number": "7599999999", "residence_departement": "75"}
PEOPLE = 12
THREADS = 8
ROUNDS = 25
SURNAMES = (
    "Benali", "Nguyen", "Kowalski", "Haddad", "Diallo", "Ferreira",
    "Okafor", "Petrov", "Tanaka", "Moreau", "Rahman", "Silva",
)  # fmt: skip


def person(n: int, *, identifiers: bool = True) -> dict[str, Any]:
    """Person ``n``: their own AGDREF number, name and birth date, living in 75."""
    fields: dict[str, Any] = {
        "birth_name": SURNAMES[n],
        "first_names": ["Sami"],
        "sex": "M",
        "birth_date": f"1980-01-{n + 1:02d}",
        "place_of_birth": "99352",
        "residence_departement": "75",
    }
    if identifiers:
        fields["agdref_number"] = f"75000{n:05d}"
    return fields


@dataclass
class Desk:
    sessions: sessionmaker[Session]
    keys: IdentityKeys
    caller: Caller


@pytest.fixture
def desk(migrated_database_url: str, tmp_path: Path) -> Iterator[Desk]:
    """A decision about each of ``PEOPLE`` people (reference ``P-<n>``), committed, and a
    CPAM of 75 to check them."""
    key_dir = tmp_path / "keys"
    keys = GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    engine = make_engine(migrated_database_url)
    sessions = make_sessionmaker(engine)

    def participant(kind: str, **options: Any) -> Client:
        with sessions.begin() as session:
            return register(session, kind, **options)

    try:
        settings = Settings(
            database_url=migrated_database_url, key_dir=key_dir, public_base_url=BASE_URL
        )
        app = create_app(settings, keys=keys, engine=engine, sessions=sessions)
        with TestClient(app, base_url=BASE_URL) as http:
            prefecture = make_prefecture(http, settings, participant, departements=["75"])
            for n in range(PEOPLE):
                prefecture.created(decision(f"P-{n}", identity=person(n)))
        fund = participant("fund", regime=Regime.CPAM, departements=["75"])
        caller = Caller(
            participant_id=fund.id,
            kind=ParticipantKind.FUND,
            acting_for=fund.id,
            scopes=frozenset(),
            territory=("75",),
            national=False,
            purpose=fund.purpose,
            agent_id="desk-1",
            case_reference=None,
            dpop_bound=False,
        )
        yield Desk(sessions, IdentityKeys.from_store(keys), caller)
    finally:
        engine.dispose()


@pytest.fixture
def switching() -> Iterator[None]:
    """Threads switched every microsecond rather than every 5 ms: state shared between
    requests is then caught mid-update, not only when a switch happens to fall there."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def in_threads(body: Callable[[int], list[Any]]) -> list[Any]:
    """``body(thread)`` run by ``THREADS`` threads, started at once: what went wrong in each
    (what it returned, or its error)."""
    start = threading.Barrier(THREADS)
    wrong: list[Any] = []

    def run(thread: int) -> None:
        try:
            start.wait(timeout=30)  # every thread's first lookup at once
            wrong.extend(body(thread))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            wrong.append((thread, repr(error)))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return wrong


@pytest.mark.usefixtures("switching")
def test_concurrent_checks_in_one_process_each_get_their_own_answers(desk: Desk) -> None:
    def checking(thread: int) -> list[Any]:
        wrong: list[Any] = []
        for round_ in range(ROUNDS):
            by_number = (thread + round_) % PEOPLE
            by_name = (thread * 5 + round_ * 7 + 1) % PEOPLE
            items = [
                (0, {"identity": person(by_number)}),
                (1, {"identity": person(by_name, identifiers=False)}),
                (2, {"identity": UNKNOWN}),
            ]
            with desk.sessions.begin() as session:
                answers = service.check(session, desk.caller, desk.keys, POLICY.policy, items, None)
            got = [
                (a.match, a.decision.reference if a.decision is not None else None) for a in answers
            ]
            expected = [("exact", f"P-{by_number}"), ("strong", f"P-{by_name}"), ("none", None)]
            if got != expected:
                wrong.append((thread, round_, got, expected))
        return wrong

    assert in_threads(checking) == []
    with desk.sessions() as session:
        audited = session.scalar(
            select(func.count()).where(AuditEvent.action == AuditAction.STATUS_CHECKED)
        )
    assert audited == THREADS * ROUNDS * 3  # one event per check, none lost or doubled


@pytest.mark.usefixtures("switching")
def test_concurrent_small_requests_never_take_more_than_the_limit(
    desk: Desk, migrated_database_url: str, tmp_path: Path
) -> None:
    """Requests of a few checks counted at once, as the route counts them (on PostgreSQL
    each statement its own transaction): exactly the limit is answered, every other request
    refused with nothing answered, and the window holds what was answered."""
    limit = 37
    settings = Settings(
        database_url=migrated_database_url,
        key_dir=tmp_path / "keys",
        public_base_url=BASE_URL,
        status_checks_per_agent=limit,
    )
    now = utcnow()  # one window, whatever the clock does during the test
    answered: list[int] = []
    refused: list[int] = []

    def checking(thread: int) -> list[Any]:
        for round_ in range(ROUNDS):
            items = [(0, {"identity": person((thread + round_) % PEOPLE)})]
            try:
                with limits.checks_taken(
                    desk.sessions, desk.caller, settings, 1, now=now
                ) as counting:
                    answers = service.check(
                        counting, desk.caller, desk.keys, POLICY.policy, items, None, events=[]
                    )
            except limits.TooManyChecks:
                refused.append(thread)
                continue
            answered.append(len(answers))
        return []

    assert in_threads(checking) == []
    assert sum(answered) == limit
    assert len(refused) == THREADS * ROUNDS - limit
    with desk.sessions() as session:
        used = session.scalars(
            select(RateWindow.used).where(
                RateWindow.key == f"agent:{desk.caller.acting_for}:desk-1"
            )
        ).all()
    assert used == [limit]
