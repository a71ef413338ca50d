"""Paging the audit events: by row id (immediate) or by log position (exactly once).

Row ids are handed out when a row is written, not when its transaction commits, so an
auditor paging by ``after_id`` can pass over an event committed late with a lower id. The
Merkle log's positions are handed out by one sequencer at a time, in commit order: paged
by ``after_index``, every event is read exactly once.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from audit.actions import AuditAction
from gateway import jobs
from gateway.auditing import repository
from gateway.auditlog.writer import record
from gateway.auth.caller import Caller
from gateway.auth.scopes import Scope
from gateway.participants.models import ParticipantKind
from gateway.settings import Settings
from gateway.storage import migrate
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.support.actors import Prefecture, Register, auditor_headers
from tests.support.factories import decision

NATIONAL = Caller(
    participant_id="codaf-national",
    kind=ParticipantKind.AUDITOR,
    acting_for="codaf-national",
    scopes=frozenset({Scope.AUDIT_READ}),
    territory=(),
    national=True,
    purpose="anti-fraud-control",
    agent_id=None,
    case_reference=None,
    dpop_bound=False,
)


def pages(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every event, one page of two at a time, following ``next_after_index``."""
    seen: list[dict[str, Any]] = []
    cursor = -1
    while True:
        answer = client.get(
            "/v1/audit/events",
            params={**params, "after_index": cursor, "limit": 2},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["next_after_id"] is None
        seen += page["events"]
        if page["next_after_index"] is None:
            return seen
        cursor = page["next_after_index"]


def test_paging_by_log_position_reads_each_logged_event_once_in_log_order(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    sessions: sessionmaker[Session],
) -> None:
    for n in range(3):
        prefecture.created(decision(f"P-{n}"))
    headers = auditor_headers(client, settings, participant, national=True)
    assert jobs.sequence_audit_log(sessions, settings) > 0
    prefecture.created(decision("P-late"))  # committed, not yet in the log
    logged = pages(client, headers)
    indexes = [event["leaf_index"] for event in logged]
    assert indexes == sorted(indexes) == list(range(len(logged)))
    references = [e for e in logged if e["action"] == "decision:created"]
    assert len(references) == 3
    # The late one appears once sequenced, after the others.
    assert jobs.sequence_audit_log(sessions, settings) > 0
    again = pages(client, headers, action="decision:created")
    assert [e["leaf_index"] for e in again][:3] == [e["leaf_index"] for e in references]
    assert len(again) == 4
    both = client.get("/v1/audit/events", params={"after_id": 1, "after_index": 0}, headers=headers)
    assert both.status_code == 400
    assert both.json()["errors"][0]["field"] == "after_index"
    csv_page = client.get(
        "/v1/audit/events",
        params={"after_index": -1, "limit": 1, "format": "csv"},
        headers=headers,
    )
    assert csv_page.headers["next-after-index"] == str(logged[0]["leaf_index"])


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_an_event_committed_late_is_read_by_log_position_not_by_id(
    empty_database_url: str,
) -> None:
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    sessions = make_sessionmaker(engine)
    try:
        slow = sessions()
        slow.begin()
        record(slow, AuditAction.DECISION_CREATED, participant_id="pref-late")
        slow.flush()  # its row id is taken now, its commit comes later
        with sessions.begin() as fast:
            record(fast, AuditAction.DECISION_CREATED, participant_id="pref-early")
        with sessions() as session:
            first = repository.events(
                session, NATIONAL, repository.EventFilters(), after_id=0, limit=100
            )
        assert [e.participant_id for e in first] == ["pref-early"]
        slow.commit()
        slow.close()
        with sessions() as session:
            after = repository.events(
                session, NATIONAL, repository.EventFilters(), after_id=first[-1].id, limit=100
            )
        assert after == []  # by id, the late event is passed over
        assert jobs.sequence_audit_log(sessions, Settings(database_url=empty_database_url)) == 2
        with sessions() as session:
            logged = repository.events(
                session, NATIONAL, repository.EventFilters(), after_id=0, limit=100, after_index=-1
            )
        assert sorted(str(e.participant_id) for e in logged) == ["pref-early", "pref-late"]
    finally:
        engine.dispose()
