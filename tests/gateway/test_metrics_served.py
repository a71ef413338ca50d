"""``/metrics`` of ``gateway serve --workers 2`` after every kind of participant used it over
HTTP and the worker ran once: each family an operator alerts on is there, with values
that follow from the traffic, added up across both processes, and no label names a
person."""

from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.client import GatewayClient, TokenRequestFailed
from gateway.jobs import JOBS
from gateway.keys import GatewayKeys, KeyUse
from gateway.participants.models import Regime
from gateway.settings import Environment
from tests.support.actors import BATCHES, IMPORTS, STATUS_CHECKS, Client, new_key, register
from tests.support.database import sessions_on
from tests.support.factories import NIR, decision, identity
from tests.support.jose import signed_receipt
from tests.support.processes import free_port, gateway_command, gateway_process

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

TOKEN = "scrape-token-of-the-served-tests"
JOSE = "application/jose"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
# What the people of these tests are called and born, in every spelling a label might take.
PERSONAL = re.compile(
    r"N'?Diaye|Ndiaye|O\"?Brien|A[iï]ssatou|Ben; Ali|Lefebvre|Jeanne|1985-04-17|17/04/1985|"
    r"19850417|1990-01-02|7512345678|9312345678|\d{4}-\d{2}-\d{2}|\d{13,15}",
    re.IGNORECASE,
)


@contextmanager
def served(
    database_url: str, directory: Path, **participants: dict[str, object]
) -> Iterator[tuple[str, Path, dict[str, Client]]]:
    """``gateway serve --workers 2`` with the scrape token and ``participants`` registered."""
    key_dir = directory / "keys"
    GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    with sessions_on(database_url) as sessions, sessions.begin() as session:
        clients = {name: register(session, **options) for name, options in participants.items()}  # type: ignore[arg-type]
    tmp = directory / "tmp"
    tmp.mkdir()
    env = {
        "GATEWAY_METRICS_TOKEN": TOKEN,
        "GATEWAY_AUDIT_SPOOL_DIR": str(directory / "spool"),
        "TMPDIR": str(tmp),  # where gateway serve makes the processes' metrics directory
    }
    with gateway_process(
        database_url, key_dir, log_path=directory / "server.log", workers=2, env=env
    ) as (url, _):
        assert [path.name[:16] for path in tmp.iterdir()] == ["gateway-metrics-"]
        yield url, key_dir, clients
    assert list(tmp.iterdir()) == []  # removed when the server stopped


