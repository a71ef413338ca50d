"""Posting and reading decisions: every kind, identities kept exactly as sent, idempotency
on the prefecture's reference, refusals that name the field and the rule and store
nothing, isolation between prefectures, delegation, listing, and an audit trail that
names people only by pseudonym.
"""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select, text

from gateway.auditlog.models import AuditEvent
from gateway.decisions.models import DecisionVersion
from tests.support.actors import (
    DECISIONS,
    Prefecture,
    Register,
    api_headers,
    make_prefecture,
    token_for,
)
from tests.support.audit import (
    assert_no_clear_identity,
    assert_pseudonyms,
    audit_text,
    event_of,
)
from tests.support.database import counts
from tests.support.factories import (
    NIR,
    NIR_NORMALISED,
    days_ago,
    decision,
    identity,
    tomorrow,
)
from tests.support.problems import field_problem, problem

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from gateway.settings import Settings


@pytest.fixture
def other_prefecture(client: TestClient, settings: Settings, participant: Register) -> Prefecture:
    """The prefecture of Marseille (département 13), beside ``prefecture``'s Paris."""
    return make_prefecture(client, settings, participant, departements=["13"], prefix="pref-13")


# -- every kind -----------------------------------------------------------------------

KINDS: list[tuple[str, dict[str, Any]]] = [
    (
        "permit-withdrawal",
        {
            "withdrawn_document": "permit",
            "public_order": True,
            "permit": {
                "category": "vie privée et familiale",
                "number": "7500000001",
                "expiry_date": "2027-05-31",
            },
            "legal_basis": "CESEDA L. 432-4",
        },
    ),
    ("permit-withdrawal", {"withdrawn_document": "receipt"}),
    ("permit-withdrawal", {"withdrawn_document": "aps"}),
    ("renewal-refusal", {"permit": {"category": "salarié", "expiry_date": "2025-01-31"}}),
    ("first-permit-refusal", {"removal_measures": ["oqtf", "irtf"], "public_order": True}),
    ("first-permit-refusal", {}),
    ("oqtf", {}),
    ("irtf", {}),
    ("expulsion", {"public_order": True}),
]


@pytest.mark.parametrize(
    ("kind", "fields"), KINDS, ids=[f"{kind}-{i}" for i, (kind, _) in enumerate(KINDS)]
)
def test_each_kind_is_stored_and_read_back(
    prefecture: Prefecture, session: Session, kind: str, fields: dict[str, Any]
) -> None:
    before = counts(session)
    body = decision("PP-2026-0001", kind, **fields)
    created = prefecture.created(body)

    assert counts(session) == {name: n + 1 for name, n in before.items()}
    read = prefecture.read(created["id"])
    assert read.status_code == 200, read.text
    assert read.json() == created
    assert created["reference"] == "PP-2026-0001"
    assert created["departement"] == "75"  # the prefecture's only one, by default
    assert created["kind"] == kind
    assert created["status"] == "active"
    assert created["current_version"] == 1
    (version,) = created["versions"]
    assert version["version"] == 1
    assert version["status"] == "active"
    assert version["kind"] == kind
    assert version["correction"] is None
    assert version["withdrawn_document"] == fields.get("withdrawn_document")
    assert version["removal_measures"] == fields.get("removal_measures", [])
    assert version["public_order"] is fields.get("public_order", False)
    for name in ("decision_date", "notification_date", "effect_date"):
        assert version[name] == body[name]
    assert version["legal_basis"] == fields.get("legal_basis")
    permit = fields.get("permit")
    if permit is None:
        assert version["permit"] is None
    else:
        assert version["permit"] == {
            "category": permit.get("category"),
            "number": permit.get("number"),
            "expiry_date": permit.get("expiry_date"),
        }
    assert version["identity"]["birth_name"] == "N'Diaye"
    assert version["identity"]["social_security_number"] == {
        "number": NIR_NORMALISED,
        "type": "nia",
    }

    row = session.scalars(
        select(DecisionVersion).where(DecisionVersion.decision_id == created["id"])
    ).one()
    assert row.kind == kind
    assert row.public_order is fields.get("public_order", False)


def test_withdrawn_document_and_removal_measures_go_only_with_residence_decisions(
    prefecture: Prefecture,
) -> None:
    response = prefecture.post(decision("PP-1", "renewal-refusal", withdrawn_document="receipt"))
    field_problem(response, 400, "body", "withdrawn-document-without-withdrawal")
    response = prefecture.post(decision("PP-2", "oqtf", removal_measures=["irtf"]))
    field_problem(response, 400, "body", "removal-measures-without-residence-decision")


