"""The Merkle audit log: sequencing, checkpoints, proofs, export and offline verification."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from audit import merkle
from audit.actions import AuditAction
from audit.checkpoints import BadSignature, MalformedNote, UnknownKey, open_note
from audit.events import event_bytes, event_document
from audit.verify import Failure, verify
from gateway.auditlog import service as audit_log
from gateway.auditlog.models import AuditEvent, AuditLogLeaf
from gateway.auditlog.writer import record
from gateway.keys import GatewayKeys, KeyUse
from gateway.settings import Settings
from gateway.storage import migrate
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.support.actors import Register, api_headers, token_for

ORIGIN = "gateway.test/audit-log"


def write_events(sessions: sessionmaker[Session], count: int, tag: str = "t") -> None:
    with sessions.begin() as session:
        for number in range(count):
            record(session, AuditAction.PARTICIPANT_READ, object_ids=[f"{tag}-{number}"])


def sequence_all(sessions: sessionmaker[Session]) -> int:
    total = 0
    while True:
        with sessions.begin() as session:
            appended = audit_log.sequence(session, limit=7)
        if not appended:
            return total
        total += appended


def checkpoint(sessions: sessionmaker[Session], keys: GatewayKeys) -> audit_log.Checkpoint | None:
    entry, key = keys.active(KeyUse.CHECKPOINT)
    with sessions.begin() as session:
        return audit_log.sign_checkpoint(
            session,
            origin=ORIGIN,
            key_name=ORIGIN,
            kid=entry.kid,
            key=key,  # type: ignore[arg-type]
        )


def logged_documents(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(AuditEvent)
        .join(AuditLogLeaf, AuditLogLeaf.event_id == AuditEvent.event_id)
        .order_by(AuditLogLeaf.index)
    ).scalars()
    return [event_document(event) for event in rows]


def test_every_event_is_a_leaf_and_the_stored_tree_gives_the_proofs(
    sessions: sessionmaker[Session], session: Session
) -> None:
    write_events(sessions, 23)
    appended = sequence_all(sessions)
    assert appended >= 23
    documents = logged_documents(session)
    size, root = audit_log.size_and_root(session)
    assert size == len(documents) == appended
    leaves = [merkle.leaf_hash(event_bytes(d)) for d in documents]
    assert root == merkle.root_of_hashes(leaves)
    for index in (0, size // 2, size - 1):
        leaf, proof = audit_log.inclusion_proof(session, index, size)
        assert leaf == leaves[index]
        assert merkle.verify_inclusion(leaf, index, size, proof, root)
    old_root = audit_log.size_and_root(session, 5)[1]
    proof = audit_log.consistency_proof(session, 5, size)
    assert merkle.verify_consistency(5, size, old_root, root, proof)
    assert sequence_all(sessions) == 0  # nothing twice
    with pytest.raises(ValueError, match="entries"):
        audit_log.size_and_root(session, size + 1)


def test_a_checkpoint_is_a_signed_note_anyone_checks_with_the_public_key(
    sessions: sessionmaker[Session], gateway_keys: GatewayKeys
) -> None:
    write_events(sessions, 3)
    sequence_all(sessions)
    signed = checkpoint(sessions, gateway_keys)
    assert signed is not None
    lines = signed.note.split("\n")
    assert lines[0] == ORIGIN
    assert int(lines[1]) == signed.tree_size
    assert base64.b64decode(lines[2]) == signed.root_hash
    assert lines[3] == ""
    assert lines[4].startswith(f"\u2014 {ORIGIN} ")
    jwks = gateway_keys.public_jwks()
    opened = open_note(signed.note, [*_raw_keys(jwks)])
    assert (opened.tree_size, opened.root_hash) == (signed.tree_size, signed.root_hash)
    forged = signed.note.replace(lines[1], str(signed.tree_size + 1), 1)
    with pytest.raises(BadSignature, match="bad signature"):
        open_note(forged, [*_raw_keys(jwks)])
    with pytest.raises(UnknownKey, match="unknown key"):
        open_note(signed.note, [bytes(32)])
    with pytest.raises(MalformedNote, match="not a signed note"):
        open_note(signed.note.replace("\n\n", "\n"), [*_raw_keys(jwks)])
    assert checkpoint(sessions, gateway_keys) is None  # the log has not grown


def _raw_keys(jwks: dict[str, Any]) -> list[bytes]:
    from audit.checkpoints import checkpoint_keys  # noqa: PLC0415

    return checkpoint_keys(jwks)


def exported(sessions: sessionmaker[Session], keys: GatewayKeys) -> list[str]:
    write_events(sessions, 10)
    sequence_all(sessions)
    checkpoint(sessions, keys)
    write_events(sessions, 6, "later")
    sequence_all(sessions)
    checkpoint(sessions, keys)
    with sessions() as session:
        return list(audit_log.export(session))


def test_a_clean_export_verifies(
    sessions: sessionmaker[Session], gateway_keys: GatewayKeys
) -> None:
    lines = exported(sessions, gateway_keys)
    report = verify(lines, gateway_keys.public_jwks())
    assert report.ok, report.problems
    assert report.checkpoints == 2
    assert report.events == sum(1 for line in lines if '"type": "event"' in line)


def _events(lines: list[str]) -> list[int]:
    return [n for n, line in enumerate(lines) if json.loads(line)["type"] == "event"]


def _modify(lines: list[str], at: int) -> list[str]:
    item = json.loads(lines[at])
    item["event"]["outcome"] = "refused"
    return [*lines[:at], json.dumps(item), *lines[at + 1 :]]


@pytest.mark.parametrize("tamper", ["modified", "removed", "inserted", "moved"])
def test_verification_names_the_first_event_tampered_with(
    sessions: sessionmaker[Session], gateway_keys: GatewayKeys, tamper: str
) -> None:
    lines = exported(sessions, gateway_keys)
    events = _events(lines)
    at = events[len(events) // 2]
    if tamper == "modified":
        changed = _modify(lines, at)
    elif tamper == "removed":
        changed = [*lines[:at], *lines[at + 1 :]]
    elif tamper == "inserted":
        changed = [*lines[:at], _modify(lines, at)[at], *lines[at:]]
    else:
        changed = [*lines[:at], lines[at + 1], lines[at], *lines[at + 2 :]]
    report = verify(changed, gateway_keys.public_jwks())
    assert not report.ok
    assert report.first_bad_index == at  # events are the export's first lines, in order
    assert f"index {at}" in report.problems[0]


def test_a_forged_checkpoint_or_a_truncated_export_never_verifies(
    sessions: sessionmaker[Session], gateway_keys: GatewayKeys
) -> None:
    lines = exported(sessions, gateway_keys)
    last = json.loads(lines[-1])
    head, _, signature = last["note"].rpartition(" ")
    forged = {**last, "note": head + " " + base64.b64encode(b"\x00" * 68).decode() + "\n"}
    report = verify([*lines[:-1], json.dumps(forged)], gateway_keys.public_jwks())
    assert not report.ok
    assert "does not verify" in report.problems[0]
    assert report.failure == Failure.UNKNOWN_KEY  # no checkpoint key has that key id
    assert report.issues[0].checkpoint == int(last["note"].split("\n")[1])
    del signature
    events = _events(lines)
    truncated = [line for n, line in enumerate(lines) if n not in events[-3:]]
    report = verify(truncated, gateway_keys.public_jwks())
    assert not report.ok
    assert "truncated" in report.problems[0]
    assert report.failure == Failure.TRUNCATED
    other_keys = GatewayKeys.public_jwks  # a JWKS without the signing key
    del other_keys
    report = verify(lines, {"keys": []})
    assert not report.ok
    assert verify(["{not json"], gateway_keys.public_jwks()).failure == Failure.UNREADABLE


def test_the_log_tables_refuse_changes(sessions: sessionmaker[Session]) -> None:
    write_events(sessions, 2)
    sequence_all(sessions)
    for statement in (
        "UPDATE audit_log_leaves SET leaf_hash = leaf_hash",
        "DELETE FROM audit_log_nodes",
    ):
        with pytest.raises(DBAPIError, match="append-only"), sessions.begin() as session:
            session.execute(text(statement))


def test_auditors_fetch_the_checkpoint_and_proofs_and_bad_requests_are_clear(
    client: TestClient,
    settings: Settings,
    participant: Register,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    auditor = participant("auditor", national=True)
    headers = api_headers(token_for(client, settings, auditor), auditor)
    assert client.get("/v1/audit/checkpoint", headers=headers).status_code == 404
    write_events(sessions, 5)
    sequence_all(sessions)
    signed = checkpoint(sessions, gateway_keys)
    assert signed is not None
    note = client.get("/v1/audit/checkpoint", headers=headers)
    assert note.status_code == 200, note.text
    assert note.text == signed.note
    with sessions() as session:
        event_id = session.scalars(
            select(AuditLogLeaf.event_id).where(AuditLogLeaf.index == 2)
        ).one()
    proof = client.get(
        "/v1/audit/proofs/inclusion",
        params={"event_id": event_id, "tree_size": signed.tree_size},
        headers=headers,
    )
    assert proof.status_code == 200, proof.text
    body = proof.json()
    assert body["leaf_index"] == 2
    assert merkle.verify_inclusion(
        base64.b64decode(body["leaf_hash"]),
        2,
        signed.tree_size,
        [base64.b64decode(h) for h in body["proof"]],
        signed.root_hash,
    )
    consistency = client.get(
        "/v1/audit/proofs/consistency",
        params={"first": 1, "second": signed.tree_size},
        headers=headers,
    )
    assert consistency.status_code == 200, consistency.text
    cases: list[tuple[dict[str, str | int], str]] = [
        ({"index": 0, "tree_size": signed.tree_size + 100}, "tree_size"),
        ({"index": -1, "tree_size": 3}, "index"),
        ({"index": "x", "tree_size": 3}, "index"),
        ({"tree_size": 3}, "index"),
    ]
    for params, field in cases:
        bad = client.get("/v1/audit/proofs/inclusion", params=params, headers=headers)
        assert bad.status_code == 400, (params, bad.text)
        assert bad.json()["errors"][0]["field"] == field
    backwards = client.get(
        "/v1/audit/proofs/consistency", params={"first": 5, "second": 2}, headers=headers
    )
    assert backwards.status_code == 400
    fund = participant("fund")
    refused = client.get(
        "/v1/audit/checkpoint", headers=api_headers(token_for(client, settings, fund), fund)
    )
    assert refused.status_code == 403


WRITER = """
import sys
from audit.actions import AuditAction
from gateway.auditlog.writer import record
from gateway.storage.engine import make_engine, make_sessionmaker

