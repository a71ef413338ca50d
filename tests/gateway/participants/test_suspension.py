"""Suspending operators: never oneself, never the last active one, over the API; on SQLite
and on PostgreSQL. (The command line applies the same rule: tests/gateway/cli.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.participants.models import Participant, ParticipantStatus
from tests.support.actors import Client, Register, api_headers, set_status, token_for
from tests.support.audit import event_of
from tests.support.problems import problem

if TYPE_CHECKING:
    import httpx2
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.settings import Settings


def suspend(client: TestClient, headers: dict[str, str], target: str) -> httpx2.Response:
    return client.post(f"/v1/participants/{target}/suspend", headers=headers)


def status_of(session: Session, participant_id: str) -> str:
    session.expire_all()
    found = session.get(Participant, participant_id)
    assert found is not None
    return found.status


def admin(client: TestClient, settings: Settings, operator: Client) -> dict[str, str]:
    return api_headers(token_for(client, settings, operator), operator)


def test_an_operator_cannot_suspend_itself(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    operator, other = participant("operator"), participant("operator")
    headers = admin(client, settings, operator)
    response = suspend(client, headers, operator.id)
    body = problem(response, 409, "cannot-suspend-self", "cannot suspend itself")
    assert body["status"] == 409
    assert status_of(session, operator.id) == ParticipantStatus.ACTIVE
    event = event_of(session, response)
    assert (event.action, event.outcome) == ("participant:suspended", "refused")
    assert (event.detail["status"], event.detail["problem"]) == (409, "cannot-suspend-self")
    assert event.object_ids == [operator.id]
    # Another operator may: there is still one left.
    response = suspend(client, admin(client, settings, other), operator.id)
    assert response.status_code == 200, response.text
    assert status_of(session, operator.id) == ParticipantStatus.SUSPENDED


def test_the_last_active_operator_cannot_be_suspended(
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    sessions: sessionmaker[Session],
) -> None:
    first, second, third = (participant("operator") for _ in range(3))
    headers = admin(client, settings, first)
    assert suspend(client, headers, second.id).status_code == 200
    # With a suspended operator and the caller left, the caller is the last active one.
    set_status(sessions, third.id, ParticipantStatus.SUSPENDED)
    response = suspend(client, headers, first.id)
    problem(response, 409, "cannot-suspend-self")
    assert status_of(session, first.id) == ParticipantStatus.ACTIVE
    # Reactivating another operator makes room: then it may suspend the first.
    assert (
        client.post(f"/v1/participants/{second.id}/reactivate", headers=headers).status_code == 200
    )
    response = suspend(client, admin(client, settings, second), first.id)
    assert response.status_code == 200, response.text
    assert status_of(session, first.id) == ParticipantStatus.SUSPENDED


def test_suspending_a_participant_of_another_kind_is_not_limited(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    operator, fund = participant("operator"), participant("fund")
    response = suspend(client, admin(client, settings, operator), fund.id)
    assert response.status_code == 200, response.text
    assert status_of(session, fund.id) == ParticipantStatus.SUSPENDED