# -- identities exactly as sent -------------------------------------------------------

NAMES = [
    "N'Diaye",
    'O"Brien',
    "Ben; Ali",
    "محمد",
    "Мухаммед",
    "Nguyễn Thị",
    "d'Artagnan-Ölçer",
    "Robert'); DROP TABLE identities;--",
]


@pytest.mark.parametrize("name", NAMES)
def test_names_are_stored_and_returned_exactly_as_sent(prefecture: Prefecture, name: str) -> None:
    person = identity(birth_name=name, usage_name=name, first_names=[name, "Marie", "محمد"])
    created = prefecture.created(decision("PP-NAMES", identity=person))
    read = prefecture.read(created["id"]).json()
    returned = read["versions"][0]["identity"]
    assert returned["birth_name"] == name
    assert returned["usage_name"] == name
    assert returned["first_names"] == [name, "Marie", "محمد"]
    assert returned["agdref_number"] == "7512345678"
    assert returned["agdref_possible_lost_leading_zero"] is False
    assert returned["birth_date"] == "1985-04-17"
    assert returned["place_of_birth"] == "99341"
    assert returned["residence_departement"] == "75"


def test_a_partial_birth_date_is_kept_partial(prefecture: Prefecture) -> None:
    created = prefecture.created(decision("PP-1", identity=identity(birth_date="1985-XX-XX")))
    assert created["versions"][0]["identity"]["birth_date"] == "1985"
    created = prefecture.created(decision("PP-2", identity=identity(birth_date="1985-04")))
    assert created["versions"][0]["identity"]["birth_date"] == "1985-04"


def test_the_permit_number_is_returned_but_kept_sealed(
    prefecture: Prefecture, session: Session
) -> None:
    permit = {"category": "étudiant", "number": "7599ABC123", "expiry_date": "2026-09-30"}
    created = prefecture.created(decision("PP-PERMIT", "permit-withdrawal", permit=permit))
    assert created["versions"][0]["permit"] == permit
    # The number identifies the person's file: it is in no clear column.
    for row in session.execute(select(DecisionVersion.__table__)).mappings():
        assert "7599ABC123" not in json.dumps(dict(row), default=str)
    assert_no_clear_identity(session, "7599ABC123")


def test_a_nine_digit_agdref_number_is_flagged_as_a_possibly_lost_leading_zero(
    prefecture: Prefecture, session: Session
) -> None:
    nine = prefecture.created(
        decision("PP-9", identity=identity(agdref_number="512345678", social_security_number=None))
    )
    returned = nine["versions"][0]["identity"]
    assert returned["agdref_number"] == "512345678"  # as sent, never padded
    assert returned["agdref_possible_lost_leading_zero"] is True

    ten = prefecture.created(
        decision(
            "PP-10", identity=identity(agdref_number="0512345678", social_security_number=None)
        )
    )
    assert ten["versions"][0]["identity"]["agdref_possible_lost_leading_zero"] is False
    # Both readings are the same person for the audit trail.
    (nine_event,) = [e for e in session.scalars(select(AuditEvent)) if nine["id"] in e.object_ids]
    (ten_event,) = [e for e in session.scalars(select(AuditEvent)) if ten["id"] in e.object_ids]
    assert assert_pseudonyms(nine_event, "agdref") == assert_pseudonyms(ten_event, "agdref")


# -- idempotency ----------------------------------------------------------------------


def test_the_same_body_again_is_the_same_decision(prefecture: Prefecture, session: Session) -> None:
    body = decision("PP-REPLAY", "permit-withdrawal", withdrawn_document="aps")
    first = prefecture.created(body)
    before = counts(session)

    again = prefecture.post(body)
    assert again.status_code == 200, again.text
    assert again.json() == first
    assert counts(session) == before
    event = event_of(session, again)
    assert event.action == "decision:created"
    assert event.outcome == "success"
    assert event.detail == {"kind": "permit-withdrawal", "replayed": True}
    assert event.object_ids == [first["id"]]

    # The same decision, written differently but meaning the same, is a replay too.
    unspaced = {
        **body,
        "identity": identity(social_security_number={"number": NIR_NORMALISED, "type": "nia"}),
    }
    assert prefecture.post(unspaced).status_code == 200


