"""Each family of ``/metrics`` an operator alerts on, moved by what moves it in the gateway:
tokens and status checks counted as they are answered; what is owed, batches, pushes, the
audit log and imports read from the database at each scrape; the spool from the disk; keys
from the keyring; job intervals from the settings. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from audit.actions import AuditAction, AuditOutcome
from gateway import jobs
from gateway.app import create_app
from gateway.auditlog.spool import AuditSpool
from gateway.auditlog.writer import AuditDraft
from gateway.batches import delivery
from gateway.keys import GatewayKeys, KeyUse
from gateway.metrics.collector import DatabaseCollector
from gateway.participants.models import Regime
from gateway.settings import Environment, Settings
from gateway.storage.base import utcnow
from tests.support.actors import api_headers, ask, new_key, post_decision, run_imports, seal
from tests.support.factories import decision, identity
from tests.support.jose import assertion, dpop_proof, token_form

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from gateway.state import AppState
    from tests.support.actors import Fund, Prefecture, Register

TOKEN = "scrape-token-of-the-tests"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def scraped(app_client: Callable[..., TestClient]) -> TestClient:
    return app_client(metrics_token=SecretStr(TOKEN))


def samples(http: TestClient) -> Samples:
    response = http.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(scrape: Samples, name: str, **labels: str) -> float | None:
    return scrape.get((name, frozenset(labels.items())))


def by_label(scrape: Samples, name: str, label: str, **where: str) -> dict[str, float]:
    """The samples of ``name`` matching ``where``, keyed by their ``label``."""
    return {
        dict(labels)[label]: found
        for (sample, labels), found in scrape.items()
        if sample == name and where.items() <= dict(labels).items()
    }


def collected(state: AppState) -> Samples:
    """What the scrape-time collector yields for ``state``, parsed as a scrape is."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(state))
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return (value(after, name, **labels) or 0.0) - (value(before, name, **labels) or 0.0)


def app_state(http: TestClient) -> AppState:
    state: AppState = http.app.state.gateway  # type: ignore[attr-defined]
    return state


def test_tokens_are_counted_issued_by_type_and_refused_by_reason(
    scraped: TestClient, settings: Settings, participant: Register
) -> None:
    caller = participant("fund", departements=["75"])
    before = samples(scraped)
    issued = scraped.post("/oauth2/token", data=token_form(assertion(settings, caller)))
    assert issued.status_code == 200, issued.text
    key = new_key()
    proof = dpop_proof(key, "POST", settings.token_endpoint)
    bound = scraped.post(
        "/oauth2/token", data=token_form(assertion(settings, caller)), headers={"DPoP": proof}
    )
    assert bound.json()["token_type"] == "DPoP", bound.text
    forged = scraped.post(
        "/oauth2/token", data=token_form(assertion(settings, caller, key=new_key()))
    )
    assert forged.status_code == 401
    wrong_grant = scraped.post(
        "/oauth2/token", data={**token_form(assertion(settings, caller)), "grant_type": "password"}
    )
    assert wrong_grant.status_code == 400
    after = samples(scraped)

    tokens = "gateway_tokens_total"
    assert grew(before, after, tokens, outcome="issued", reason="bearer") == 1
    assert grew(before, after, tokens, outcome="issued", reason="dpop") == 1
    assert grew(before, after, tokens, outcome="refused", reason="invalid-client") == 1
    assert grew(before, after, tokens, outcome="refused", reason="unsupported-grant-type") == 1


def test_status_checks_single_bulk_and_streamed_are_counted_by_match_and_result(
    scraped: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
) -> None:
    post_decision(prefecture, "SC-1")  # the person of identity(), living in 93
    caller = participant("fund", regime=Regime.CAF, departements=["93"])
    token = scraped.post("/oauth2/token", data=token_form(assertion(settings, caller)))
    headers = api_headers(token.json()["access_token"], caller)
    before = samples(scraped)

    known = identity(residence_departement="93")
    stranger = identity(
        residence_departement="93",
        agdref_number="9312345678",
        social_security_number=None,
        birth_name="Lefebvre",
        usage_name=None,
        first_names=["Jeanne"],
        birth_date="1990-01-02",
    )
    assert ask(scraped, headers, known)[0]["result"] == "adverse_decision"  # single
    bulk = ask(scraped, headers, known, stranger, identity(residence_departement="13"))
    assert [answer.get("result") for answer in bulk] == ["adverse_decision", "none_known", None]
    malformed = scraped.post(
        "/v1/status-checks", json={"checks": [{"identity": {"sex": "?"}}]}, headers=headers
    )
    assert malformed.status_code == 200, malformed.text
    lines = [json.dumps({"identity": known}), json.dumps({"identity": stranger}), "not json"]
    streamed = scraped.post(
        "/v1/status-checks/stream",
        content="\n".join(lines) + "\n",
        headers={**headers, "Content-Type": "application/x-ndjson"},
    )
    assert streamed.status_code == 200, streamed.text
    after = samples(scraped)

    checks = "gateway_status_checks_total"
    assert grew(before, after, checks, match="exact", result="adverse_decision") == 3
    assert grew(before, after, checks, match="none", result="none_known") == 2
    assert grew(before, after, checks, match="none", result="refused") == 1
    assert grew(before, after, checks, match="none", result="malformed") == 2
    for labels in by_label(after, checks, "result"):
        assert labels in {"adverse_decision", "corrected", "none_known", "refused", "malformed"}


