"""A person's access report in the console, under dual control, over HTTP: one person
asks, a second approver of the same auditor decides, only then the asker sees the report,
for a limited time; the asker, a reader and another territory cannot decide; every step
is an audit event; the person's number is never kept."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select, text, update

from audit.actions import AuditAction, AuditOutcome
from gateway import jobs
from gateway.auditing.service import subject_of
from gateway.console import repository
from gateway.console.models import ConsoleAccessRequest
from gateway.identities.service import IdentityKeys
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id
from tests.console.site import mapped_person
from tests.console.test_login import events
from tests.console.test_sessions import logged_in
from tests.support.factories import NIR, NIR_NORMALISED, decision, identity

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx2
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings
    from tests.console.conftest import Territories, Visit
    from tests.console.forger import Forger
    from tests.support.actors import Prefecture

PERSON = "7512345678"
PURPOSE = "data-subject-request"


@dataclass
class Approvers:
    paris: str
    marseille: str
    paris_subject: str = "sub-paris-approver"
    marseille_subject: str = "sub-marseille-approver"


@pytest.fixture
def approvers(
    territories: Territories, sessions: sessionmaker[Session], forger: Forger
) -> Approvers:
    """An approver mapped to each auditor, beside the territories' readers."""
    ids = []
    with sessions.begin() as session:
        for auditor, subject in (
            (territories.paris_auditor, "sub-paris-approver"),
            (territories.marseille_auditor, "sub-marseille-approver"),
        ):
            person = mapped_person(forger.issuer, subject, auditor, "approver")
            repository.add_person(session, person)
            ids.append(person.id)
    return Approvers(ids[0], ids[1])


def person_of(
    visit: Callable[..., Visit], subject: str, purpose: str = PURPOSE, **settings: object
) -> Visit:
    browser = logged_in(visit, subject, **settings)
    assert browser.state_purpose(purpose).status_code == 303
    return browser


def ask(
    browser: Visit, reference: str = "DPO-2026-0142", kind: str = "agdref", number: str = PERSON
) -> httpx2.Response:
    token = browser.csrf("/console/access")
    data = {"csrf": token, "reference": reference, "kind": kind, "number": number}
    return browser.post("/console/access", data)


def decide(browser: Visit, request_id: str, verb: str) -> httpx2.Response:
    token = browser.csrf("/console/access")
    return browser.post(f"/console/access/{request_id}/{verb}", {"csrf": token})


def the_request(sessions: sessionmaker[Session]) -> ConsoleAccessRequest:
    with sessions() as session:
        [found] = session.scalars(select(ConsoleAccessRequest)).all()
        return found


def outcomes(sessions: sessionmaker[Session], action: AuditAction) -> list[tuple[Any, ...]]:
    return [(e.outcome, e.agent_id, e.detail.get("problem")) for e in events(sessions, action)]