def test_the_same_reference_with_another_body_is_a_conflict(
    prefecture: Prefecture, session: Session
) -> None:
    body = decision("PP-REUSED")
    first = prefecture.created(body)
    before = counts(session)

    changed = {**body, "effect_date": body["decision_date"]}
    response = prefecture.post(changed)
    problem_body = field_problem(response, 409, "reference", "reference-reused")
    assert problem_body["type"] == "/problems/reference-reused"
    assert problem_body["errors"][0]["field"] == "reference"
    assert first["id"] in problem_body["detail"]
    assert counts(session) == before
    event = event_of(session, response)
    assert event.outcome == "refused"
    assert event.detail["problem"] == "reference-reused"
    # Another person under the same reference is no replay either.
    other_person = {**body, "identity": identity(birth_name="Ndiaye")}
    field_problem(prefecture.post(other_person), 409, "reference", "reference-reused")
    assert counts(session) == before
    assert prefecture.read(first["id"]).json() == first


# -- bad input ------------------------------------------------------------------------


def _with_identity(**overrides: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["identity"] = identity(**overrides)

    return change


def _with(**fields: Any) -> Callable[[dict[str, Any]], None]:
    """Set these fields; a function is called when the body is made (``tomorrow``: the
    day after the test's, not after the day the tests were collected)."""

    def change(body: dict[str, Any]) -> None:
        body.update({name: value() if callable(value) else value for name, value in fields.items()})

    return change


BAD_INPUTS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "nir-wrong-key",
        _with_identity(social_security_number={"number": "2 95 10 99 126 111 94", "type": "nir"}),
        "identity.social_security_number",
        "nir-key",
    ),
    (
        "nnp-with-a-key",
        _with_identity(social_security_number={"number": NIR, "type": "nnp"}),
        "identity.social_security_number",
        "nnp-has-no-key",
    ),
    (
        "agdref-letters",
        _with_identity(agdref_number="75ABC45678"),
        "identity.agdref_number",
        "agdref-format",
    ),
    (
        "agdref-eleven-digits",
        _with_identity(agdref_number="75123456789"),
        "identity.agdref_number",
        "agdref-format",
    ),
    ("departement-unknown", _with(departement="20"), "departement", "departement-unknown"),
    (
        "residence-departement-unknown",
        _with_identity(residence_departement="96"),
        "identity.residence_departement",
        "departement-unknown",
    ),
    (
        "cog-country-unknown",
        _with_identity(place_of_birth="99700"),
        "identity.place_of_birth",
        "cog-country",
    ),
    (
        "cog-malformed",
        _with_identity(place_of_birth="ABCDE"),
        "identity.place_of_birth",
        "cog-format",
    ),
    (
        "nationality-commune",
        _with_identity(nationality="75056"),
        "identity.nationality",
        "nationality-format",
    ),
    ("decision-in-future", _with(decision_date=tomorrow), "decision_date", "date-in-future"),
    (
        "notification-in-future",
        _with(notification_date=tomorrow),
        "notification_date",
        "date-in-future",
    ),
    (
        "birth-in-future",
        _with_identity(birth_date=str(int(tomorrow()[:4]) + 1)),
        "identity.birth_date",
        "date-in-future",
    ),
    (
        "notification-before-decision",
        _with(decision_date=days_ago(10), notification_date=days_ago(11), effect_date=None),
        "notification_date",
        "notification-before-decision",
    ),
    (
        "effect-before-decision",
        _with(decision_date=days_ago(10), notification_date=None, effect_date=days_ago(11)),
        "effect_date",
        "effect-before-decision",
    ),
    (
        "effect-too-far",
        _with(effect_date=(date.today() + timedelta(days=400)).isoformat()),  # noqa: DTZ011
        "effect_date",
        "effect-too-far",
    ),
    (
        "birth-february-30",
        _with_identity(birth_date="1990-02-30"),
        "identity.birth_date",
        "date-impossible",
    ),
    (
        "birth-month-13",
        _with_identity(birth_date="1990-13"),
        "identity.birth_date",
        "date-impossible",
    ),
    (
        "birth-day-without-month",
        _with_identity(birth_date="1990-XX-12"),
        "identity.birth_date",
        "date-day-without-month",
    ),
    (
        "birth-month-without-year",
        _with_identity(birth_date="XXXX-05"),
        "identity.birth_date",
        "date-month-without-year",
    ),
    ("name-too-long", _with_identity(birth_name="A" * 101), "identity.birth_name", "name-too-long"),
    (
        "first-name-too-long",
        _with_identity(first_names=["Ali", "B" * 101]),
        "identity.first_names",
        "name-too-long",
    ),
    (
        "name-control-character",
        _with_identity(birth_name="Ben\x00Ali"),
        "identity.birth_name",
        "name-control-characters",
    ),
    (
        "name-bidi-override",
        _with_identity(usage_name="Ali\u202eveS"),
        "identity.usage_name",
        "name-control-characters",
    ),
    (
        "name-newline",
        _with_identity(first_names=["Ali\nEve"]),
        "identity.first_names",
        "name-control-characters",
    ),
    (
        "legal-basis-control-character",
        _with(legal_basis="L. 432\x07"),
        "legal_basis",
        "control-characters",
    ),
    (
        "identity-insufficient",
        _with(identity={"birth_name": "Haddad", "sex": "F"}),
        "identity",
        "identity-insufficient",
    ),
    ("reference-malformed", _with(reference="PP 2026/1"), "reference", "string_pattern_mismatch"),
    ("unknown-kind", _with(kind="deportation"), "kind", "enum"),
    ("unknown-member", _with(surname="Haddad"), "surname", "extra_forbidden"),
]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_is_refused_naming_the_field_and_rule_and_nothing_is_stored(
    prefecture: Prefecture,
    session: Session,
    change: Callable[[dict[str, Any]], None],
    field: str,
    rule: str,
) -> None:
    prefecture.created(decision("PP-GOOD"))
    before = counts(session)
    body = decision("PP-BAD")
    change(body)

    response = prefecture.post(body)
    problem_body = field_problem(response, 400, field, rule)
    assert problem_body["type"] == "/problems/invalid-request"
    assert counts(session) == before
    event = event_of(session, response)
    assert event.action == "decision:created"
    assert event.outcome == "refused"
    assert event.detail["status"] == 400
    # The audit event names the field where it was in the request, never its value.
    assert (field if field == "body" else f"body.{field}") in event.detail["fields"]
    # Neither the refusal nor its audit event repeats the person's data.
    for secret in ("N'Diaye", "Aïssatou", "7512345678", NIR_NORMALISED, "Ben\x00Ali"):
        assert secret not in response.text
    assert_no_clear_identity(session, "N'Diaye", 'O"Brien', "Aïssatou", "7512345678")


