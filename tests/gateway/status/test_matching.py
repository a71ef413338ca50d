"""Status checks without a matching identifier: names, birth dates, sex and place of birth;
the same checks streamed as NDJSON; the fishing patterns auditors see in them; and the
blocking keys of stored identities, reindexed when missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from gateway import jobs
from gateway.auditlog.models import AuditEvent
from gateway.identities import reindex
from gateway.identities.matching import BLOCKING_SCHEME
from gateway.identities.models import IdentityMatchKey, MatchKeyScheme
from gateway.identities.service import IdentityKeys
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Settings
from gateway.status import stream
from gateway.storage import bulk
from gateway.storage.base import utcnow
from tests.support.actors import (
    Prefecture,
    Register,
    api_headers,
    ask,
    auditor_headers,
    token_for,
)
from tests.support.factories import decision

PERSON = "7512345678"  # identity()'s AGDREF number
CERTIFIED_NIR = "1 85 03 99 352 123 34"  # the NIR certified later, other digits than the NIA
NIA = "1 85 03 99 352 045 15"  # as he is: a man born in March 1985 in Algeria


def person(**overrides: Any) -> dict[str, Any]:
    """A man born in Algeria, as the prefecture knows him: AGDREF number and a NIA."""
    fields: dict[str, Any] = {
        "agdref_number": "7500000001",
        "social_security_number": {"number": NIA, "type": "nia"},
        "birth_name": "Ben Ali",
        "first_names": ["Mohamed", "Amine"],
        "sex": "M",
        "birth_date": "1985-03-12",
        "place_of_birth": "99352",
        "residence_departement": "75",
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def affiliate(**overrides: Any) -> dict[str, Any]:
    """The same man as the fund knows him: the certified NIR, no AGDREF number."""
    return person(
        agdref_number=None,
        social_security_number={"number": CERTIFIED_NIR, "type": "nir"},
        **overrides,
    )


@pytest.fixture
def fund(client: TestClient, settings: Settings, participant: Register) -> dict[str, str]:
    """The request headers of a CAF agent (sweep-1) in 75, where the decisions are: the
    checks are made by an agent, and the tests find that agent in the audit trail."""
    caller = participant("fund", regime=Regime.CAF, departements=["75"])
    return api_headers(token_for(client, settings, caller), caller, agent_id="sweep-1")


@pytest.fixture
def decided(prefecture: Prefecture) -> dict[str, Any]:
    created: dict[str, Any] = prefecture.created(
        decision("NM-1", kind="permit-withdrawal", identity=person())
    )
    return created


@pytest.mark.usefixtures("decided")
@pytest.mark.parametrize(
    "variation",
    [
        {"birth_name": "BENALI", "first_names": ["Muhammad"]},  # particle, transliteration
        {"birth_name": "Ben-Ali", "first_names": ["Mohammed", "Amine"], "birth_date": "1985"},
        {"first_names": ["Amine", "Mohamed"], "birth_date": "1985-03"},  # order, partial
        {"birth_name": "Mohamed", "first_names": ["Ben Ali"]},  # swapped
        {"birth_name": "Dupont", "usage_name": "Ben Ali", "first_names": ["Mohamed"]},
        {"birth_name": "Ben Alli", "place_of_birth": None},  # a typo, place unknown
    ],
)
def test_the_same_man_spelled_otherwise_matches_strongly(
    client: TestClient, fund: dict[str, str], variation: dict[str, Any]
) -> None:
    (answer,) = ask(client, fund, affiliate(**variation))
    assert (answer["result"], answer["match"]) == ("adverse_decision", "strong")
    assert answer["decision"]["reference"] == "NM-1"
    assert answer["decision"]["kind_class"] == "withdrawal"


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        # A surname one letter off and a birth date known otherwise: no key of the
        # surname's sound with the year, nor of the full date, is shared.
        ({"birth_name": "Krasniqi"}, {"birth_name": "Krasnigi", "birth_date": "1985"}),
        ({"birth_name": "Bennani"}, {"birth_name": "Bennami", "birth_date": "1985-12-31"}),
        ({"birth_name": "Traoré"}, {"birth_name": "Trapre", "birth_date": "1985-03"}),
        # Another spelling, and the article glued on one side and dropped on the other.
        ({"birth_name": "Hoxha"}, {"birth_name": "Hodja", "birth_date": "1985"}),
        ({"birth_name": "El Amrani"}, {"birth_name": "Amrani", "birth_date": "1985-12-31"}),
        ({"birth_name": "Elamrani"}, {"birth_name": "Amrani", "birth_date": "1985"}),
        ({"birth_name": "Gueye"}, {"birth_name": "Gaye", "birth_date": "1985-03"}),
        ({"birth_name": "N'Diaye"}, {"birth_name": "Diaye", "birth_date": "1985"}),
    ],
)
def test_a_name_and_a_date_changed_together_still_find_the_decision(
    client: TestClient,
    prefecture: Prefecture,
    fund: dict[str, str],
    stored: dict[str, Any],
    asked: dict[str, Any],
) -> None:
    """Through the store's blocking keys, not the matcher alone: the candidate is found."""
    prefecture.created(decision("NM-3", identity=person(**stored)))
    (answer,) = ask(client, fund, affiliate(**asked))
    assert (answer["result"], answer["match"]) == ("adverse_decision", "strong")
    assert answer["decision"]["reference"] == "NM-3"