def test_asked_approved_by_a_second_person_then_shown_to_the_asker_and_audited(
    visit: Callable[..., Visit],
    territories: Territories,
    approvers: Approvers,
    prefecture: Prefecture,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    prefecture.created(decision("S-1", identity=identity(agdref_number=PERSON)))
    prefecture.created(decision("S-2", identity=identity(agdref_number="7599999999")))
    asker = person_of(visit, territories.paris_subject, console_access_shown_hours=5)
    approver = person_of(visit, approvers.paris_subject, console_access_shown_hours=5)
    assert "pendant 5 heures" in asker.get("/console/access").text

    asked = ask(asker, reference="dpo-2026-0142")
    assert (asked.status_code, asked.headers["location"]) == (303, "/console/access")
    request = the_request(sessions)
    assert (request.state, request.reference, request.asked_by) == (
        "pending",
        "DPO-2026-0142",
        territories.paris_person,
    )
    before = asker.get(f"/console/access/{request.id}")
    assert before.status_code == 403
    assert "S-1" not in before.text
    listed = approver.get("/console/access")
    assert "DPO-2026-0142" in listed.text
    assert territories.paris_person in listed.text  # the asker, by mapping id
    assert PERSON not in listed.text
    assert all(p not in listed.text for p in request.subject_pseudonyms)

    approved = decide(approver, request.id, "approve")
    assert (approved.status_code, approved.headers["location"]) == (303, "/console/access")
    assert "DPO-2026-0142" not in approver.get("/console/access").text  # decided, gone
    decided = the_request(sessions)
    assert (decided.state, decided.decided_by) == ("approved", approvers.paris)
    assert decided.shown_until is not None
    assert decided.decided_at is not None
    assert decided.shown_until - decided.decided_at == timedelta(hours=5)  # the setting's
    assert f"/console/access/{request.id}" in asker.get("/console/access").text
    assert approver.get(f"/console/access/{request.id}").status_code == 404  # asker only

    shown = asker.get(f"/console/access/{request.id}")
    assert shown.status_code == 200, shown.text
    assert "S-1" in shown.text
    assert "S-2" not in shown.text
    assert prefecture.caller.id in shown.text
    assert territories.paris_fund in shown.text  # a recipient, with its fields
    assert "renewal-refusal" in shown.text
    assert "<script>" not in shown.text

    pseudonyms = subject_of(IdentityKeys.from_store(gateway_keys), PERSON, None).pseudonyms
    assert_each_step_audited(sessions, territories, approvers, request.id, pseudonyms)


def assert_each_step_audited(
    sessions: sessionmaker[Session],
    territories: Territories,
    approvers: Approvers,
    request_id: str,
    pseudonyms: list[str],
) -> None:
    [asked_event] = events(sessions, AuditAction.CONSOLE_ACCESS_ASKED)
    assert (asked_event.outcome, asked_event.agent_id, asked_event.purpose) == (
        AuditOutcome.SUCCESS,
        territories.paris_person,
        PURPOSE,
    )
    assert asked_event.participant_id == territories.paris_auditor
    assert asked_event.object_ids == [request_id]
    assert asked_event.subject_pseudonyms == pseudonyms
    assert asked_event.detail == {"reference": "DPO-2026-0142", "identifier": "agdref"}
    [approved_event] = events(sessions, AuditAction.CONSOLE_ACCESS_APPROVED)
    assert (approved_event.outcome, approved_event.agent_id) == (
        AuditOutcome.SUCCESS,
        approvers.paris,
    )
    assert approved_event.object_ids == [request_id]
    assert approved_event.detail["asked_by"] == territories.paris_person
    viewed = events(sessions, AuditAction.CONSOLE_ACCESS_VIEWED)
    assert outcomes(sessions, AuditAction.CONSOLE_ACCESS_VIEWED) == [
        (AuditOutcome.REFUSED, territories.paris_person, "not-approved"),
        (AuditOutcome.REFUSED, approvers.paris, "not-found"),
        (AuditOutcome.SUCCESS, territories.paris_person, None),
    ]
    assert viewed[-1].subject_pseudonyms == pseudonyms
    assert viewed[-1].detail["decisions"] == 1
    assert viewed[-1].purpose == PURPOSE
    listed_events = events(sessions, AuditAction.CONSOLE_ACCESS_LISTED)
    assert listed_events
    assert all(not e.subject_pseudonyms for e in listed_events)


def test_the_asker_cannot_approve_their_own_request_nor_a_reader_any(
    visit: Callable[..., Visit],
    territories: Territories,
    approvers: Approvers,
    sessions: sessionmaker[Session],
) -> None:
    own = person_of(visit, approvers.paris_subject)
    reader = person_of(visit, territories.paris_subject)
    assert ask(own).status_code == 303
    request = the_request(sessions)

    assert "tableau-a-decider" not in own.get("/console/access").text
    assert decide(own, request.id, "approve").status_code == 403
    assert "tableau-a-decider" not in reader.get("/console/access").text
    assert decide(reader, request.id, "approve").status_code == 403
    assert decide(reader, request.id, "refuse").status_code == 403

    assert the_request(sessions).state == "pending"
    assert outcomes(sessions, AuditAction.CONSOLE_ACCESS_APPROVED) == [
        (AuditOutcome.REFUSED, approvers.paris, "own-request"),
        (AuditOutcome.REFUSED, territories.paris_person, "not-approver"),
    ]
    assert outcomes(sessions, AuditAction.CONSOLE_ACCESS_REFUSED) == [
        (AuditOutcome.REFUSED, territories.paris_person, "not-approver"),
    ]
    assert own.get(f"/console/access/{request.id}").status_code == 403  # still pending


def test_another_territorys_approver_sees_nothing_and_is_refused(
    visit: Callable[..., Visit],
    territories: Territories,
    approvers: Approvers,
    sessions: sessionmaker[Session],
) -> None:
    asker = person_of(visit, territories.paris_subject)
    marseille = person_of(visit, approvers.marseille_subject)
    assert ask(asker).status_code == 303
    request = the_request(sessions)

    listed = marseille.get("/console/access")
    assert listed.status_code == 200
    assert "DPO-2026-0142" not in listed.text
    assert request.id not in listed.text
    for verb in ("approve", "refuse"):
        refused = decide(marseille, request.id, verb)
        assert refused.status_code == 404
        assert "DPO-2026-0142" not in refused.text
    assert marseille.get(f"/console/access/{request.id}").status_code == 404

    assert the_request(sessions).state == "pending"
    for action in (AuditAction.CONSOLE_ACCESS_APPROVED, AuditAction.CONSOLE_ACCESS_REFUSED):
        [event] = events(sessions, action)
        assert (event.outcome, event.detail["problem"], event.participant_id) == (
            AuditOutcome.REFUSED,
            "not-found",
            territories.marseille_auditor,
        )
        assert event.agent_id == approvers.marseille


def test_a_refused_request_never_shows_and_forgets_the_person(
    visit: Callable[..., Visit],
    territories: Territories,
    approvers: Approvers,
    sessions: sessionmaker[Session],
) -> None:
    asker = person_of(visit, territories.paris_subject)
    approver = person_of(visit, approvers.paris_subject)
    assert ask(asker).status_code == 303
    request = the_request(sessions)

    assert decide(approver, request.id, "refuse").status_code == 303
    assert decide(approver, request.id, "approve").status_code == 409  # decided once

    refused = the_request(sessions)
    assert (refused.state, refused.decided_by) == ("refused", approvers.paris)
    assert (refused.subject_pseudonyms, refused.subject_indexes) == ([], [])
    assert refused.shown_until is None
    assert asker.get(f"/console/access/{request.id}").status_code == 403
    listed = asker.get("/console/access").text
    assert f'/console/access/{request.id}"' not in listed
    assert "Refusée" in listed
    assert outcomes(sessions, AuditAction.CONSOLE_ACCESS_REFUSED) == [
        (AuditOutcome.SUCCESS, approvers.paris, None)
    ]
    assert outcomes(sessions, AuditAction.CONSOLE_ACCESS_APPROVED) == [
        (AuditOutcome.REFUSED, approvers.paris, "already-decided")
    ]
    assert [e.outcome for e in events(sessions, AuditAction.CONSOLE_ACCESS_VIEWED)] == [
        AuditOutcome.REFUSED
    ]


def test_the_report_is_gone_once_its_time_is_over(
    visit: Callable[..., Visit],
    territories: Territories,
    approvers: Approvers,
    sessions: sessionmaker[Session],
) -> None:
    asker = person_of(visit, territories.paris_subject)
    approver = person_of(visit, approvers.paris_subject)
    assert ask(asker).status_code == 303
    request = the_request(sessions)
    assert decide(approver, request.id, "approve").status_code == 303
    assert asker.get(f"/console/access/{request.id}").status_code == 200
    with sessions.begin() as session:
        session.execute(
            update(ConsoleAccessRequest).values(shown_until=utcnow() - timedelta(seconds=1))
        )

    assert asker.get(f"/console/access/{request.id}").status_code == 410
    listed = asker.get("/console/access").text
    assert f'/console/access/{request.id}"' not in listed
    expired = the_request(sessions)
    assert (expired.subject_pseudonyms, expired.subject_indexes) == ([], [])  # forgotten
    assert asker.get(f"/console/access/{request.id}").status_code == 410
    assert outcomes(sessions, AuditAction.CONSOLE_ACCESS_VIEWED) == [
        (AuditOutcome.SUCCESS, territories.paris_person, None),
        (AuditOutcome.REFUSED, territories.paris_person, "access-expired"),
        (AuditOutcome.REFUSED, territories.paris_person, "access-expired"),
    ]


def test_asking_and_viewing_need_the_data_subject_request_purpose_and_a_valid_request(
    visit: Callable[..., Visit],
    territories: Territories,
    approvers: Approvers,
    sessions: sessionmaker[Session],
) -> None:
    other_purpose = person_of(visit, territories.paris_subject, "anti-fraud-control")
    page = other_purpose.get("/console/access")
    assert page.status_code == 200
    assert 'name="number"' not in page.text
    assert ask(other_purpose).status_code == 403
    asker = person_of(visit, approvers.paris_subject)
    assert ask(asker, reference="DUPONT").status_code == 400  # a name, not a reference
    assert ask(asker, reference="<b>1</b>").status_code == 400
    assert ask(asker, number="not-a-number").status_code == 400
    assert ask(asker, kind="passport").status_code == 400
    token = asker.csrf("/console/access")
    no_token = {"reference": "DPO-1", "kind": "agdref", "number": PERSON}
    assert asker.post("/console/access", no_token).status_code == 403
    assert asker.post("/console/access", {**no_token, "csrf": token}, origin=None).status_code == (
        403
    )

    with sessions() as session:
        assert session.scalars(select(ConsoleAccessRequest)).all() == []
    assert outcomes(sessions, AuditAction.CONSOLE_ACCESS_ASKED) == [
        (AuditOutcome.REFUSED, territories.paris_person, "purpose-data-subject-request"),
        (AuditOutcome.REFUSED, approvers.paris, "invalid-reference"),
        (AuditOutcome.REFUSED, approvers.paris, "invalid-reference"),
        (AuditOutcome.REFUSED, approvers.paris, "invalid-identifier"),
        (AuditOutcome.REFUSED, approvers.paris, "invalid-identifier"),
        (AuditOutcome.REFUSED, approvers.paris, "csrf"),
        (AuditOutcome.REFUSED, approvers.paris, "csrf"),
    ]


def test_the_persons_number_is_never_stored_in_clear(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    asker = person_of(visit, territories.paris_subject)
    assert ask(asker, reference="DPO-1", number=PERSON).status_code == 303
    assert ask(asker, reference="DPO-2", kind="nir", number=NIR).status_code == 303

    with sessions() as session:
        rows = session.execute(text("SELECT * FROM console_access_requests")).all()
        stored = list(rows)
        events_text = " ".join(
            str(row) for row in session.execute(text("SELECT * FROM audit_events")).all()
        )
    assert len(stored) == 2
    dump = " ".join(str(value) for row in stored for value in row)
    compact = re.sub(r"\s", "", dump)
    for clear in (PERSON, NIR_NORMALISED, NIR_NORMALISED[:13]):
        assert clear not in compact
        assert clear not in re.sub(r"\s", "", events_text)
    keys = IdentityKeys.from_store(gateway_keys)
    by_reference = {r.reference: r for r in (the_requests(sessions))}
    expected = subject_of(keys, None, NIR)
    assert by_reference["DPO-2"].subject_indexes == expected.indexes
    assert by_reference["DPO-2"].subject_pseudonyms == expected.pseudonyms


def the_requests(sessions: sessionmaker[Session]) -> list[ConsoleAccessRequest]:
    with sessions() as session:
        return list(session.scalars(select(ConsoleAccessRequest)))


def request_row(
    auditor: str, state: str, asked_ago: timedelta, **values: Any
) -> ConsoleAccessRequest:
    fields: dict[str, Any] = {
        "subject_pseudonyms": ["agdref:" + "a" * 32],
        "subject_indexes": ["idx"],
        **values,
    }
    return ConsoleAccessRequest(
        id=new_id(),
        reference=f"DPO-{new_id()[:8]}".upper(),
        auditor_id=auditor,
        asked_by=new_id(),
        state=state,
        created_at=utcnow() - asked_ago,
        **fields,
    )


def test_the_worker_expires_the_requests_whose_time_is_over_and_audits_it(
    territories: Territories, sessions: sessionmaker[Session], settings: Settings
) -> None:
    paris, marseille = territories.paris_auditor, territories.marseille_auditor
    hour = timedelta(hours=1)
    waited = settings.console_access_pending_hours * hour
    rows = {
        "stale": request_row(paris, "pending", waited + hour),
        "stale-elsewhere": request_row(marseille, "pending", waited + hour),
        "waiting": request_row(paris, "pending", waited - hour),
        "over": request_row(
            paris, "approved", 2 * hour, decided_at=utcnow() - hour, shown_until=utcnow() - hour
        ),
        "shown": request_row(
            paris, "approved", 2 * hour, decided_at=utcnow(), shown_until=utcnow() + hour
        ),
        "refused": request_row(paris, "refused", waited + hour, subject_pseudonyms=[]),
    }
    with sessions.begin() as session:
        for row in rows.values():
            repository.add_access_request(session, row)
    ids = {name: row.id for name, row in rows.items()}

    assert jobs.expire_console_access(sessions, settings) == 3
    assert jobs.expire_console_access(sessions, settings) == 0  # safe to run twice

    with sessions() as session:
        found = {r.id: r for r in session.scalars(select(ConsoleAccessRequest))}
    expired = {"stale", "stale-elsewhere", "over"}
    for name, request_id in ids.items():
        row = found[request_id]
        if name in expired:
            assert (row.state, row.subject_pseudonyms, row.subject_indexes) == ("expired", [], [])
        else:
            assert row.state == rows[name].state
    assert found[ids["waiting"]].subject_indexes == ["idx"]  # still waiting, kept
    assert found[ids["shown"]].subject_indexes == ["idx"]
    # One event per auditor, in its name: its territory's auditors find it in their search.
    by_auditor = {e.acting_for: e for e in events(sessions, AuditAction.CONSOLE_ACCESS_EXPIRED)}
    assert set(by_auditor) == {paris, marseille}
    assert sorted(by_auditor[paris].object_ids) == sorted([ids["stale"], ids["over"]])
    assert by_auditor[paris].detail == {"pending": 1, "approved": 1, "via": "worker"}
    assert by_auditor[marseille].object_ids == [ids["stale-elsewhere"]]
    assert by_auditor[marseille].detail == {"pending": 1, "approved": 0, "via": "worker"}
    for event in by_auditor.values():
        assert event.outcome == AuditOutcome.SUCCESS
        assert event.participant_id == event.acting_for
        assert event.subject_pseudonyms == []  # no person in it
        assert "agdref:" not in str(event.detail)
    assert "expire-console-access" in jobs.JOBS


def test_a_request_that_waited_too_long_cannot_be_approved_and_is_listed_expired(
    visit: Callable[..., Visit],
    territories: Territories,
    approvers: Approvers,
    sessions: sessionmaker[Session],
) -> None:
    asker = person_of(visit, territories.paris_subject, console_access_pending_hours=2)
    approver = person_of(visit, approvers.paris_subject, console_access_pending_hours=2)
    assert ask(asker).status_code == 303
    request = the_request(sessions)
    token = approver.csrf("/console/access")  # the page, before the request is too old
    with sessions.begin() as session:
        session.execute(
            update(ConsoleAccessRequest).values(created_at=utcnow() - timedelta(hours=3))
        )

    refused = approver.post(f"/console/access/{request.id}/approve", {"csrf": token})
    assert refused.status_code == 410
    assert "a expiré" in refused.text
    assert the_request(sessions).state == "pending"  # not decided; the next listing expires it
    listed = asker.get("/console/access").text
    assert "Expirée" in listed
    expired = the_request(sessions)
    assert (expired.state, expired.subject_pseudonyms, expired.subject_indexes) == (
        "expired",
        [],
        [],
    )
    assert "DPO-2026-0142" not in approver.get("/console/access").text
    assert decide(approver, request.id, "approve").status_code == 410  # expired, still
    assert decide(approver, request.id, "refuse").status_code == 410
    assert outcomes(sessions, AuditAction.CONSOLE_ACCESS_APPROVED) == [
        (AuditOutcome.REFUSED, approvers.paris, "request-expired"),
        (AuditOutcome.REFUSED, approvers.paris, "request-expired"),
    ]
    listed_events = events(sessions, AuditAction.CONSOLE_ACCESS_LISTED)
    [expiring] = [e for e in listed_events if "expired" in e.detail]
    assert expiring.agent_id == territories.paris_person  # the first listing after its time
    assert expiring.detail["expired"] == {"pending": 1, "approved": 0}
    assert asker.get(f"/console/access/{request.id}").status_code == 403