def test_a_decision_for_another_prefectures_departement_is_forbidden(
    prefecture: Prefecture, session: Session
) -> None:
    before = counts(session)
    response = prefecture.post(decision("PP-13", departement="13"))
    body = problem(response, 403, "not-own-departement")
    assert body["errors"][0]["field"] == "departement"
    assert body["errors"][0]["rule"] == "own-territory"
    assert counts(session) == before
    event = event_of(session, response)
    assert (event.outcome, event.detail["status"]) == ("refused", 403)


def test_a_prefecture_of_several_departements_names_one(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    corsica = make_prefecture(client, settings, participant, departements=["2A", "2B"])
    field_problem(corsica.post(decision("PP-1")), 400, "departement", "required")
    created = corsica.created(decision("PP-1", departement="2b"))
    assert created["departement"] == "2B"
    created = corsica.created(decision("PP-2", departement="2A"))
    assert created["departement"] == "2A"


# -- who sees what --------------------------------------------------------------------


def test_a_prefecture_never_sees_another_prefectures_decisions(
    prefecture: Prefecture, other_prefecture: Prefecture, session: Session
) -> None:
    mine = prefecture.created(decision("PP-SHARED-REF"))
    before = counts(session)

    problem(other_prefecture.read(mine["id"]), 404, "not-found")
    listed = other_prefecture.list()
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [], "next_cursor": None}
    assert other_prefecture.list(reference="PP-SHARED-REF").json()["items"] == []
    correction = {"kind": "annulment", "reference": "TA-1", "correction_date": days_ago(1)}
    problem(other_prefecture.correct(mine["id"], correction), 404, "not-found")
    assert counts(session) == before
    assert prefecture.read(mine["id"]).json()["status"] == "active"

    # References belong to each prefecture: the other one may use the same.
    theirs = other_prefecture.created(decision("PP-SHARED-REF", departement="13"))
    assert theirs["id"] != mine["id"]
    assert [d["id"] for d in prefecture.list().json()["items"]] == [mine["id"]]


def test_an_unknown_or_malformed_decision_id_is_not_found_or_refused(
    prefecture: Prefecture,
) -> None:
    problem(prefecture.read("00000000-0000-0000-0000-000000000000"), 404, "not-found")
    problem(prefecture.read("not-a-uuid"), 400, "invalid-request")


