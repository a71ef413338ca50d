"""A client generated from ``/openapi.json`` by openapi-python-client, as an integrator
would generate one, builds and works: one authenticated call per kind of participant
against ``gateway serve`` in a process of its own, over HTTP, the headers (Purpose,
Agent-Id) passed as the generated parameters. Offline: the generator runs locally."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from connectors.client import GatewayClient
from gateway.contract import examples
from gateway.participants.models import Regime
from tests.support.processes import serve

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.actors import Client
    from tests.support.processes import Served

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
# What a generator needs told of the media types it has no model for: bytes.
CONFIG = {
    "post_hooks": [],
    "content_type_overrides": {
        "application/jose": "application/octet-stream",
        "application/schema+json": "application/json",
        "application/x-ndjson": "application/octet-stream",
        "text/csv": "application/octet-stream",
    },
}


@pytest.fixture
def served(migrated_database_url: str, tmp_path: Path) -> Iterator[Served]:
    with serve(
        migrated_database_url,
        tmp_path,
        operator={"kind": "operator"},
        prefecture={"kind": "prefecture", "departements": ["75"]},
        fund={"kind": "fund", "departements": ["75"], "regime": Regime.CPAM},
        auditor={"kind": "auditor", "departements": ["75"]},
    ) as running:
        yield running


def generate(spec: dict[str, Any], directory: Path) -> Any:
    """Generate the client package from ``spec`` and import it."""
    name = f"gateway_client_{uuid.uuid4().hex[:8]}"
    (directory / "spec.json").write_text(json.dumps(spec))
    (directory / "config.json").write_text(json.dumps(CONFIG))
    generated = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(directory / "spec.json"),
         "--output-path", str(directory / name), "--meta", "none",
         "--config", str(directory / "config.json"), "--fail-on-warning"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(directory))


def token(served: Served, caller: Client) -> str:
    with GatewayClient(served.base_url, caller.id, caller.key) as client:
        value: str = client.fetch_token()["access_token"]
    return value


@pytest.mark.slow
def test_a_generated_client_calls_the_gateway_for_each_kind(served: Served, tmp_path: Path) -> None:
    spec = httpx.get(f"{served.base_url}/openapi.json").json()
    package = generate(spec, tmp_path)
    api = importlib.import_module(f"{package.__name__}.api")
    models = importlib.import_module(f"{package.__name__}.models")

    with ExitStack() as opened:

        def client(name: str) -> Any:
            made = package.AuthenticatedClient(
                base_url=served.base_url, token=token(served, served.clients[name])
            )
            return opened.enter_context(made)

        calls(served, client, api, models)


def calls(served: Served, client: Any, api: Any, models: Any) -> None:
    participants = importlib.import_module(f"{api.__name__}.participants.get_own_participant")
    decisions = importlib.import_module(f"{api.__name__}.decisions.post_decision")
    batches = importlib.import_module(f"{api.__name__}.batches.list_batches")
    events = importlib.import_module(f"{api.__name__}.audit.list_audit_events")

    me = participants.sync_detailed(
        client=client("operator"), purpose=models.GetOwnParticipantPurpose("administration")
    )
    assert me.status_code == 200, me.content
    assert me.parsed.id == served.clients["operator"].id
    assert me.parsed.kind == "operator"

    posted = decisions.sync_detailed(
        client=client("prefecture"),
        body=models.DecisionIn.from_dict(examples.DECISION),
        purpose=models.PostDecisionPurpose("decision-transmission"),
    )
    assert posted.status_code == 201, posted.content
    assert posted.parsed.reference == examples.DECISION["reference"]
    assert isinstance(posted.parsed, models.DecisionOut)

    listed = batches.sync_detailed(
        client=client("fund"),
        purpose=models.ListBatchesPurpose("residence-regularity-check"),
        agent_id="agent-4521",
    )
    assert listed.status_code == 200, listed.content
    assert listed.parsed.batches == []
    refused = batches.sync_detailed(
        client=client("fund"),
        purpose=models.ListBatchesPurpose("residence-regularity-check"),
        agent_id="no spaces allowed",
    )
    assert refused.status_code == 400
    assert isinstance(refused.parsed, models.Problem)
    assert refused.parsed.type_ == "/problems/invalid-field"

    audited = events.sync_detailed(
        client=client("auditor"),
        purpose_header=models.ListAuditEventsPurpose("anti-fraud-control"),
        action="decision:created",
    )
    assert audited.status_code == 200, audited.content
    (event,) = audited.parsed.events
    assert event.action == models.AuditAction.DECISIONCREATED
    assert event.participant_id == served.clients["prefecture"].id