def test_people_with_certified_identifiers_of_their_own_are_two(
    client: TestClient, prefecture: Prefecture, fund: dict[str, str]
) -> None:
    """The same names, date and place, but each holds a certified NIR: no match."""
    certified = {"number": CERTIFIED_NIR, "type": "nir"}
    prefecture.created(decision("NM-4", identity=person(social_security_number=certified)))
    other = {"number": "1 85 03 99 352 124 33", "type": "nir"}
    (answer,) = ask(client, fund, person(agdref_number=None, social_security_number=other))
    assert (answer["result"], answer["match"]) == ("none_known", "none")


def test_a_nia_later_certified_under_the_same_number_matches_exactly(
    client: TestClient, fund: dict[str, str], decided: dict[str, Any]
) -> None:
    certified = {
        "social_security_number": {"number": NIA, "type": "nir"},
        "residence_departement": "75",
    }
    (answer,) = ask(client, fund, certified)
    assert (answer["result"], answer["match"]) == ("adverse_decision", "exact")
    assert answer["decision"]["reference"] == decided["reference"]


def test_a_substituted_birth_date_on_the_decision_still_matches(
    client: TestClient, prefecture: Prefecture, fund: dict[str, str]
) -> None:
    """Civil status wrote 31 December for an unknown day; the fund knows the real one."""
    prefecture.created(decision("NM-2", identity=person(birth_date="1985-12-31")))
    (answer,) = ask(client, fund, affiliate())
    assert (answer["match"], answer["decision"]["reference"]) == ("strong", "NM-2")


@pytest.mark.usefixtures("decided")
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ({"birth_date": "1985-07-02"}, "none"),  # a namesake born the same year
        ({"birth_date": "1985-03-13"}, "weak"),  # or a day mistyped
        ({"place_of_birth": "99350"}, "weak"),  # a namesake born in Morocco the same day
        ({"place_of_birth": "99350", "birth_date": "1985-07-12"}, "none"),
        ({"first_names": ["Karim"]}, "none"),  # a twin
        ({"first_names": ["Mohamed", "Ali"]}, "weak"),  # a twin sharing a first name
        ({"first_names": ["Karim"], "birth_date": "1983-06-01"}, "none"),  # a brother
        ({"birth_name": "Martin", "first_names": ["Paul"]}, "none"),
    ],
)
def test_namesakes_and_relatives_never_match_strongly(
    client: TestClient, fund: dict[str, str], who: dict[str, Any], expected: str
) -> None:
    (answer,) = ask(client, fund, affiliate(**who))
    assert answer["match"] == expected
    assert answer["decision"] is None  # a weak match may be someone else: no decision named
    if expected == "none":
        assert answer["result"] == "none_known"
    else:
        assert answer["result"] == "adverse_decision"


def test_answers_by_name_carry_nothing_the_fund_did_not_send(
    client: TestClient, fund: dict[str, str], decided: dict[str, Any]
) -> None:
    strong, weak = ask(
        client,
        fund,
        affiliate(first_names=["Muhammad"]),
        affiliate(birth_date="1985-07-02"),
    )
    text = json.dumps([strong, weak])
    for secret in ("7500000001", "1850399352045", decided["id"], "Amine", "public_order"):
        assert secret not in text
    assert set(strong["decision"]) == {
        "kind_class",
        "reference",
        "notification_date",
        "effect_date",
    }