def test_a_delegate_acting_on_behalf_of_a_prefecture_sees_its_decisions(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    session: Session,
) -> None:
    mine = prefecture.created(decision("PP-1"))
    centre = make_prefecture(
        client,
        settings,
        participant,
        departements=["13"],
        acts_for=[prefecture.id],
        prefix="centre",
    )
    # On its own account, the delegate sees nothing of the principal's.
    problem(centre.read(mine["id"]), 404)
    assert centre.list().json()["items"] == []

    delegate = centre.acting_for(prefecture.id)
    read = delegate.read(mine["id"])
    assert read.status_code == 200, read.text
    assert read.json() == mine
    event = event_of(session, read)
    assert (event.participant_id, event.acting_for) == (centre.caller.id, prefecture.id)
    assert [d["id"] for d in delegate.list().json()["items"]] == [mine["id"]]

    # It posts for the principal, in the principal's département.
    posted = delegate.created(decision("PP-2"))
    assert posted["departement"] == "75"
    assert {d["reference"] for d in prefecture.list().json()["items"]} == {"PP-1", "PP-2"}
    problem(delegate.post(decision("PP-3", departement="13")), 403, "not-own-departement")


def test_a_fund_token_cannot_post_or_read_decisions(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    token = token_for(client, settings, fund)
    before = counts(session)
    response = client.post(DECISIONS, json=decision("PP-1"), headers=api_headers(token, fund))
    problem(response, 403, "insufficient-scope")
    assert "decisions:write" in response.json()["detail"]
    assert counts(session) == before
    assert event_of(session, response).outcome == "refused"
    problem(client.get(DECISIONS, headers=api_headers(token, fund)), 403, "insufficient-scope")


def test_a_prefecture_token_without_the_write_scope_can_read_but_not_post(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    caller = participant("prefecture")
    reader = Prefecture(client, caller, token_for(client, settings, caller, scope="decisions:read"))
    problem(reader.post(decision("PP-1")), 403, "insufficient-scope")
    assert reader.list().status_code == 200


# -- listing --------------------------------------------------------------------------


def test_list_filters_by_kind_status_departement_reference_and_creation_time(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    corsica = make_prefecture(client, settings, participant, departements=["2A", "2B"])
    posted = [
        corsica.created(decision("R-1", "renewal-refusal", departement="2A")),
        corsica.created(decision("R-2", "oqtf", departement="2B")),
        corsica.created(decision("R-3", "renewal-refusal", departement="2B")),
        corsica.created(decision("R-4", "first-permit-refusal", departement="2A")),
    ]
    annulled = corsica.correct(
        posted[2]["id"], {"kind": "annulment", "reference": "TA-1", "correction_date": days_ago(1)}
    )
    assert annulled.status_code == 201, annulled.text

    def references(**params: Any) -> list[str]:
        response = corsica.list(**params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["next_cursor"] is None
        for item in page["items"]:
            assert "identity" not in item
            assert "versions" not in item
        return [item["reference"] for item in page["items"]]

    assert references() == ["R-1", "R-2", "R-3", "R-4"]
    assert references(kind="renewal-refusal") == ["R-1", "R-3"]
    assert references(status="annulled") == ["R-3"]
    assert references(status="active") == ["R-1", "R-2", "R-4"]
    assert references(departement="2B") == ["R-2", "R-3"]
    assert references(departement="2B", kind="renewal-refusal", status="active") == []
    assert references(reference="R-4") == ["R-4"]
    assert references(reference="R-404") == []

    third = posted[2]["created_at"]
    expected_from = [d["reference"] for d in posted if d["created_at"] >= third]
    expected_before = [d["reference"] for d in posted if d["created_at"] < third]
    assert references(created_from=third) == expected_from
    assert references(created_before=third) == expected_before
    assert references(created_from=posted[0]["created_at"], created_before=third) == expected_before

    field_problem(corsica.list(kind="deportation"), 400, "kind", "enum")
    field_problem(corsica.list(limit=0), 400, "limit", "greater_than_equal")
    field_problem(corsica.list(limit=501), 400, "limit", "less_than_equal")


def test_list_pages_through_more_decisions_than_the_limit(prefecture: Prefecture) -> None:
    references = [f"PAGE-{n:02d}" for n in range(7)]
    for reference in references:
        prefecture.created(decision(reference))

    seen: list[dict[str, Any]] = []
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"after": after} if after else {})}
        response = prefecture.list(**params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        assert len(page["items"]) <= 3
        seen.extend(page["items"])
        after = page["next_cursor"]
        if after is None:
            break
    assert pages == 3
    assert sorted(item["reference"] for item in seen) == references
    assert len({item["id"] for item in seen}) == 7
    order = [(item["created_at"], item["id"]) for item in seen]
    assert order == sorted(order)
    # A page exactly as long as what is left ends without a cursor.
    assert prefecture.list(limit=7).json()["next_cursor"] is None
    assert prefecture.list(limit=6).json()["next_cursor"] is not None


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "fA",  # "|"
        # A well-formed cursor with a naive time: not one the gateway makes.
        base64.urlsafe_b64encode(b"2024-01-01T00:00:00|abc").decode().rstrip("="),
    ],
)
def test_a_cursor_not_made_by_the_gateway_is_refused(prefecture: Prefecture, cursor: str) -> None:
    prefecture.created(decision("PP-1"))
    field_problem(prefecture.list(after=cursor), 400, "after", "cursor")


