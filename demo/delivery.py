"""Demo scenes of delivery: sealing, a fund pulling and acknowledging, a push fund recovering.

The push fund runs the reference receiver (``connectors/fund/receiver.py``) behind a
gateway of faults that answers 500 to its first two deliveries, as a fund's endpoint
might during a maintenance window.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Self

import httpx
import uvicorn
from rich.table import Table
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from connectors.fund import pull
from connectors.fund.receiver import create_receiver_app
from demo.stage import DemoParticipant, Outcome, client, console, free_port
from gateway.batches import delivery, sealing
from gateway.batches.models import Batch, DeliveryAttempt
from gateway.identities.service import IdentityKeys
from gateway.participants.models import Participant
from gateway.storage.base import utcnow
from policies.loader import DEFAULT_POLICY, load_file

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from connectors.client import GatewayClient
    from gateway.keys import GatewayKeys
    from gateway.settings import Settings
    from policies.loader import LoadedPolicy


class FlakyEndpoint:
    """An ASGI app that answers 500 to its first ``failures`` requests, then passes them on."""

    def __init__(self, app: Any, failures: int) -> None:
        self.app = app
        self.failures = failures
        self.seen: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/batches":
            request = Request(scope, receive)
            self.seen.append(int(request.headers.get("batch-seq", "0")))
            if self.failures > 0:
                self.failures -= 1
                await Response("maintenance", status_code=500)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Endpoint:
    """A fund's push endpoint on a loopback port, in a thread."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}/batches"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the demo endpoint did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def seal_now(
    sessions: sessionmaker[Session],
    keys: GatewayKeys,
    loaded: LoadedPolicy,
    expect: Callable[[str, bool], None],
    *,
    express: bool = False,
) -> list[sealing.SealedBatch]:
    sealed = sealing.seal(
        sessions, keys, IdentityKeys.from_store(keys), loaded, express_only=express
    )
    table = Table(
        "fund", "seq", "records", "digest", title="sealed" + (" (express)" if express else "")
    )
    for batch in sealed:
        table.add_row(
            batch.fund_id, str(batch.seq), str(batch.record_count), batch.digest[:23] + "…"
        )
    console.print(table)
    expect(
        f"{len(sealed)} signed batches sealed, seq 1, 2, … per fund, each chained to the last",
        bool(sealed),
    )
    return sealed


def fund_pulls(
    client: GatewayClient,
    jwks: dict[str, Any],
    fund_id: str,
    key: Any,
    kid: str,
    alg: str,
    workdir: Path,
    expect: Callable[[str, bool], None],
) -> list[dict[str, Any]]:
    """The fund pulls, verifies offline against the JWKS, writes its records, acknowledges."""
    summary = pull(
        client,
        workdir / f"fund-{fund_id}",
        jwks=jwks,
        fund_id=fund_id,
        agent_id="nightly-sync",
        ack=True,
        signing_key=key,
        kid=kid,
        alg=alg,
        decide=lambda record: (
            "rights-restored" if record["type"] == "rectification" else "rights-ended"
        ),
    )
    expect(
        f"{fund_id} pulls {len(summary.pulled)} batches, verifies signature, seq, chain and "
        f"Merkle root, writes its records and acknowledges {len(summary.acknowledged)}",
        summary.ok and len(summary.pulled) == len(summary.acknowledged) > 0,
    )
    records: list[dict[str, Any]] = []
    import json  # noqa: PLC0415 - only here

    for entry in summary.pulled:
        path = workdir / f"fund-{fund_id}" / entry.records_file
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    return records


def push_recovers(
    sessions: sessionmaker[Session],
    settings: Settings,
    fund_id: str,
    key: Any,
    kid: str,
    alg: str,
    jwks: dict[str, Any],
    port: int,
    workdir: Path,
    expect: Callable[[str, bool], None],
) -> None:
    """The push fund's endpoint fails twice, then recovers: delivery resumes in order."""
    receiver = create_receiver_app(workdir / f"receiver-{fund_id}", jwks, fund_id, key, kid, alg)
    flaky = FlakyEndpoint(receiver, failures=2)
    with Endpoint(flaky, port) as endpoint:
        with sessions.begin() as session:
            session.execute(
                update(Participant)
                .where(Participant.id == fund_id)
                .values(push_endpoint=endpoint.url)
            )
        when = utcnow()
        table = Table("run", "seq", "outcome", title=f"pushing to {fund_id}")
        for run in range(1, 4):
            attempts = delivery.deliver(sessions, settings, now=when)
            for attempt in attempts:
                table.add_row(
                    str(run),
                    str(attempt.seq),
                    "acknowledged" if attempt.accepted else attempt.error,
                )
            when += timedelta(hours=1)  # past any backoff
        console.print(table)
    with sessions() as session:
        states = set(session.scalars(select(Batch.state).where(Batch.fund_id == fund_id)))
        attempts_made = session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.fund_id == fund_id)
        ).all()
    expect(
        f"the endpoint answers 500 twice, the gateway backs off and retries; then every batch "
        f"is delivered in order and acknowledged ({len(attempts_made)} attempts recorded)",
        states == {"acknowledged"}
        and flaky.seen[:3] == [1, 1, 1]
        and flaky.seen == sorted(flaky.seen),
    )