engine = make_engine(sys.argv[1])
sessions = make_sessionmaker(engine)
for batch in range(10):
    with sessions.begin() as session:
        for n in range(20):
            record(session, AuditAction.PARTICIPANT_READ, object_ids=[f"{sys.argv[2]}-{batch}-{n}"])
engine.dispose()
"""
SEQUENCER = """
import sys
from gateway.auditlog import service as log
from gateway.storage.engine import make_engine, make_sessionmaker

engine = make_engine(sys.argv[1])
sessions = make_sessionmaker(engine)
for _ in range(200):
    with sessions.begin() as session:
        log.sequence(session, limit=13)
engine.dispose()
"""


@pytest.mark.slow  # five processes
def test_concurrent_writers_and_sequencers_never_skip_or_repeat_an_index(
    postgres_database: Callable[[], Any],
) -> None:
    """Three processes write events while two others sequence them, on one PostgreSQL."""
    databases = postgres_database()
    url = next(databases)
    try:
        migrate.upgrade(url)
        processes = [
            subprocess.Popen([sys.executable, "-c", WRITER, url, tag]) for tag in "abc"
        ] + [subprocess.Popen([sys.executable, "-c", SEQUENCER, url]) for _ in range(2)]
        assert [process.wait(timeout=300) for process in processes] == [0] * len(processes)
        engine = make_engine(url)
        try:
            sessions = make_sessionmaker(engine)
            sequence_all(sessions)
            with sessions() as session:
                indexes = list(
                    session.scalars(select(AuditLogLeaf.index).order_by(AuditLogLeaf.index))
                )
                events = session.scalars(select(AuditEvent.event_id)).all()
                logged = session.scalars(select(AuditLogLeaf.event_id)).all()
                size, root = audit_log.size_and_root(session)
                documents = logged_documents(session)
        finally:
            engine.dispose()
        assert len(events) == 600
        assert indexes == list(range(len(events)))
        assert sorted(logged) == sorted(events)
        leaves = [merkle.leaf_hash(event_bytes(d)) for d in documents]
        assert (size, root) == (600, merkle.root_of_hashes(leaves))
    finally:
        databases.close()


def test_the_evidence_outlives_the_data(
    sessions: sessionmaker[Session], session: Session, gateway_keys: GatewayKeys
) -> None:
    """After the retention purge, the log still verifies and names nobody."""
    from datetime import timedelta  # noqa: PLC0415

    from gateway.retention import purge  # noqa: PLC0415
    from gateway.storage.base import utcnow  # noqa: PLC0415
    from policies.loader import DEFAULT_POLICY, load_file  # noqa: PLC0415

    write_events(sessions, 5)
    purge.run(sessions, load_file(DEFAULT_POLICY), now=utcnow() + timedelta(days=4000))
    sequence_all(sessions)
    checkpoint(sessions, gateway_keys)
    lines = list(audit_log.export(session))
    assert verify(lines, gateway_keys.public_jwks()).ok
    assert all(
        pseudonym.split(":")[0] in {"agdref", "nir"}
        for line in lines
        if '"type": "event"' in line
        for pseudonym in json.loads(line)["event"]["subject_pseudonyms"]
    )


def test_the_command_line_exports_and_verifies_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415

    from gateway.cli.main import app  # noqa: PLC0415

    monkeypatch.chdir(tmp_path)
    env = {
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
        "GATEWAY_KEY_DIR": str(tmp_path / "keys"),
    }
    runner = CliRunner()
    for command in (["db", "upgrade"], ["keys", "init"], ["keys", "rotate"]):
        assert runner.invoke(app, command, env=env).exit_code == 0
    signed = runner.invoke(app, ["audit", "checkpoint"], env=env)
    assert signed.exit_code == 0, signed.output
    assert "checkpoint of size 2" in signed.output  # keys initialised, keys rotated
    export, jwks = tmp_path / "log.ndjson", tmp_path / "jwks.json"
    assert runner.invoke(app, ["audit", "export", str(export)], env=env).exit_code == 0
    keys = GatewayKeys.load(tmp_path / "keys")
    jwks.write_text(json.dumps(keys.public_jwks()))
    clean = runner.invoke(app, ["audit", "verify", str(export), "--jwks", str(jwks)], env=env)
    assert clean.exit_code == 0, clean.output
    assert "verified: 2 events, 1 signed checkpoints" in clean.output
    lines = export.read_text().splitlines()
    item = json.loads(lines[1])
    item["event"]["action"] = "keys:forgotten"
    export.write_text("\n".join([lines[0], json.dumps(item), *lines[2:]]) + "\n")
    tampered = runner.invoke(app, ["audit", "verify", str(export), "--jwks", str(jwks)], env=env)
    assert tampered.exit_code == 1
    assert "index 1" in tampered.output
    missing = runner.invoke(
        app, ["audit", "verify", str(tmp_path / "none.ndjson"), "--jwks", str(jwks)], env=env
    )
    assert missing.exit_code == 2