@pytest.mark.parametrize(
    ("naive", "aware"),
    [("2024-01-01T00:00:00", "2024-01-01T00:00:00Z"), ("2024-01-01", "2024-01-01T00:00+01:00")],
)
def test_a_creation_time_filter_without_a_time_zone_is_refused(
    prefecture: Prefecture, naive: str, aware: str
) -> None:
    field_problem(prefecture.list(created_from=naive), 400, "created_from", "timezone_aware")
    field_problem(prefecture.list(created_before=naive), 400, "created_before", "timezone_aware")
    assert prefecture.list(created_from=aware).status_code == 200


# -- audit and storage ----------------------------------------------------------------


def test_intake_is_audited_with_pseudonyms_and_never_the_identity(
    prefecture: Prefecture, session: Session
) -> None:
    person = identity(birth_name="Мухаммед", usage_name="محمد", first_names=["Ben; Ali", "N'Diaye"])
    response = prefecture.post(decision("PP-AUDIT", "permit-withdrawal", identity=person))
    assert response.status_code == 201, response.text
    created = response.json()

    event = event_of(session, response)
    assert event.action == "decision:created"
    assert event.outcome == "success"
    assert event.participant_id == prefecture.id
    assert event.acting_for == prefecture.id
    assert event.purpose == "decision-transmission"
    assert event.object_ids == [created["id"]]
    assert event.detail == {"kind": "permit-withdrawal", "replayed": False}
    pseudonyms = assert_pseudonyms(event, "agdref", "nir")

    read = prefecture.read(created["id"])
    read_event = event_of(session, read)
    assert read_event.action == "decision:read"
    assert read_event.subject_pseudonyms == sorted(pseudonyms)
    listed = prefecture.list()
    list_event = event_of(session, listed)
    assert list_event.action == "decision:listed"
    assert list_event.subject_pseudonyms == []
    assert list_event.detail == {"count": 1}

    assert pseudonyms[0] in audit_text(session)  # the search does see the events
    assert_no_clear_identity(
        session,
        "Мухаммед",
        "محمد",
        "Ben; Ali",
        "N'Diaye",
        "Diaye",
        "7512345678",
        NIR_NORMALISED,
        "1985-04-17",
    )


def test_the_identities_table_holds_no_clear_identity(
    prefecture: Prefecture, session: Session
) -> None:
    names = ["Мухаммед", "محمد", "Ben; Ali", "N'Diaye", 'O"Brien']
    person = identity(birth_name=names[0], usage_name=names[1], first_names=names[2:])
    created = prefecture.created(
        decision(
            "PP-SEALED",
            "permit-withdrawal",
            identity=person,
            permit={"number": "7599XYZ987"},
        )
    )
    rows = list(session.execute(text("SELECT * FROM identities")).mappings())
    assert len(rows) == 1
    row = rows[0]
    version = session.scalars(
        select(DecisionVersion).where(DecisionVersion.decision_id == created["id"])
    ).one()
    assert row["id"] == version.identity_id
    secrets = [*names, "7512345678", NIR_NORMALISED, "1985-04-17", "7599XYZ987"]
    for column, value in row.items():
        raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
        for secret in secrets:
            assert secret.encode() not in raw, (column, secret)
    assert row["residence_departement"] == "75"  # the one field routing needs in clear
    ciphertext = bytes(row["ciphertext"])
    assert len(ciphertext) > 100