def scrape(base_url: str) -> tuple[str, Samples]:
    response = httpx.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return response.text, {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(
        value
        for (sample, found), value in samples.items()
        if sample == name and labels.items() <= dict(found).items()
    )


def present(samples: Samples, name: str, **labels: str) -> list[float]:
    return [
        value
        for (sample, found), value in samples.items()
        if sample == name and labels.items() <= dict(found).items()
    ]


def run_worker_once(database_url: str, key_dir: Path, directory: Path) -> None:
    worker = gateway_command(
        database_url,
        key_dir,
        "worker",
        "--once",
        capture=True,
        GATEWAY_PUSH_MAX_ATTEMPTS="1",
        GATEWAY_PUSH_TIMEOUT_SECONDS="2",
        GATEWAY_AUDIT_SPOOL_DIR=str(directory / "spool"),
    )
    _, errors = worker.communicate(timeout=120)
    assert worker.returncode == 0, errors.decode()[-2000:]


def drive(url: str, key_dir: Path, database_url: str, clients: dict[str, Client]) -> None:
    """Every kind of participant over HTTP, and the worker once in between."""
    prefecture, fund = clients["prefecture"], clients["fund"]

    # A prefecture posts a decision and imports a file of two more.
    with GatewayClient(url, prefecture.id, prefecture.key) as client:
        posted = client.request(
            "POST", "/v1/decisions", purpose=prefecture.purpose, json=decision("MS-1")
        )
        assert posted.status_code == 201, posted.text
        lines = [
            decision(
                "MS-2",
                kind="first-permit-refusal",
                identity=identity(
                    sex="M",
                    social_security_number={"number": "1 85 04 99 341 111 04", "type": "nia"},
                ),
            ),
            decision("MS-3", kind="permit-withdrawal", identity=identity(birth_name="Roux")),
        ]
        imported = client.request(
            "POST",
            f"{IMPORTS}?format=ndjson",
            purpose=prefecture.purpose,
            content="".join(json.dumps(line) + "\n" for line in lines).encode(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert imported.status_code == 202, imported.text
    # A stranger's key is refused its token.
    with (
        GatewayClient(url, fund.id, new_key()) as forged,
        pytest.raises(TokenRequestFailed, match="invalid_client"),
    ):
        forged.fetch_token()
    # An auditor reads its territory's participants.
    with GatewayClient(url, clients["auditor"].id, clients["auditor"].key) as client:
        listed = client.request("GET", "/v1/participants", purpose="anti-fraud-control")
        assert listed.status_code == 200, listed.text

    # The worker seals MS-1 for both funds, fails to push to the dead endpoint (and
    # parks it after one failure), signs a checkpoint, then processes the import,
    # whose two decisions stay pending.
    run_worker_once(database_url, key_dir, key_dir.parent)

    fund_side(url, key_dir, fund)


def fund_side(url: str, key_dir: Path, fund: Client) -> None:
    """The fund pulls its batch, verifies it and acknowledges it; checks people."""
    keys = GatewayKeys.load(key_dir)
    with GatewayClient(url, fund.id, fund.key) as client:
        headers = {"purpose": fund.purpose, "agent_id": "agent-007"}
        listing = client.request("GET", f"{BATCHES}?after_seq=0", **headers)
        assert listing.status_code == 200, listing.text
        (batch,) = listing.json()["batches"]
        content = client.request("GET", f"{BATCHES}/{batch['id']}", **headers).content
        acknowledged = client.request(
            "POST",
            f"{BATCHES}/{batch['id']}/receipt",
            content=signed_receipt(fund, content, keys),
            headers={"Content-Type": JOSE},
            **headers,
        )
        assert acknowledged.status_code in {200, 201}, acknowledged.text
        stranger = identity(
            agdref_number="9312345678",
            social_security_number=None,
            birth_name="Lefebvre",
            usage_name=None,
            first_names=["Jeanne"],
            birth_date="1990-01-02",
        )
        single = client.request(
            "POST", STATUS_CHECKS, json={"checks": [{"identity": identity()}]}, **headers
        )
        assert single.json()["answers"][0]["result"] == "adverse_decision", single.text
        bulk = client.request(
            "POST",
            STATUS_CHECKS,
            json={"checks": [{"identity": identity()}, {"identity": stranger}]},
            **headers,
        )
        assert bulk.status_code == 200, bulk.text
        streamed = client.request(
            "POST",
            f"{STATUS_CHECKS}/stream",
            content=f"{json.dumps({'identity': stranger})}\nnot json\n".encode(),
            headers={"Content-Type": "application/x-ndjson"},
            **headers,
        )
        assert streamed.status_code == 200, streamed.text


def test_every_family_is_served_with_sensible_values_and_no_person(
    migrated_database_url: str, tmp_path: Path
) -> None:
    dead_endpoint = f"http://127.0.0.1:{free_port()}/batches"  # nothing listens there
    with served(
        migrated_database_url,
        tmp_path,
        prefecture={"kind": "prefecture", "departements": ["75"]},
        fund={"kind": "fund", "departements": ["75"], "regime": Regime.CPAM},
        pushed={
            "kind": "fund",
            "departements": ["75"],
            "regime": Regime.CAF,
            "push_endpoint": dead_endpoint,
        },
        auditor={"kind": "auditor", "departements": ["75"]},
    ) as (url, key_dir, clients):
        started = time.time()
        drive(url, key_dir, migrated_database_url, clients)
        text, samples = scrape(url)

    window = time.time() - started + 1
    fund, pushed = clients["fund"], clients["pushed"]
    assert total(samples, "gateway_database_up") == 1
    counted(samples)
    waiting(samples, fund.id, pushed.id, window)
    of_this_host(samples)
    no_person(text, samples)


def counted(samples: Samples) -> None:
    """What the server processes counted, added up across both."""
    # Requests, by route template, from both processes.
    requests = "gateway_http_requests_total"
    assert total(samples, requests, route="/oauth2/token", status="200") == 3
    assert total(samples, requests, route="/oauth2/token", status="401") == 1
    assert total(samples, requests, route="/v1/decisions", method="POST", status="201") == 1
    assert total(samples, requests, route="/v1/batches/{batch_id}/receipt") == 1
    assert total(samples, requests, route="/v1/status-checks/stream", status="200") == 1
    assert total(samples, "gateway_http_request_duration_seconds_count") >= 10
    # Tokens and status checks.
    assert total(samples, "gateway_tokens_total", outcome="issued", reason="bearer") == 3
    assert total(samples, "gateway_tokens_total", outcome="refused", reason="invalid-client") == 1
    checks = "gateway_status_checks_total"
    assert total(samples, checks, match="exact", result="adverse_decision") == 2
    assert total(samples, checks, match="none", result="none_known") == 2
    assert total(samples, checks, match="none", result="malformed") == 1


def waiting(samples: Samples, fund: str, pushed: str, window: float) -> None:
    """What the database owes and waits for, read at the scrape."""
    # What is owed: the import's two decisions pending for each fund, one of them express.
    assert total(samples, "gateway_records_owed", fund=fund, state="pending") == 2
    assert total(samples, "gateway_records_owed", fund=pushed, state="sealed") == 1
    for family in (
        "gateway_oldest_pending_record_age_seconds",
        "gateway_oldest_pending_express_record_age_seconds",
    ):
        (age,) = present(samples, family, fund=fund)
        assert 0 <= age <= window
    # Batches: the fund's acknowledged, the push fund's still sealed.
    assert present(samples, "gateway_batches_unacknowledged", fund=fund) == []
    assert total(samples, "gateway_batches_unacknowledged", fund=pushed, state="sealed") == 1
    (age,) = present(samples, "gateway_oldest_unacknowledged_batch_age_seconds", fund=pushed)
    assert 0 <= age <= window
    # Pushes: one failed attempt, and the fund parked after it.
    assert total(samples, "gateway_push_attempts_total", fund=pushed, outcome="failed") == 1
    assert total(samples, "gateway_push_attempts_total", fund=pushed, outcome="accepted") == 0
    assert total(samples, "gateway_push_consecutive_failures", fund=pushed) == 1
    assert total(samples, "gateway_push_fund_parked", fund=pushed) == 1
    # The audit log: events since the worker queued, a checkpoint signed by it, no spool.
    assert total(samples, "gateway_audit_events_queued") >= 5
    (checkpoint_age,) = present(samples, "gateway_audit_checkpoint_age_seconds")
    assert 0 <= checkpoint_age <= window
    assert present(samples, "gateway_audit_spool_events") == [0]
    # The import, done.
    assert total(samples, "gateway_imports", state="done") == 1
    assert total(samples, "gateway_imports", state="queued") == 0


def of_this_host(samples: Samples) -> None:
    """The keyring and the settings of the server."""
    # Keys: one active per use, expiring in about a year.
    expiries = {
        dict(labels)["use"]: value
        for (name, labels), value in samples.items()
        if name == "gateway_key_expiry_timestamp_seconds" and dict(labels)["status"] == "active"
    }
    assert set(expiries) == {str(use) for use in KeyUse}
    year = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1).timestamp()
    for expiry in expiries.values():
        assert abs(expiry - year) < 2 * 86400
    intervals = {
        dict(labels)["scheduled_job"]: value
        for (name, labels), value in samples.items()
        if name == "gateway_job_interval_seconds"
    }
    assert set(intervals) == set(JOBS)
    assert intervals["seal-express"] == 300


def no_person(text: str, samples: Samples) -> None:
    """No label value is a name, an identifier or a date of birth."""
    labels = {value for (_, found) in samples for _, value in found}
    assert [value for value in labels if PERSONAL.search(value)] == []
    assert NIR not in text
    for person in ("MS-1", "MS-2", "MS-3", "Roux"):
        assert person not in text