def test_a_corrected_decision_found_by_name_answers_corrected(
    client: TestClient, prefecture: Prefecture, fund: dict[str, str], decided: dict[str, Any]
) -> None:
    corrected = prefecture.correct(
        decided["id"],
        {
            "kind": "annulment",
            "reference": "TA-NM-1",
            "correction_date": decided["versions"][0]["decision_date"],
        },
    )
    assert corrected.status_code == 201, corrected.text
    (answer,) = ask(client, fund, affiliate(first_names=["Mouhamed"]))
    assert (answer["result"], answer["match"], answer["decision"]) == ("corrected", "strong", None)


def test_a_corrected_identity_is_found_by_its_new_names(
    client: TestClient, prefecture: Prefecture, fund: dict[str, str], decided: dict[str, Any]
) -> None:
    """A data correction reseals the identity: its new names are matched on."""
    corrected = prefecture.correct(
        decided["id"],
        {
            "kind": "data-correction",
            "reference": "FIX-NM-1",
            "correction_date": decided["versions"][0]["decision_date"],
            "identity": person(birth_name="Benhamed"),
        },
    )
    assert corrected.status_code == 201, corrected.text
    (answer,) = ask(client, fund, affiliate(birth_name="Benhamed"))
    assert (answer["result"], answer["match"]) == ("adverse_decision", "strong")


def test_a_person_living_outside_the_funds_territory_is_refused_and_audited(
    client: TestClient, fund: dict[str, str], session: Session
) -> None:
    outside, inside = ask(
        client,
        fund,
        affiliate(residence_departement="93"),
        affiliate(residence_departement="75"),
    )
    assert outside["result"] is None
    assert outside["errors"] == [
        {
            "field": "identity.residence_departement",
            "rule": "outside-territory",
            "message": "département 93 is outside this fund's territory",
        }
    ]
    assert inside["result"] == "none_known"
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "status:checked")
        .order_by(AuditEvent.occurred_at)
    ).all()
    refused = [e for e in events if e.outcome == "refused"]
    assert len(refused) == 1
    assert refused[0].detail["rule"] == "outside-territory"
    assert refused[0].subject_pseudonyms  # the person, by pseudonym
    assert refused[0].agent_id == "sweep-1"


@pytest.mark.usefixtures("decided")
def test_every_check_is_audited_with_its_match_level(
    client: TestClient, fund: dict[str, str], session: Session
) -> None:
    ask(
        client,
        fund,
        affiliate(),
        affiliate(birth_date="1985-03-13"),  # a day mistyped, or a namesake: weak
        {"agdref_number": "7500000001", "residence_departement": "75"},
    )
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "status:checked")).all()
    assert sorted((e.detail["match"], e.detail["identifiers"]) for e in events) == [
        ("exact", True),
        ("strong", True),
        ("weak", True),
    ]
    for event in events:
        assert "Ben" not in json.dumps(event.detail)


@pytest.mark.usefixtures("decided")
def test_lookups_are_split_into_chunks_the_database_accepts(
    client: TestClient,
    fund: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "AMONG_CHUNK", 2)
    people = [
        affiliate(birth_date="1985-03-13"),
        affiliate(place_of_birth="99350"),
        affiliate(first_names=["Mohamed"]),
        affiliate(first_names=["Mohamed", "Ali"]),
    ]
    answers = ask(
        client, fund, *people, {"agdref_number": "7500000001", "residence_departement": "75"}
    )
    assert [a["match"] for a in answers] == ["weak", "weak", "strong", "weak", "exact"]


def test_each_identity_stores_only_keyed_blocking_keys(
    session: Session, decided: dict[str, Any]
) -> None:
    keys = session.scalars(select(IdentityMatchKey.key)).all()
    assert 3 <= len(keys) <= 20
    assert all(key.startswith("match:") and len(key) == len("match:") + 32 for key in keys)
    assert not any("MHMD" in key or "1985" in key for key in keys)
    assert decided["reference"] == "NM-1"


# -- the NDJSON stream ----------------------------------------------------------------------

