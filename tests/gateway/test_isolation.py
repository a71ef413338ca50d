"""The isolation matrix: every route, called by every participant but the one it concerns.

Two territories (75 and 13), each with its prefecture, fund and auditor; a delegate
registered to act for the fund of 75, calling in its own name and for the fund of 13; a
national auditor; an operator. The prefecture of 75 decides about a person living in 75,
imports a file, and the decision is sealed into a batch for the fund of 75, which checks
the person and subscribes.

Each probe asks one route for what belongs to 75. Those it concerns (``owners``) get it;
everyone else is refused (4xx) or answered without it, and never learns whether it
exists. Every refusal is an audit event, visible to the CODAF of the caller's territory,
to the CODAF of the participant a refused delegation targeted, and to the national CODAF.
A last test makes sure no route escapes the matrix.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from audit.actions import AuditAction as A
from gateway.app import create_app
from gateway.auditlog import service as audit_log
from gateway.auditlog.models import AuditEvent, AuditLogLeaf
from gateway.participants.models import Regime
from gateway.routing import TransactionRoute
from tests.support.actors import (
    Client,
    Prefecture,
    api_headers,
    new_key,
    run_imports,
    seal,
    token_for,
)
from tests.support.audit import event_of, events_of
from tests.support.factories import decision, identity
from tests.support.jose import JOSE, assertion, possession_proof, token_form

if TYPE_CHECKING:
    import httpx2
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings
    from tests.support.actors import Register

# Who calls: the participants of each territory, the delegate in its own name and for
# each fund, the national auditor and the operator.
ACTORS = (
    "prefecture-75", "prefecture-13", "fund-75", "fund-13", "auditor-75", "auditor-13",
    "delegate", "delegate-for-75", "delegate-for-13", "fund-13-for-75", "auditor-national",
    "operator",
)  # fmt: skip
# The CODAFs that must see each caller's refusals (the national one sees everything).
OVERSEEN_BY = {
    "prefecture-75": {"auditor-75"},
    "prefecture-13": {"auditor-13"},
    "fund-75": {"auditor-75"},
    "fund-13": {"auditor-13"},
    "auditor-75": {"auditor-75"},
    "auditor-13": {"auditor-13"},
    "delegate": set(),
    "delegate-for-75": {"auditor-75"},
    "delegate-for-13": {"auditor-13"},  # refused: the target's CODAF sees the attempt
    "fund-13-for-75": {"auditor-13", "auditor-75"},  # refused: the caller's and the target's
    "auditor-national": set(),
    "operator": set(),
}
AUDITORS = ("auditor-75", "auditor-13", "auditor-national")


@dataclass
class World:
    """Territory 75's things, and a ready request header set for each actor."""

    headers: dict[str, dict[str, str]]
    ids: dict[str, str]
    run_imports: Callable[[], object] = lambda: None  # the worker's import job

    def fill(self, template: str) -> str:
        return template.format(**self.ids)


@dataclass(frozen=True)
class Probe:
    """One route asked for something of territory 75's."""

    route: A  # the route's name: its audit action
    method: str
    path: str  # formatted with the world's ids
    owners: frozenset[str]  # who is answered with it
    shows: str | tuple[str, ...] | None  # what the owners' answer carries (formatted): each text
    params: dict[str, str] = field(default_factory=dict)
    body: Callable[[World], dict[str, Any]] | None = None
    content: Callable[[World], bytes] | None = None
    content_type: str | None = None
    purpose: str | None = None  # instead of each caller's usual purpose
    ask_owners: bool = True  # False where an owner's success would change the world
    # Where the answer is only an acknowledgement (202), what to judge instead: the work
    # done, read back once the worker has done it.
    then: Callable[[TestClient, World, str, httpx2.Response], httpx2.Response] | None = None

    def send(self, client: TestClient, world: World, actor: str) -> httpx2.Response:
        headers = dict(world.headers[actor])
        if self.purpose is not None:
            headers["Purpose"] = self.purpose
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        params = {name: world.fill(value) for name, value in self.params.items()}
        response = client.request(
            self.method,
            world.fill(self.path),
            params=params,
            json=self.body(world) if self.body is not None else None,
            content=self.content(world) if self.content is not None else None,
            headers=headers,
        )
        return self.then(client, world, actor, response) if self.then else response


