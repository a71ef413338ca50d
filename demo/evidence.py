"""Demo scene of the evidence: the signed audit log, a proof, and a tampering caught."""

from __future__ import annotations

import base64
import sqlite3
from collections import Counter
from contextlib import closing
from typing import TYPE_CHECKING

import httpx
from rich.table import Table
from sqlalchemy import func, select

from audit import merkle
from audit.verify import verify
from demo.stage import Outcome, console
from gateway import jobs
from gateway.auditlog import service as audit_log
from gateway.auditlog.models import AuditEvent
from gateway.storage.engine import make_engine, make_sessionmaker

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from connectors.client import GatewayClient
    from gateway.settings import Settings

# The scenes make at least this many refused and successful requests.
EXPECTED_REFUSALS = 7
EXPECTED_SUCCESSES = 10


def _export(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(audit_log.export(session))


def audit_log_scene(
    sessions: sessionmaker[Session],
    settings: Settings,
    auditor: GatewayClient,
    jwks: dict[str, object],
    workdir: Path,
    expect: Callable[[str, bool], None],
) -> None:
    size = jobs.sign_audit_checkpoint(sessions, settings)
    note = auditor.request("GET", "/v1/audit/checkpoint", purpose="anti-fraud-control")
    console.print(note.text.rstrip(), markup=False)
    expect(
        f"every event so far is in the log, under a signed checkpoint of size {size}",
        note.status_code == httpx.codes.OK and f"\n{size}\n" in note.text,
    )
    proof = auditor.request(
        "GET",
        "/v1/audit/proofs/inclusion",
        purpose="anti-fraud-control",
        params={"index": size // 2, "tree_size": size},
    ).json()
    expect(
        f"an auditor checks that event {size // 2} is in the signed log "
        f"({len(proof['proof'])} hashes of proof)",
        merkle.verify_inclusion(
            base64.b64decode(proof["leaf_hash"]),
            size // 2,
            size,
            [base64.b64decode(h) for h in proof["proof"]],
            base64.b64decode(proof["root_hash"]),
        ),
    )
    clean = verify(_export(sessions), jwks)
    expect(
        f"gateway audit verify, offline with the public key: {clean.events} events and "
        f"{clean.checkpoints} checkpoint(s) verified",
        clean.ok,
    )
    # Someone with access to the database rewrites an event: drops the guard, edits a row.
    source = settings.database_url.removeprefix("sqlite:///")
    copy = workdir / "tampered.db"
    with closing(sqlite3.connect(source)) as original, closing(sqlite3.connect(copy)) as target:
        original.backup(target)  # a consistent copy, write-ahead log included
    with closing(sqlite3.connect(copy)) as connection:
        connection.execute("DROP TRIGGER audit_events_no_update")
        event_id = connection.execute(
            "SELECT e.event_id FROM audit_events e JOIN audit_log_leaves l "
            'ON l.event_id = e.event_id WHERE l."index" = ?',
            (size // 3,),
        ).fetchone()[0]
        connection.execute(
            "UPDATE audit_events SET agent_id = 'someone-else' WHERE event_id = ?", (event_id,)
        )
        connection.commit()
    engine = make_engine(f"sqlite:///{copy}")
    try:
        tampered = verify(_export(make_sessionmaker(engine)), jwks)
    finally:
        engine.dispose()
    console.print(
        f"  verifier: {tampered.problems[0] if tampered.problems else 'ok'}", markup=False
    )
    expect(
        f"one event rewritten in a copy of the database: the verifier names it (index {size // 3})",
        not tampered.ok and tampered.first_bad_index == size // 3,
    )


def reports_scene(auditor: GatewayClient, expect: Callable[[str, bool], None]) -> None:
    """CODAF's fund report, and the report one person gets on request (GDPR art. 15)."""
    purpose = "anti-fraud-control"
    funds = auditor.request(
        "GET", "/v1/audit/reports/funds", purpose=purpose, params={"fund_id": "cpam-75"}
    ).json()["funds"]
    row = funds[0] if funds else {}
    console.print(
        f"  cpam-75: {row.get('records_owed')} records owed, "
        f"{row.get('batches_acknowledged')}/{row.get('batches')} batches acknowledged, "
        f"outcomes {row.get('outcomes')}, median delay from owed to receipt "
        f"{row.get('owed_to_receipt_hours_median')} h "
        f"({row.get('decision_to_receipt_days_median')} days after the decision)",
        markup=False,
    )
    expect(
        "the CODAF report counts cpam-75's records, acknowledged batches and outcomes",
        bool(row) and row["batches_acknowledged"] >= 1 and bool(row["outcomes"]),
    )
    flagged = {flag["agent_id"]: flag["reasons"] for flag in row.get("fishing_flags", [])}
    console.print(
        f"  status checks: {row.get('status_checks')} by {row.get('status_check_agents')} "
        f"agents, {row.get('status_checks_weak')} weak; flagged: {flagged}",
        markup=False,
    )
    expect(
        "the report counts cpam-75's status checks and flags the agent who fished by name",
        row.get("status_checks", 0) > 0 and flagged == {"desk-13": ["unmatched-by-name"]},
    )
    report = auditor.request(
        "POST",
        "/v1/audit/subject-report",
        purpose="data-subject-request",
        json={"agdref_number": "7500000002"},  # in the body: a number never in a URL
    )
    body = report.json()
    decisions = body.get("decisions", [])
    recipients = sorted({d["fund"] for item in decisions for d in item["disclosures"]})
    console.print(
        f"  the person: {len(decisions)} decision(s), received by {', '.join(recipients)}, "
        f"{len(body.get('accesses', []))} recorded accesses",
        markup=False,
    )
    expect(
        "the person's report lists the decision, each fund that received it with the "
        "fields, the annulment, and every access (bodies and times, no agent names)",
        report.status_code == httpx.codes.OK
        and bool(decisions)
        and bool(decisions[0]["corrections"])
        and "7500000002" not in report.text,
    )


def trail(sessions: sessionmaker[Session], outcome: Outcome) -> None:
    console.rule("[bold]The audit trail")
    with sessions() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.outcome, func.count())
            .group_by(AuditEvent.action, AuditEvent.outcome)
            .order_by(AuditEvent.action, AuditEvent.outcome)
        ).all()
        attributed = session.scalar(
            select(func.count()).where(
                AuditEvent.acting_for == "cpam-75", AuditEvent.participant_id == "cnam-it-centre"
            )
        )
    table = Table("action", "outcome", "events")
    counts: Counter[str] = Counter()
    for action, result, count in rows:
        table.add_row(action, result, str(count))
        counts[result] += count
    console.print(table)
    outcome.expect(
        f"{sum(counts.values())} events, {counts['refused']} of them refusals",
        counts["refused"] >= EXPECTED_REFUSALS and counts["success"] >= EXPECTED_SUCCESSES,
    )
    outcome.expect(
        "the delegate's calls are recorded for both it and the fund it acted for", bool(attributed)
    )