STREAM = "/v1/status-checks/stream"


def stream_lines(client: TestClient, headers: dict[str, str], body: bytes) -> list[dict[str, Any]]:
    response = client.post(
        STREAM, content=body, headers={**headers, "Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def test_a_stream_answers_every_line_in_order_in_blocks(
    client: TestClient,
    fund: dict[str, str],
    decided: dict[str, Any],
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "BLOCK", 3)
    lines = [
        json.dumps({"identity": affiliate(first_names=["Muhammad"])}),
        "not json",
        json.dumps(
            {
                "identity": {"agdref_number": "7500000001", "residence_departement": "75"},
                "case_reference": "c-2",
            }
        ),
        "",  # blank lines are skipped, and still count in positions
        json.dumps({"identity": {"agdref_number": "12AB"}}),
        *(
            json.dumps(
                {"identity": {"agdref_number": f"75999{n:05d}", "residence_departement": "75"}}
            )
            for n in range(5)
        ),
    ]
    *answers, last = stream_lines(client, fund, "\n".join(lines).encode())
    assert [a["position"] for a in answers] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert (answers[0]["match"], answers[0]["decision"]["reference"]) == ("strong", "NM-1")
    assert answers[1]["errors"][0]["rule"] == "json"
    assert (answers[2]["result"], answers[2]["match"]) == ("adverse_decision", "exact")
    assert answers[3]["errors"][0]["rule"] == "agdref-format"
    assert {a["result"] for a in answers[4:]} == {"none_known"}
    assert last["summary"] == {
        "checks": 9,
        "malformed": 2,
        "results": {"adverse_decision": 2, "none_known": 5},
        "matches": {"strong": 1, "exact": 1, "none": 5},
        "stopped": None,
    }
    assert "does not prove" in last["note"]
    checked = session.scalars(select(AuditEvent).where(AuditEvent.action == "status:checked"))
    assert len(checked.all()) == 7
    streamed = session.scalars(select(AuditEvent).where(AuditEvent.action == "status:streamed"))
    (request_event,) = streamed.all()
    assert request_event.detail["checks"] == 9
    assert decided["reference"] == "NM-1"


def test_a_stream_may_be_larger_than_any_other_body(
    client: TestClient, fund: dict[str, str], settings: Settings
) -> None:
    """A sweep of millions of affiliates is one stream: its body is not held to the 1 MiB
    of ordinary calls (blank lines count in positions and cost no check)."""
    padding = settings.max_body_bytes + 1
    check = {"identity": {"agdref_number": "7599900001", "residence_departement": "75"}}
    body = b"\n" * padding + json.dumps(check).encode()
    assert len(body) > settings.max_body_bytes
    answer, last = stream_lines(client, fund, body)
    assert (answer["position"], answer["result"]) == (padding, "none_known")
    assert last["summary"]["checks"] == 1


def test_a_stream_over_its_own_limit_is_refused_with_413(
    app_client: Callable[..., TestClient], fund: dict[str, str]
) -> None:
    """Refused whether the length is declared or the body is sent in chunks."""
    small = app_client(max_stream_bytes=2048)
    check = json.dumps({"identity": {"agdref_number": "7599900001"}}).encode()
    body = b"\n".join([check] * 100)
    headers = {**fund, "Content-Type": "application/x-ndjson"}
    declared = small.post(STREAM, content=body, headers=headers)
    chunked = small.post(STREAM, content=iter([body[:1000], body[1000:]]), headers=headers)
    for response in (declared, chunked):
        assert response.status_code == 413, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "2048" in response.json()["detail"]


def test_a_stream_that_reaches_a_rate_limit_stops_and_says_where(
    limited: TestClient,
    settings: Settings,
    participant: Register,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "BLOCK", 2)
    caller = participant("fund", departements=["75"])
    headers = api_headers(token_for(limited, settings, caller), caller, agent_id="sweep-9")
    body = "\n".join(json.dumps({"identity": {"agdref_number": PERSON}}) for _ in range(7))
    *answers, last = stream_lines(limited, headers, body.encode())
    assert len(answers) == 2  # the first block; the second would pass the agent's 3
    assert last["summary"]["stopped"] == {
        "position": 2,
        "field": "Agent-Id",
        "rule": "rate-limit",
        "message": "this agent may make at most 3 checks per 3600 s",
    }


def test_a_stream_must_say_it_is_ndjson(client: TestClient, fund: dict[str, str]) -> None:
    response = client.post(
        STREAM, content=b"{}", headers={**fund, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "Content-Type",
        "rule": "ndjson-required",
        "message": "send the checks as application/x-ndjson",
    }


# -- fishing patterns, as auditors see them ---------------------------------------------------


def test_auditors_see_agents_whose_checks_look_like_fishing(
    client: TestClient,
    settings: Settings,
    participant: Register,
    decided: dict[str, Any],
) -> None:
    caller = participant("fund", regime=Regime.CPAM, departements=["75"])
    token = token_for(client, settings, caller)
    prober = api_headers(token, caller, agent_id="agent-probe")
    careful = api_headers(token, caller, agent_id="agent-desk")
    by_name = [
        {
            "birth_name": f"Inconnu{chr(65 + n)}",
            "first_names": ["Jean"],
            "sex": "M",
            "birth_date": "1970",
            "place_of_birth": "99350",
            "residence_departement": "75",
        }
        for n in range(20)
    ]
    ask(client, prober, *by_name)
    ask(client, prober, *(affiliate(residence_departement="13") for _ in range(5)))
    others = ("Ali", "Karim", "Yacine", "Nabil", "Samir", "Walid")
    ask(client, prober, *(affiliate(first_names=["Mohamed", name]) for name in others))
    ask(
        client,
        careful,
        *({"agdref_number": f"75000000{n:02d}", "residence_departement": "75"} for n in range(30)),
    )
    headers = auditor_headers(client, settings, participant, departements=["75"])
    response = client.get("/v1/audit/reports/funds", params={"fund_id": caller.id}, headers=headers)
    assert response.status_code == 200, response.text
    (row,) = response.json()["funds"]
    assert row["status_checks"] == 20 + 6 + 30
    assert row["status_checks_outside_territory"] == 5
    assert row["status_checks_by_name"] == 0 + 20
    (flagged,) = row["fishing_flags"]
    assert flagged["agent_id"] == "agent-probe"
    assert set(flagged["reasons"]) == {"outside-territory", "weak-matches", "unmatched-by-name"}
    assert (flagged["by_name"], flagged["by_name_unmatched"], flagged["weak"]) == (20, 20, 6)
    csv_text = client.get(
        "/v1/audit/reports/funds",
        params={"fund_id": caller.id, "format": "csv"},
        headers=headers,
    ).text
    header, line = csv_text.splitlines()
    assert dict(zip(header.split(","), line.split(","), strict=True))["fishing_flags"] == (
        "agent-probe"
    )
    assert decided["reference"] == "NM-1"


def test_the_persons_report_lists_checks_that_found_them_by_name(
    client: TestClient,
    settings: Settings,
    participant: Register,
    fund: dict[str, str],
    decided: dict[str, Any],
) -> None:
    ask(client, fund, affiliate(first_names=["Muhammad"]), affiliate(birth_name="Martin"))
    headers = auditor_headers(
        client, settings, participant, purpose="data-subject-request", national=True
    )
    report = client.get(
        "/v1/audit/subject-report",
        params={"agdref_number": "7500000001", "residence_departement": "75"},
        headers=headers,
    )
    assert report.status_code == 200, report.text
    checks = report.json()["status_checks"]
    assert [(c["match"], c["result"]) for c in checks] == [("strong", "adverse_decision")]
    assert checks[0]["body"].startswith("fund-")  # the fund, by its participant id
    assert "sweep-1" not in report.text  # the body, never the agent
    assert decided["reference"] in {d["reference"] for d in report.json()["decisions"]}


@pytest.mark.parametrize("every", [False, True], ids=["missing", "every"])
def test_identities_are_given_their_blocking_keys(
    client: TestClient,
    fund: dict[str, str],
    decided: dict[str, Any],
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
    every: bool,
) -> None:
    """Identities stored without keys are given theirs; on demand (``every``), every
    identity is given new keys in place of keys made otherwise (an older release's)."""
    with sessions.begin() as session:
        rows = session.scalars(select(IdentityMatchKey)).all()
        stored = sorted(row.key for row in rows)
        identity_id = rows[0].identity_id
        session.execute(delete(IdentityMatchKey))
        if every:
            old = [{"key": "old", "identity_id": identity_id}]
            bulk.insert_rows(session, IdentityMatchKey, old)
    (before,) = ask(client, fund, affiliate())
    assert before["match"] == "none"
    seen: list[int] = []
    keys = IdentityKeys.from_store(gateway_keys)
    if every:
        assert reindex.reindex(sessions, keys) == 0  # every identity has keys: left alone
    assert reindex.reindex(sessions, keys, chunk=1, progress=seen.append, every=every) == 1
    if not every:
        assert reindex.reindex(sessions, keys) == 0  # nothing left to do
    with sessions() as session:
        assert sorted(session.scalars(select(IdentityMatchKey.key)).all()) == stored
    (after,) = ask(client, fund, affiliate())
    assert (after["match"], after["decision"]["reference"]) == ("strong", decided["reference"])
    assert seen == [1]


def test_the_worker_brings_keys_made_under_an_older_scheme_to_the_running_one(
    client: TestClient,
    fund: dict[str, str],
    prefecture: Prefecture,
    decided: dict[str, Any],
    sessions: sessionmaker[Session],
    settings: Settings,
    gateway_keys: GatewayKeys,
) -> None:
    """After an upgrade that changes how keys are made, the worker's job gives every
    identity its new keys, a chunk at a time, resuming where it stopped, then records the
    running scheme and has nothing more to do."""
    other = person(agdref_number="7500000002", birth_name="Haddad", first_names=["Karim"])
    prefecture.created(decision("NM-2", identity=other))
    with sessions.begin() as session:
        stored = sorted(session.scalars(select(IdentityMatchKey.key)).all())
        identity_ids = sorted(set(session.scalars(select(IdentityMatchKey.identity_id)).all()))
        session.execute(delete(IdentityMatchKey))
        old = [{"key": f"old-{n}", "identity_id": id_} for n, id_ in enumerate(identity_ids)]
        bulk.insert_rows(session, IdentityMatchKey, old)
        session.merge(MatchKeyScheme(id=1, scheme=BLOCKING_SCHEME - 1, updated_at=utcnow()))
    (before,) = ask(client, fund, affiliate())
    assert before["match"] == "none"  # the old keys meet nothing the fund's make

    keys = IdentityKeys.from_store(gateway_keys)
    assert reindex.to_current_scheme(sessions, keys, chunk=1, chunks=1) == 1
    with sessions() as session:
        state = session.get_one(MatchKeyScheme, 1)
        assert (state.scheme, state.reindexed_after) == (BLOCKING_SCHEME - 1, identity_ids[0])
        held = set(session.scalars(select(IdentityMatchKey.identity_id)).all())
        assert held == set(identity_ids)  # one with new keys, the other still its old ones

    assert jobs.reindex_identities(sessions, settings) == 1  # the other one, then done
    with sessions() as session:
        assert sorted(session.scalars(select(IdentityMatchKey.key)).all()) == stored
        state = session.get_one(MatchKeyScheme, 1)
        assert (state.scheme, state.reindexed_after) == (BLOCKING_SCHEME, None)
        assert reindex.stored_scheme(session) == BLOCKING_SCHEME
    assert jobs.reindex_identities(sessions, settings) == 0  # current: nothing to do
    (after,) = ask(client, fund, affiliate())
    assert (after["match"], after["decision"]["reference"]) == ("strong", decided["reference"])


def test_an_identity_with_nothing_to_match_on_is_answered_with_the_rule(
    client: TestClient, fund: dict[str, str], session: Session
) -> None:
    response = client.post(
        "/v1/status-checks",
        json={
            "checks": [
                {"identity": {"birth_name": "Ben Ali", "first_names": ["Mohamed"]}},
                {"identity": affiliate()},
            ]
        },
        headers=fund,
    )
    assert response.status_code == 200, response.text
    refused, answered = response.json()["answers"]
    assert refused["result"] is None
    assert refused["errors"][0]["rule"] == "identity-insufficient"
    assert "AGDREF" in refused["errors"][0]["message"]
    assert answered["result"] == "none_known"
    (request_event,) = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "status:requested")
    ).all()
    assert request_event.detail["malformed"] == 1
    assert "Ben Ali" not in json.dumps(request_event.detail)