def _processed(
    client: TestClient, world: World, actor: str, response: httpx2.Response
) -> httpx2.Response:
    """An accepted import, once processed: what it accepted of territory 75's."""
    if response.status_code != 202:
        return response
    world.run_imports()
    return client.get(response.headers["location"], headers=world.headers[actor])


def _everyone_but(*actors: str) -> frozenset[str]:
    return frozenset(ACTORS) - set(actors)


ADVERSE = '"result":"adverse_decision"'
FUND_75 = frozenset({"fund-75", "delegate-for-75"})
CODAF_75 = frozenset({"auditor-75", "auditor-national"})


def _next_key(world: World) -> dict[str, Any]:
    """A new key for the fund of 75, with the proof that its holder has it."""
    key = new_key()
    proof = possession_proof(world.ids["issuer"], world.ids["fund"], key)
    return {"jwk": key.as_dict(private=False), "proof": proof}


def _check_of(world: World) -> dict[str, Any]:
    return {"checks": [{"identity": {"agdref_number": world.ids["agdref"]}}]}


def _stated_check_of(world: World) -> dict[str, Any]:
    person = {"agdref_number": world.ids["agdref"], "residence_departement": "75"}
    return {"checks": [{"identity": person}]}


def _decision_in_75(world: World) -> dict[str, Any]:
    del world
    return decision(f"ELSEWHERE-{secrets.token_hex(4)}", departement="75")


def _import_in_75(world: World) -> bytes:
    return json.dumps(_decision_in_75(world)).encode()


def _subscription(world: World) -> bytes:
    return _subscription_of(world.ids["agdref"])


def _subscription_of(agdref: str) -> bytes:
    return json.dumps({"agdref_number": agdref, "valid_from": "2020-01-01"}).encode()


def _stream_of(world: World) -> bytes:
    return json.dumps(_stated_check_of(world)["checks"][0]).encode()


PREFECTURE_75 = frozenset({"prefecture-75"})

