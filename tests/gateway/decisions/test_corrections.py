"""Corrections: every kind adds a version and overwrites nothing; idempotent on the
correction's reference; an ended decision takes only data corrections."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from gateway.decisions.models import DecisionVersion
from tests.support.audit import assert_no_clear_identity, assert_pseudonyms, event_of
from tests.support.database import counts
from tests.support.factories import NIR_NORMALISED, days_ago, decision, identity, tomorrow
from tests.support.problems import field_problem, problem

if TYPE_CHECKING:
    import httpx2
    from sqlalchemy.orm import Session

    from tests.support.actors import Prefecture

PERMIT = {"category": "salarié", "number": "7500000001", "expiry_date": "2026-05-31"}
NEW_PERMIT = {"category": "carte de résident", "number": "7500009999", "expiry_date": "2036-05-31"}


def correction(kind: str, reference: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "reference": reference, "correction_date": days_ago(2), **fields}


def created(response: httpx2.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def identity_ids(session: Session, decision_id: str) -> list[str]:
    statement = (
        select(DecisionVersion.identity_id)
        .where(DecisionVersion.decision_id == decision_id)
        .order_by(DecisionVersion.version)
    )
    return list(session.scalars(statement))


@pytest.fixture
def withdrawal(prefecture: Prefecture) -> dict[str, Any]:
    """A permit withdrawal with its permit, as first posted."""
    return prefecture.created(
        decision("PP-2026-0001", "permit-withdrawal", withdrawn_document="permit", permit=PERMIT)
    )


# -- every kind -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status"), [("annulment", "annulled"), ("withdrawal", "withdrawn")]
)
def test_an_ending_correction_adds_a_version_and_ends_the_decision(
    prefecture: Prefecture,
    withdrawal: dict[str, Any],
    session: Session,
    kind: str,
    status: str,
) -> None:
    before = counts(session)
    response = prefecture.correct(withdrawal["id"], correction(kind, "TA-PARIS-2601234"))
    body = created(response)

    assert body["status"] == status
    assert body["current_version"] == 2
    assert body["updated_at"] > withdrawal["updated_at"]
    first, second = body["versions"]
    assert first == withdrawal["versions"][0]  # nothing overwritten
    assert second["version"] == 2
    assert second["status"] == status
    assert second["correction"] == {
        "kind": kind,
        "reference": "TA-PARIS-2601234",
        "correction_date": days_ago(2),
    }
    # The rest of the decision carries over unchanged.
    for name in ("kind", "withdrawn_document", "decision_date", "notification_date", "permit"):
        assert second[name] == first[name]
    assert second["identity"] == first["identity"]
    # A status change seals no new identity.
    assert counts(session) == {
        "decisions": before["decisions"],
        "decision_versions": before["decision_versions"] + 1,
        "identities": before["identities"],
    }
    first_id, second_id = identity_ids(session, withdrawal["id"])
    assert first_id == second_id
    assert prefecture.read(withdrawal["id"]).json() == body

    event = event_of(session, response)
    assert event.action == "decision:corrected"
    assert event.outcome == "success"
    assert event.object_ids == [withdrawal["id"]]
    assert event.detail == {"correction": kind, "replayed": False}
    assert_pseudonyms(event, "agdref", "nir")


def test_a_supersession_returns_the_new_permit_in_the_new_version(
    prefecture: Prefecture, withdrawal: dict[str, Any], session: Session
) -> None:
    before = counts(session)
    body = created(
        prefecture.correct(
            withdrawal["id"], correction("superseded", "NEW-PERMIT-1", new_permit=NEW_PERMIT)
        )
    )
    assert body["status"] == "superseded"
    first, second = body["versions"]
    assert first["permit"] == PERMIT
    assert second["permit"] == NEW_PERMIT
    assert second["identity"] == first["identity"]
    # The permit number is sealed with the identity, so the new one seals a new identity.
    old_identity, new_identity = identity_ids(session, withdrawal["id"])
    assert old_identity != new_identity
    assert counts(session)["identities"] == before["identities"] + 1
    assert_no_clear_identity(session, "7500009999", "7500000001", "N'Diaye")


def test_a_supersession_by_a_permit_of_unknown_number_does_not_show_the_old_number(
    prefecture: Prefecture, withdrawal: dict[str, Any]
) -> None:
    new_permit = {"category": "carte de résident", "expiry_date": "2036-05-31"}
    body = created(
        prefecture.correct(
            withdrawal["id"], correction("superseded", "NEW-PERMIT-1", new_permit=new_permit)
        )
    )
    first, second = body["versions"]
    assert first["permit"] == PERMIT
    assert second["permit"] == {**new_permit, "number": None}


def test_a_data_correction_seals_a_new_identity_and_keeps_the_old_one_readable(
    prefecture: Prefecture, withdrawal: dict[str, Any], session: Session
) -> None:
    corrected = identity(
        agdref_number="7512345670",
        social_security_number=None,
        birth_name="Ndiaye",
        usage_name=None,
        first_names=["Aissatou"],
        birth_date="1985-XX-XX",
    )
    response = prefecture.correct(
        withdrawal["id"], correction("data-correction", "FIX-0001", identity=corrected)
    )
    body = created(response)
    assert body["status"] == "active"  # a data correction ends nothing
    first, second = body["versions"]
    assert first == withdrawal["versions"][0]
    assert first["identity"]["birth_name"] == "N'Diaye"
    assert first["identity"]["social_security_number"]["number"] == NIR_NORMALISED
    assert second["identity"]["birth_name"] == "Ndiaye"
    assert second["identity"]["first_names"] == ["Aissatou"]
    assert second["identity"]["agdref_number"] == "7512345670"
    assert second["identity"]["birth_date"] == "1985"
    assert second["identity"]["social_security_number"] is None
    assert second["identity"]["usage_name"] is None
    assert second["permit"] == PERMIT  # the permit number goes along with the new identity
    assert second["correction"]["kind"] == "data-correction"
    first_id, second_id = identity_ids(session, withdrawal["id"])
    assert first_id != second_id

    # The event names both the former and the corrected person, by pseudonym only.
    event = event_of(session, response)
    pseudonyms = event.subject_pseudonyms
    assert len(pseudonyms) == 3
    assert sorted(p.split(":")[0] for p in pseudonyms) == ["agdref", "agdref", "nir"]
    assert pseudonyms == sorted(pseudonyms)
    assert_no_clear_identity(
        session, "Ndiaye", "N'Diaye", "Aissatou", "7512345670", "7512345678", NIR_NORMALISED
    )


def test_a_data_correction_of_dates_only_keeps_the_identity(
    prefecture: Prefecture, withdrawal: dict[str, Any], session: Session
) -> None:
    before = counts(session)
    body = created(
        prefecture.correct(
            withdrawal["id"],
            correction(
                "data-correction",
                "FIX-DATES",
                notification_date=days_ago(40),
                effect_date=days_ago(30),
            ),
        )
    )
    first, second = body["versions"]
    assert (second["notification_date"], second["effect_date"]) == (days_ago(40), days_ago(30))
    assert second["decision_date"] == first["decision_date"]
    assert (first["notification_date"], first["effect_date"]) == (days_ago(55), days_ago(50))
    assert second["identity"] == first["identity"]
    assert counts(session)["identities"] == before["identities"]
    first_id, second_id = identity_ids(session, withdrawal["id"])
    assert first_id == second_id


def test_the_history_keeps_every_version_unchanged(
    prefecture: Prefecture, withdrawal: dict[str, Any]
) -> None:
    history = [withdrawal["versions"][0]]
    steps = [
        correction("data-correction", "FIX-1", decision_date=days_ago(59)),
        correction("data-correction", "FIX-2", identity=identity(birth_name="Diaye")),
        correction("withdrawal", "ABROGATION-1"),
        correction("data-correction", "FIX-3", effect_date=days_ago(20)),
    ]
    for number, step in enumerate(steps, start=2):
        body = created(prefecture.correct(withdrawal["id"], step))
        assert body["current_version"] == number
        assert [v["version"] for v in body["versions"]] == list(range(1, number + 1))
        assert body["versions"][: number - 1] == history  # earlier versions untouched
        history.append(body["versions"][-1])

    assert [v["status"] for v in history] == [
        "active",
        "active",
        "active",
        "withdrawn",
        "withdrawn",
    ]
    assert [v["correction"] and v["correction"]["reference"] for v in history] == [
        None,
        "FIX-1",
        "FIX-2",
        "ABROGATION-1",
        "FIX-3",
    ]
    assert [v["decision_date"] for v in history] == [days_ago(60)] + [days_ago(59)] * 4
    assert [v["identity"]["birth_name"] for v in history] == ["N'Diaye", "N'Diaye"] + ["Diaye"] * 3
    assert history[-1]["effect_date"] == days_ago(20)
    assert prefecture.read(withdrawal["id"]).json()["versions"] == history


# -- idempotency and ending -----------------------------------------------------------


def test_a_correction_posted_again_is_the_same_version(
    prefecture: Prefecture, withdrawal: dict[str, Any], session: Session
) -> None:
    annulment = correction("annulment", "TA-1")
    first = created(prefecture.correct(withdrawal["id"], annulment))
    before = counts(session)

    again = prefecture.correct(withdrawal["id"], annulment)
    assert created(again, 200) == first
    assert counts(session) == before
    event = event_of(session, again)
    assert event.detail == {"correction": "annulment", "replayed": True}
    assert_pseudonyms(event, "agdref", "nir")

    # Still a replay after a later correction: found by its reference, not refused as
    # ending an ended decision.
    created(
        prefecture.correct(
            withdrawal["id"], correction("data-correction", "FIX-1", effect_date=days_ago(45))
        )
    )
    replay = created(prefecture.correct(withdrawal["id"], annulment), 200)
    assert replay["current_version"] == 3


def test_a_correction_reference_reused_with_another_body_is_a_conflict(
    prefecture: Prefecture, withdrawal: dict[str, Any], session: Session
) -> None:
    created(
        prefecture.correct(
            withdrawal["id"], correction("data-correction", "FIX-1", effect_date=days_ago(45))
        )
    )
    before = counts(session)
    response = prefecture.correct(
        withdrawal["id"], correction("data-correction", "FIX-1", effect_date=days_ago(44))
    )
    body = field_problem(response, 409, "reference", "reference-reused")
    assert body["type"] == "/problems/reference-reused"
    assert counts(session) == before
    assert event_of(session, response).outcome == "refused"

    # A correction reference belongs to its decision: another decision may use it.
    other = prefecture.created(decision("PP-2026-0002"))
    reused = prefecture.correct(
        other["id"], correction("data-correction", "FIX-1", effect_date=days_ago(44))
    )
    assert created(reused)["current_version"] == 2


@pytest.mark.parametrize("first", ["annulment", "withdrawal", "superseded"])
@pytest.mark.parametrize("then", ["annulment", "withdrawal", "superseded"])
def test_ending_an_ended_decision_is_a_conflict(
    prefecture: Prefecture,
    withdrawal: dict[str, Any],
    session: Session,
    first: str,
    then: str,
) -> None:
    def ending(kind: str, reference: str) -> dict[str, Any]:
        extra = {"new_permit": NEW_PERMIT} if kind == "superseded" else {}
        return correction(kind, reference, **extra)

    ended = created(prefecture.correct(withdrawal["id"], ending(first, "END-1")))
    before = counts(session)
    response = prefecture.correct(withdrawal["id"], ending(then, "END-2"))
    body = field_problem(response, 409, "kind", "decision-already-ended")
    assert body["type"] == "/problems/decision-already-ended"
    assert counts(session) == before
    event = event_of(session, response)
    assert (event.outcome, event.detail["problem"]) == ("refused", "decision-already-ended")
    assert prefecture.read(withdrawal["id"]).json() == ended


def test_a_data_correction_of_an_ended_decision_is_allowed(
    prefecture: Prefecture, withdrawal: dict[str, Any], session: Session
) -> None:
    created(prefecture.correct(withdrawal["id"], correction("annulment", "TA-1")))
    response = prefecture.correct(
        withdrawal["id"],
        correction("data-correction", "FIX-1", identity=identity(birth_name="Ndiaye")),
    )
    body = created(response)
    assert body["status"] == "annulled"
    assert body["current_version"] == 3
    assert [v["status"] for v in body["versions"]] == ["active", "annulled", "annulled"]
    assert [v["identity"]["birth_name"] for v in body["versions"]] == [
        "N'Diaye",
        "N'Diaye",
        "Ndiaye",
    ]
    assert len(set(identity_ids(session, withdrawal["id"]))) == 2


def test_a_correction_of_an_unknown_decision_is_not_found(prefecture: Prefecture) -> None:
    response = prefecture.correct(
        "00000000-0000-0000-0000-000000000000", correction("annulment", "TA-1")
    )
    problem(response, 404, "not-found")


# -- what a correction must say -------------------------------------------------------

INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "empty-data-correction",
        correction("data-correction", "FIX-1"),
        "body",
        "data-correction-empty",
    ),
    (
        "supersession-without-permit",
        correction("superseded", "NEW-1"),
        "body",
        "new-permit-required",
    ),
    (
        "permit-without-supersession",
        correction("annulment", "TA-1", new_permit=NEW_PERMIT),
        "body",
        "new-permit-without-supersession",
    ),
    (
        "permit-with-data-correction",
        correction("data-correction", "FIX-1", effect_date=days_ago(3), new_permit=NEW_PERMIT),
        "body",
        "new-permit-without-supersession",
    ),
    (
        "identity-in-annulment",
        correction("annulment", "TA-1", identity=identity()),
        "body",
        "data-in-status-correction",
    ),
    (
        "date-in-withdrawal",
        correction("withdrawal", "AB-1", decision_date=days_ago(3)),
        "body",
        "data-in-status-correction",
    ),
    (
        "date-in-supersession",
        correction("superseded", "NEW-1", new_permit=NEW_PERMIT, effect_date=days_ago(3)),
        "body",
        "data-in-status-correction",
    ),
    (
        "correction-in-future",
        {**correction("annulment", "TA-1"), "correction_date": tomorrow()},
        "correction_date",
        "date-in-future",
    ),
    (
        "corrected-decision-in-future",
        correction("data-correction", "FIX-1", decision_date=tomorrow()),
        "decision_date",
        "date-in-future",
    ),
    (
        "corrected-notification-in-future",
        correction("data-correction", "FIX-1", notification_date=tomorrow()),
        "notification_date",
        "date-in-future",
    ),
    (
        "corrected-effect-too-far",
        correction("data-correction", "FIX-1", effect_date="2999-01-01"),
        "effect_date",
        "effect-too-far",
    ),
    (
        # The withdrawal was notified 55 days ago: a decision 10 days ago comes after it.
        "corrected-decision-after-its-notification",
        correction("data-correction", "FIX-1", decision_date=days_ago(10)),
        "notification_date",
        "notification-before-decision",
    ),
    (
        "corrected-notification-before-decision",
        correction("data-correction", "FIX-1", notification_date=days_ago(61)),
        "notification_date",
        "notification-before-decision",
    ),
    (
        "corrected-effect-before-decision",
        correction(
            "data-correction",
            "FIX-1",
            decision_date=days_ago(49),
            notification_date=days_ago(48),
        ),
        "effect_date",
        "effect-before-decision",
    ),
    (
        "corrected-identity-invalid",
        correction(
            "data-correction",
            "FIX-1",
            identity=identity(social_security_number={"number": "295109912611194", "type": "nir"}),
        ),
        "identity.social_security_number",
        "nir-key",
    ),
    (
        "corrected-name-control-character",
        correction("data-correction", "FIX-1", identity=identity(birth_name="N\x1bDiaye")),
        "identity.birth_name",
        "name-control-characters",
    ),
    ("unknown-kind", correction("reversal", "X-1"), "kind", "enum"),
    (
        "malformed-reference",
        correction("annulment", "TA 1"),
        "reference",
        "string_pattern_mismatch",
    ),
    (
        "unknown-member",
        correction("annulment", "TA-1", status="annulled"),
        "status",
        "extra_forbidden",
    ),
]


@pytest.mark.parametrize(
    ("body", "field", "rule"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_an_invalid_correction_is_refused_and_stores_nothing(
    prefecture: Prefecture,
    withdrawal: dict[str, Any],
    session: Session,
    body: dict[str, Any],
    field: str,
    rule: str,
) -> None:
    before = counts(session)
    response = prefecture.correct(withdrawal["id"], body)
    field_problem(response, 400, field, rule)
    assert counts(session) == before
    event = event_of(session, response)
    assert (event.action, event.outcome) == ("decision:corrected", "refused")
    assert prefecture.read(withdrawal["id"]).json() == withdrawal