def correction_reaches(
    prefecture: GatewayClient,
    decision_id: str,
    expect: Callable[[str, bool], None],
) -> None:
    """The court annuls a decision a fund has already acted on."""
    response = prefecture.request(
        "POST",
        f"/v1/decisions/{decision_id}/corrections",
        purpose="decision-transmission",
        json={
            "kind": "annulment",
            "reference": "TA-PARIS-2611111",
            "correction_date": "2026-11-20",
        },
    )
    version = response.json().get("current_version")
    owed = [d for d in response.json().get("disclosures", []) if d["version"] == version]
    expect(
        f"the court annuls it: a rectification is owed, first, to the {len(owed)} fund(s) "
        "that received the decision",
        response.status_code == httpx.codes.CREATED
        and bool(owed)
        and all(d["priority_class"] == "correction" for d in owed),
    )


def no_batch_in_clear(database: Path, expect: Callable[[str, bool], None]) -> None:
    """The batches' bytes (names, NIR) are kept encrypted: no signed batch in the file."""
    raw = database.read_bytes()
    for wal in database.parent.glob(database.name + "-wal"):
        raw += wal.read_bytes()
    signed_batch = b"eyJhbGciOiJFZERTQSIs"  # base64url of '{"alg":"EdDSA",', a batch's start
    expect(
        "the database holds every batch encrypted at rest, none in clear", signed_batch not in raw
    )


def scene(
    base_url: str,
    settings: Settings,
    keys: GatewayKeys,
    sessions: sessionmaker[Session],
    by_id: dict[str, DemoParticipant],
    ids: dict[str, str],
    workdir: Path,
    outcome: Outcome,
) -> None:
    loaded = load_file(DEFAULT_POLICY)
    jwks = httpx.get(f"{base_url}/.well-known/jwks.json", timeout=10).json()
    console.rule("[bold]Sealing: signed, chained batches per fund")
    seal_now(sessions, keys, loaded, outcome.expect)
    no_batch_in_clear(workdir / "gateway.db", outcome.expect)
    console.rule("[bold]Pull: cpam-75 downloads, verifies offline, acknowledges")
    cpam = by_id["cpam-75"]

    def cpam_pulls() -> list[dict[str, Any]]:
        with client(base_url, cpam) as cpam_client:
            return fund_pulls(
                cpam_client,
                jwks,
                cpam.id,
                cpam.key,
                f"{cpam.id}-1",
                cpam.alg,
                workdir,
                outcome.expect,
            )

    records = cpam_pulls()
    outcome.expect(
        f"cpam-75's {len(records)} records carry its profile's fields and never the "
        "public-order ground",
        bool(records) and all("public_order" not in r["data"] for r in records),
    )
    console.rule("[bold]Push: urssaf-idf's endpoint fails twice, then recovers")
    urssaf = by_id["urssaf-idf"]
    push_recovers(
        sessions,
        settings,
        urssaf.id,
        urssaf.key,
        f"{urssaf.id}-1",
        urssaf.alg,
        jwks,
        free_port(),
        workdir,
        outcome.expect,
    )
    console.rule("[bold]A correction reaches the fund that had the decision")
    with client(base_url, by_id["pref-75"]) as prefecture:
        correction_reaches(prefecture, ids["PP-2026-0002"], outcome.expect)
    seal_now(sessions, keys, loaded, outcome.expect, express=True)
    rectified = cpam_pulls()
    outcome.expect(
        "cpam-75 receives the rectification: PP-2026-0002 annulled, rights to be restored",
        any(
            r["type"] == "rectification"
            and r["status"] == "annulled"
            and r["decision_id"] == ids["PP-2026-0002"]
            for r in rectified
        ),
    )