PROBES = (
    # Prefectures: their decisions and imports.
    Probe(A.DECISION_READ, "GET", "/v1/decisions/{decision}", PREFECTURE_75, "{decision}"),
    Probe(A.DECISION_LISTED, "GET", "/v1/decisions", PREFECTURE_75, "{decision}",
          params={"limit": "500"}),
    Probe(A.DECISION_CORRECTED, "POST", "/v1/decisions/{decision}/corrections", PREFECTURE_75,
          None, ask_owners=False, body=lambda _: {"kind": "annulment", "reference": "TA-1",
                                                  "correction_date": "2026-01-02"}),
    Probe(A.DECISION_CREATED, "POST", "/v1/decisions", PREFECTURE_75, None,
          body=_decision_in_75, ask_owners=False),
    Probe(A.IMPORT_CREATED, "POST", "/v1/decision-imports", PREFECTURE_75, '"accepted":1',
          params={"format": "ndjson"}, content_type="application/x-ndjson",
          content=_import_in_75, ask_owners=False, then=_processed),
    Probe(A.IMPORT_READ, "GET", "/v1/decision-imports/{import}", PREFECTURE_75, "{import}"),
    # Funds: their batches, receipts, outbox, subscriptions, checks.
    Probe(A.BATCH_LISTED, "GET", "/v1/batches", FUND_75, "{batch}", params={"limit": "500"}),
    Probe(A.BATCH_DOWNLOADED, "GET", "/v1/batches/{batch}", FUND_75, None),
    Probe(A.RECEIPT_RECORDED, "POST", "/v1/batches/{batch}/receipt", FUND_75, None,
          content=lambda _: b"not.a.receipt", content_type=JOSE, ask_owners=False),
    Probe(A.OUTBOX_READ, "GET", "/v1/outbox", FUND_75 | CODAF_75, "{fund}"),
    Probe(A.OUTBOX_READ, "GET", "/v1/outbox", FUND_75 | CODAF_75, "{fund}",
          params={"fund_id": "{fund}"}),
    Probe(A.SUBSCRIPTIONS_READ, "GET", "/v1/subscriptions", FUND_75, '"people":1'),
    # A fund replaces its own set only: the answer names whose set it replaced.
    Probe(A.SUBSCRIPTIONS_REPLACED, "PUT", "/v1/subscriptions", FUND_75, "{fund}",
          params={"format": "ndjson"}, content_type="application/x-ndjson",
          content=_subscription, ask_owners=False),
    Probe(A.STATUS_REQUESTED, "POST", "/v1/status-checks", FUND_75, ADVERSE,
          body=_stated_check_of),
    # Silence about the residence is no way out of a territory.
    Probe(A.STATUS_REQUESTED, "POST", "/v1/status-checks", frozenset(), ADVERSE,
          body=_check_of),
    Probe(A.STATUS_STREAMED, "POST", "/v1/status-checks/stream", FUND_75, ADVERSE,
          content_type="application/x-ndjson", content=_stream_of),
    # Participants.
    Probe(A.PARTICIPANT_SHOWN, "GET", "/v1/participants/{fund}",
          FUND_75 | CODAF_75 | {"operator"}, "{fund}"),
    Probe(A.PARTICIPANT_LISTED, "GET", "/v1/participants", FUND_75 | CODAF_75 | {"operator"},
          "{fund}", params={"after": "{fund_prefix}", "limit": "500", "kind": "fund"}),
    Probe(A.PARTICIPANT_SUSPENDED, "POST", "/v1/participants/{fund}/suspend",
          frozenset({"operator"}), None, ask_owners=False),
    Probe(A.PARTICIPANT_REACTIVATED, "POST", "/v1/participants/{fund}/reactivate",
          frozenset({"operator"}), '"status":"active"'),
    # A participant's keys: its own, in its own name, or an operator's to manage.
    Probe(A.PARTICIPANT_KEY_ADDED, "POST", "/v1/participants/{fund}/keys",
          frozenset({"fund-75", "operator"}), '"{fund}"', body=_next_key),
    Probe(A.PARTICIPANT_KEY_RETIRED, "DELETE", "/v1/participants/{fund}/keys/{fund_kid}",
          frozenset({"fund-75", "operator"}), None, ask_owners=False),
    # Auditors.
    Probe(A.AUDIT_EVENTS_LISTED, "GET", "/v1/audit/events", CODAF_75, "{event}",
          params={"participant": "{prefecture}", "limit": "1000"}),
    Probe(A.AUDIT_EVENTS_LISTED, "GET", "/v1/audit/events", CODAF_75, "{event}",
          params={"agdref_number": "{agdref}", "limit": "1000"}),
    Probe(A.AUDIT_EVENTS_LISTED, "GET", "/v1/audit/events", CODAF_75, "{event}",
          params={"departement": "75", "after_id": "{before}", "limit": "1000"}),
    Probe(A.SUBJECT_REPORT_READ, "GET", "/v1/audit/subject-report", CODAF_75,
          ("{decision}", "{prefecture}", "{fund}"), params={"agdref_number": "{agdref}"},
          purpose="data-subject-request"),
    Probe(A.INCLUSION_PROOF_READ, "GET", "/v1/audit/proofs/inclusion", CODAF_75,
          "{event}", params={"event_id": "{event}", "tree_size": "{tree_size}"}),
    Probe(A.FUND_REPORT_READ, "GET", "/v1/audit/reports/funds", CODAF_75, "{fund}"),
    Probe(A.FUND_REPORT_READ, "GET", "/v1/audit/reports/funds", CODAF_75, "{fund}",
          params={"fund_id": "{fund}"}),
    Probe(A.PREFECTURE_REPORT_READ, "GET", "/v1/audit/reports/prefectures", CODAF_75,
          "{prefecture}"),
)  # fmt: skip

# Routes that take nothing of anyone else's: the caller's own record or the whole log's
# hashes, which name no one. Their callers of other kinds are still refused (below).
OWN_ONLY = {
    A.PARTICIPANT_READ: frozenset(ACTORS),  # the caller itself, or the one it acts for
    A.AUDIT_CHECKPOINT_READ: frozenset(AUDITORS),
    A.CONSISTENCY_PROOF_READ: frozenset(AUDITORS),
}
# Routes without a participant: discovery, health, the token endpoint, and the metrics
# (behind a scrape token of their own, naming no one).
PUBLIC = {
    A.TOKEN_ISSUED, "discovery:metadata", "discovery:jwks", "health:live", "health:ready",
    A.METRICS_SCRAPED,
}  # fmt: skip