def test_express_records_pending_have_an_age_of_their_own(
    scraped: TestClient, prefecture: Prefecture, fund: Fund
) -> None:
    post_decision(prefecture, "EX-1", kind="first-permit-refusal")  # normal
    normal = samples(scraped)
    assert value(normal, "gateway_oldest_pending_record_age_seconds", fund=fund.id) is not None
    express = "gateway_oldest_pending_express_record_age_seconds"
    assert value(normal, express, fund=fund.id) is None
    post_decision(prefecture, "EX-2", kind="permit-withdrawal")  # high: sealed express
    both = samples(scraped)
    age = value(both, express, fund=fund.id)
    assert age is not None
    assert 0 <= age < 60
    owed = by_label(both, "gateway_records_owed", "priority_class", fund=fund.id, state="pending")
    assert owed == {"normal": 1, "high": 1}


def test_batches_not_acknowledged_are_counted_by_state_with_the_oldest_age(
    scraped: TestClient,
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    post_decision(prefecture, "BA-1")
    seal(sessions, gateway_keys, fund_ids=[fund.id])
    post_decision(prefecture, "BA-2")
    seal(sessions, gateway_keys, fund_ids=[fund.id])
    sealed = samples(scraped)
    batches = "gateway_batches_unacknowledged"
    oldest = "gateway_oldest_unacknowledged_batch_age_seconds"
    assert by_label(sealed, batches, "state", fund=fund.id) == {"sealed": 2}
    age = value(sealed, oldest, fund=fund.id)
    assert age is not None
    assert 0 <= age < 60

    first, second = fund.batches()
    content = fund.download(first["id"])
    fund.download(second["id"])
    delivered = samples(scraped)
    assert by_label(delivered, batches, "state", fund=fund.id) == {"delivered": 2}
    receipt = fund.receipt(first["id"], fund.receipt_for(gateway_keys, content))
    assert receipt.status_code in {200, 201}, receipt.text
    content = fund.download(second["id"])
    receipt = fund.receipt(second["id"], fund.receipt_for(gateway_keys, content))
    assert receipt.status_code in {200, 201}, receipt.text
    acknowledged = samples(scraped)
    assert by_label(acknowledged, batches, "state", fund=fund.id) == {}
    assert value(acknowledged, oldest, fund=fund.id) is None


def test_push_attempts_failures_and_parking_come_from_the_delivery_records(
    scraped: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    pushed = participant(
        "fund", regime=Regime.URSSAF, departements=["93"], push_endpoint="https://fund.test/in"
    )
    post_decision(prefecture, "PU-1")
    seal(sessions, gateway_keys, fund_ids=[pushed.id])
    failing = settings.model_copy(update={"push_max_attempts": 2})

    def refuse(_: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="down for maintenance")

    now = utcnow()
    for minutes in (0, 120):  # past any backoff
        delivery.deliver(
            sessions,
            failing,
            transport=httpx.MockTransport(refuse),
            now=now + timedelta(minutes=minutes),
            rng=random.Random(3),  # noqa: S311 - jitter, reproducibly
            cipher=gateway_keys.identity_cipher(),
        )
    scrape = samples(scraped)
    attempts = by_label(scrape, "gateway_push_attempts_total", "outcome", fund=pushed.id)
    assert attempts == {"failed": 2}
    assert value(scrape, "gateway_push_consecutive_failures", fund=pushed.id) == 2
    assert value(scrape, "gateway_push_fund_parked", fund=pushed.id) == 1


def test_the_audit_queue_and_checkpoint_are_measured(
    scraped: TestClient,
    settings: Settings,
    sessions: sessionmaker[Session],
    participant: Register,
) -> None:
    caller = participant("fund", departements=["75"])
    scraped.post("/oauth2/token", data=token_form(assertion(settings, caller)))
    queued = samples(scraped)
    assert (value(queued, "gateway_audit_events_queued") or 0) >= 1

    jobs.sign_audit_checkpoint(sessions, settings)
    signed = samples(scraped)
    assert value(signed, "gateway_audit_events_queued") == 0  # this scrape is audited after
    age = value(signed, "gateway_audit_checkpoint_age_seconds")
    assert age is not None
    assert 0 <= age < 60


def test_events_spooled_on_this_host_are_counted_until_replayed(
    scraped: TestClient, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # The collector is read directly: a request served after the spool is written would
    # replay it in a thread of its own, on the test's connection.
    state = replace(app_state(scraped), spool=AuditSpool(tmp_path / "spool"))
    assert value(collected(state), "gateway_audit_spool_events") == 0
    for _ in range(3):
        state.spool.write(
            AuditDraft(
                action=AuditAction.REQUEST_REFUSED,
                outcome=AuditOutcome.ERROR,
                detail={"problem": "database-unavailable"},
            )
        )
    assert value(collected(state), "gateway_audit_spool_events") == 3
    assert state.spool.replay(sessions) == 3
    assert value(collected(state), "gateway_audit_spool_events") == 0


def test_imports_are_counted_by_state(
    scraped: TestClient,
    prefecture: Prefecture,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    before = by_label(samples(scraped), "gateway_imports", "state")
    assert set(before) == {"queued", "running", "done", "failed"}
    body = json.dumps(decision("IM-1", identity=identity(residence_departement="93")))
    posted = prefecture.import_file(body.encode() + b"\n")
    assert posted.status_code == 202, posted.text
    queued = by_label(samples(scraped), "gateway_imports", "state")
    assert queued["queued"] == before["queued"] + 1
    run_imports(sessions, gateway_keys)
    done = by_label(samples(scraped), "gateway_imports", "state")
    assert done["queued"] == before["queued"]
    assert done["done"] == before["done"] + 1


def test_each_signing_key_has_its_expiry_as_the_keyring_says(
    tmp_path: Path,
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
) -> None:
    key_dir = tmp_path / "keys"
    GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    GatewayKeys.rotate(key_dir, [KeyUse.TOKEN], publish_ahead=timedelta(days=1))
    keys = GatewayKeys.load(key_dir)
    configured = settings.model_copy(
        update={"key_dir": key_dir, "metrics_token": SecretStr(TOKEN), "key_max_age_days": 90}
    )
    app = create_app(configured, keys=keys, engine=engine, sessions=sessions)
    with TestClient(app, base_url=str(settings.public_base_url)) as http:
        scrape = samples(http)
    expiry = {
        (labels["kid"], labels["use"], labels["status"]): found
        for (name, frozen), found in scrape.items()
        if name == "gateway_key_expiry_timestamp_seconds"
        for labels in [dict(frozen)]
    }
    assert len(expiry) == len(keys.entries) == len(KeyUse) + 1
    for entry in keys.entries:
        started = datetime.fromisoformat(entry.activates_at)
        expected = (started + timedelta(days=90)).timestamp()
        assert expiry[entry.kid, str(entry.use), str(entry.status)] == pytest.approx(expected)
    statuses = sorted(status for _, use, status in expiry if use == KeyUse.TOKEN)
    assert statuses == ["active", "pending"]
    soonest = min(expiry.values())
    assert soonest > datetime.now(UTC).timestamp() + 80 * 86400


def test_job_intervals_are_the_configured_ones(
    app_client: Callable[..., TestClient],
) -> None:
    http = app_client(metrics_token=SecretStr(TOKEN), seal_express_seconds=120)
    intervals = by_label(samples(http), "gateway_job_interval_seconds", "scheduled_job")
    assert set(intervals) == set(jobs.JOBS)
    assert intervals["seal-express"] == 120
    assert intervals["seal-regular"] == 3600
    assert intervals["apply-retention"] == 6 * 3600


def test_with_the_database_down_the_collector_says_so_and_keeps_what_is_on_this_host(
    scraped: TestClient, tmp_path: Path
) -> None:
    unreachable = create_engine(f"sqlite:///{tmp_path}/missing/directory/gateway.db")
    state = replace(app_state(scraped), sessions=sessionmaker(bind=unreachable))
    try:
        scrape = collected(state)
    finally:
        unreachable.dispose()
    assert value(scrape, "gateway_database_up") == 0
    assert value(scrape, "gateway_audit_spool_events") == 0
    assert by_label(scrape, "gateway_job_interval_seconds", "scheduled_job")
    assert by_label(scrape, "gateway_key_expiry_timestamp_seconds", "kid")
    assert not by_label(scrape, "gateway_records_owed", "fund")