def _headers(
    client: TestClient, settings: Settings, caller: Client, **extra: str
) -> dict[str, str]:
    return api_headers(token_for(client, settings, caller), caller, **extra)


@pytest.fixture
def world(
    client: TestClient,
    settings: Settings,
    participant: Register,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> World:
    with sessions() as opened:
        before = opened.scalar(select(func.max(AuditEvent.id))) or 0
    actors = {
        "prefecture-75": participant("prefecture", departements=["75"]),
        "prefecture-13": participant("prefecture", departements=["13"]),
        "fund-75": participant("fund", departements=["75"]),
        "fund-13": participant("fund", departements=["13"]),
        "auditor-75": participant("auditor", departements=["75"]),
        "auditor-13": participant("auditor", departements=["13"]),
        "auditor-national": participant("auditor", national=True),
        "operator": participant("operator", departements=[]),
    }
    delegate = participant("fund", acts_for=[actors["fund-75"].id], prefix="centre")
    headers = {name: _headers(client, settings, caller) for name, caller in actors.items()}
    headers["delegate"] = _headers(client, settings, delegate)
    for name, principal in (("delegate-for-75", "fund-75"), ("delegate-for-13", "fund-13")):
        on_behalf = {"On-Behalf-Of": actors[principal].id}
        headers[name] = {**headers["delegate"], **on_behalf}
    headers["fund-13-for-75"] = {**headers["fund-13"], "On-Behalf-Of": actors["fund-75"].id}

    agdref = "75" + "".join(secrets.choice("0123456789") for _ in range(8))
    person = identity(agdref_number=agdref, social_security_number=None)
    prefecture = Prefecture(client, actors["prefecture-75"], "")
    prefecture.token = headers["prefecture-75"]["Authorization"].split()[1]
    reference = f"ISO-75-{secrets.token_hex(4)}"
    posted = prefecture.post(decision(reference, kind="permit-withdrawal", identity=person))
    assert posted.status_code == 201, posted.text
    imported = prefecture.imported(
        json.dumps(decision(f"IMP-75-{secrets.token_hex(4)}", identity=person)).encode(),
        sessions,
        gateway_keys,
    )
    seal(sessions, gateway_keys)
    fund = headers["fund-75"]
    batches = client.get("/v1/batches", params={"limit": 1000}, headers=fund).json()["batches"]
    subscribed = client.put(
        "/v1/subscriptions",
        params={"format": "ndjson"},
        content=_subscription_of(agdref),
        headers={**fund, "Content-Type": "application/x-ndjson"},
    )
    assert subscribed.status_code == 200, subscribed.text
    while True:
        with sessions.begin() as opened:
            if not audit_log.sequence(opened):
                break
    with sessions() as opened:
        tree_size = opened.scalar(select(func.count()).select_from(AuditLogLeaf))
    return World(
        run_imports=lambda: run_imports(sessions, gateway_keys),
        headers=headers,
        ids={
            "decision": posted.json()["id"],
            "reference": reference,
            "import": imported["id"],
            "batch": batches[-1]["id"],
            "fund": actors["fund-75"].id,
            "fund_kid": actors["fund-75"].kid,
            "prefecture": actors["prefecture-75"].id,
            "agdref": agdref,
            "event": event_of(session, posted).event_id,
            "tree_size": str(tree_size),
            "before": str(before),
            "fund_prefix": actors["fund-75"].id[:-1],
            "issuer": settings.issuer,
        },
    )


def test_every_route_gives_territory_75_only_to_those_it_concerns(
    client: TestClient, world: World, session: Session
) -> None:
    failures: list[str] = []
    refused: dict[str, set[str]] = {actor: set() for actor in ACTORS}
    for probe in PROBES:
        for actor in ACTORS:
            if actor in probe.owners and not probe.ask_owners:
                continue
            response = probe.send(client, world, actor)
            failure = _judge(world, probe, actor, response)
            if failure is not None:
                failures.append(f"{probe.method} {probe.path} {probe.params} as {actor}: {failure}")
            if response.is_client_error:
                # Refused: an audit event of its own, refused, for the CODAFs to see.
                found = [e for e in events_of(session, response) if e.action == probe.route]
                assert len(found) == 1, (probe.route, actor, response.text)
                (event,) = found
                if event.outcome != "refused":
                    failures.append(f"{probe.route} as {actor}: audited as {event.outcome}")
                refused[actor].add(event.event_id)
    assert not failures, "\n".join(failures)
    seen = {auditor: _visible_events(client, world, auditor) for auditor in AUDITORS}
    for actor, event_ids in refused.items():
        assert event_ids, f"{actor} was never refused"
        for auditor in AUDITORS:
            shown = event_ids & seen[auditor]
            if auditor == "auditor-national" or auditor in OVERSEEN_BY[actor]:
                assert shown == event_ids, (actor, auditor, event_ids - shown)
            else:
                assert not shown, (actor, auditor, shown)


def _judge(world: World, probe: Probe, actor: str, response: httpx2.Response) -> str | None:
    """What is wrong with the answer, if anything."""
    texts = (probe.shows,) if isinstance(probe.shows, str) else probe.shows or ()
    shows = [world.fill(text) for text in texts]
    status = response.status_code
    if response.is_server_error:
        return f"{status}, a server error: {response.text[:200]}"
    if actor in probe.owners:
        if not response.is_success or any(text not in response.text for text in shows):
            return f"{status}: the owner is not shown {shows}"
    elif response.is_success and (not shows or any(text in response.text for text in shows)):
        return f"{status}: shown to an outsider"
    return None


def _visible_events(client: TestClient, world: World, auditor: str) -> set[str]:
    found: set[str] = set()
    after = world.ids["before"]
    while True:
        response = client.get(
            "/v1/audit/events",
            params={"after_id": after, "limit": 1000},
            headers=world.headers[auditor],
        )
        assert response.status_code == 200, response.text
        page = response.json()
        found |= {event["event_id"] for event in page["events"]}
        if page["next_after_id"] is None:
            return found
        after = page["next_after_id"]


def test_a_delegate_in_its_own_name_and_a_territorial_fund_without_a_residence_are_refused(
    client: TestClient, world: World, session: Session
) -> None:
    own_name = client.post(
        "/v1/status-checks", json=_check_of(world), headers=world.headers["delegate"]
    )
    assert own_name.status_code == 403, own_name.text
    assert own_name.json()["type"].endswith("/on-behalf-of-required")
    assert own_name.json()["errors"][0]["field"] == "On-Behalf-Of"
    assert event_of(session, own_name).outcome == "refused"
    unstated = client.post(
        "/v1/status-checks", json=_check_of(world), headers=world.headers["fund-75"]
    )
    assert unstated.status_code == 200, unstated.text
    (answer,) = unstated.json()["answers"]
    assert answer["result"] is None
    assert answer["errors"] == [
        {
            "field": "identity.residence_departement",
            "rule": "residence-departement-required",
            "message": answer["errors"][0]["message"],
        }
    ]
    checked = [e for e in events_of(session, unstated) if e.action == "status:checked"]
    assert [(e.outcome, e.detail["rule"]) for e in checked] == [
        ("refused", "residence-departement-required")
    ]
    assert checked[0].subject_pseudonyms  # the person, by pseudonym, for the CODAF


def test_no_route_escapes_the_matrix(settings: Settings) -> None:
    app = create_app(settings)
    routes = {route.name for route in app.routes if isinstance(route, APIRoute)}
    transactional = {r.name for r in app.routes if isinstance(r, TransactionRoute)} - PUBLIC
    probed = {probe.route for probe in PROBES}
    assert transactional - probed - set(OWN_ONLY) == set(), "add a probe for each new route"
    assert routes - transactional <= PUBLIC


@pytest.mark.parametrize("route", sorted(OWN_ONLY))
def test_the_own_only_routes_refuse_every_other_kind(
    client: TestClient, world: World, session: Session, route: A
) -> None:
    paths = {
        A.PARTICIPANT_READ: "/v1/participants/me",
        A.AUDIT_CHECKPOINT_READ: "/v1/audit/checkpoint",
        A.CONSISTENCY_PROOF_READ: "/v1/audit/proofs/consistency?first=1&second=1",
    }
    for actor in ACTORS:
        response = client.get(paths[route], headers=world.headers[actor])
        if actor in OWN_ONLY[route]:
            assert response.status_code < 500, response.text
            continue
        assert response.status_code == 403, (actor, response.text)
        assert event_of(session, response).outcome == "refused"
    me = client.get(paths[A.PARTICIPANT_READ], headers=world.headers["delegate-for-75"])
    assert me.json()["id"] == world.ids["fund"]


def test_token_refusals_reach_the_codaf_of_the_participant_named(
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
) -> None:
    fund_13 = participant("fund", departements=["13"])
    fund_75 = participant("fund", departements=["75"])
    codaf = {
        "13": _headers(client, settings, participant("auditor", departements=["13"])),
        "75": _headers(client, settings, participant("auditor", departements=["75"])),
    }
    wrong_scope = client.post(
        "/oauth2/token", data=token_form(assertion(settings, fund_13), scope="audit:read")
    )
    assert wrong_scope.status_code == 400, wrong_scope.text
    # An assertion in the name of the fund of 75, signed with a key it never registered.
    forged = client.post(
        "/oauth2/token", data=token_form(assertion(settings, fund_75, key=new_key()))
    )
    assert forged.status_code == 401, forged.text
    for response, territory, other in ((wrong_scope, "13", "75"), (forged, "75", "13")):
        event = event_of(session, response)
        assert event.outcome == "refused"
        assert _lists(client, codaf[territory], event.id, event.event_id)
        assert not _lists(client, codaf[other], event.id, event.event_id)


def _lists(client: TestClient, headers: dict[str, str], row_id: int, event_id: str) -> bool:
    """Whether the auditor of ``headers`` is shown the token event of ``row_id``."""
    found = client.get(
        "/v1/audit/events",
        params={"action": "token:issued", "after_id": row_id - 1, "limit": 1},
        headers=headers,
    )
    assert found.status_code == 200, found.text
    return event_id in {e["event_id"] for e in found.json()["events"]}


def test_a_fund_national_by_registration_receives_and_checks_everywhere_and_is_reported_so(
    client: TestClient,
    settings: Settings,
    participant: Register,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    national = participant("fund", national=True, regime=Regime.MSA)
    headers = _headers(client, settings, national)
    prefecture = participant("prefecture", departements=["13"])
    agdref = "13" + "".join(secrets.choice("0123456789") for _ in range(8))
    posted = client.post(
        "/v1/decisions",
        json=decision(
            f"NAT-{secrets.token_hex(4)}",
            identity=identity(
                agdref_number=agdref, social_security_number=None, residence_departement="13"
            ),
        ),
        headers=_headers(client, settings, prefecture),
    )
    assert posted.status_code == 201, posted.text
    seal(sessions, gateway_keys)
    batches = client.get("/v1/batches", headers=headers).json()["batches"]
    assert sum(batch["record_count"] for batch in batches) >= 1
    (answer,) = client.post(
        "/v1/status-checks",
        json={"checks": [{"identity": {"agdref_number": agdref}}]},
        headers=headers,
    ).json()["answers"]
    assert (answer["result"], answer["errors"]) == ("adverse_decision", [])
    codaf = _headers(client, settings, participant("auditor", national=True))
    report = client.get(
        "/v1/audit/reports/funds", params={"fund_id": national.id}, headers=codaf
    ).json()
    (row,) = report["funds"]
    assert (row["national"], row["departements"]) == (True, [])


def test_checks_that_leave_the_residence_unsaid_are_counted_and_flag_the_agent(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    fund = participant("fund", departements=["75"])
    headers = _headers(client, settings, fund, agent_id="agent-silent")
    unsaid = [{"identity": {"agdref_number": f"75{n:08d}"}} for n in range(5)]
    response = client.post("/v1/status-checks", json={"checks": unsaid}, headers=headers)
    assert response.status_code == 200, response.text
    codaf = _headers(client, settings, participant("auditor", departements=["75"]))
    report = client.get("/v1/audit/reports/funds", params={"fund_id": fund.id}, headers=codaf)
    (row,) = report.json()["funds"]
    assert row["status_checks_without_departement"] == 5
    (flagged,) = row["fishing_flags"]
    assert (flagged["agent_id"], flagged["reasons"]) == ("agent-silent", ["residence-unstated"])
    assert (row["national"], row["departements"]) == (False, ["75"])
