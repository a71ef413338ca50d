"""Imports as jobs: one worker at a time per import, a worker that lost its lease stores
nothing more, the stored upload sealed, and the upload answered before any line is read."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select, update

from audit.actions import AuditAction
from gateway.auditlog.models import AuditEvent
from gateway.auditlog.writer import AuditDraft
from gateway.auth.caller import Caller
from gateway.auth.scopes import SCOPES_BY_KIND
from gateway.decisions.models import Decision
from gateway.identities.service import IdentityKeys
from gateway.imports import upload
from gateway.imports.models import DecisionImport, ImportChunk, ImportLine
from gateway.imports.runner import ImportRunner, run_pending_imports
from gateway.participants import service
from gateway.participants.models import ParticipantKind, ParticipantStatus
from gateway.storage.base import utcnow
from tests.support.actors import POLICY, register
from tests.support.database import sessions_on
from tests.support.factories import decision

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.keys import GatewayKeys

LINES = 12
BATCH = 3


def _queue(sessions: sessionmaker[Session], keys: IdentityKeys, content: bytes) -> str:
    """What the upload route does: a prefecture's file stored, queued (committed)."""
    with sessions.begin() as session:
        client = register(session, "prefecture", departements=["75"])
        caller = Caller(
            participant_id=client.id,
            kind=ParticipantKind.PREFECTURE,
            acting_for=client.id,
            scopes=frozenset(SCOPES_BY_KIND[ParticipantKind.PREFECTURE]),
            territory=("75",),
            national=False,
            purpose="decision-transmission",
            agent_id=None,
            case_reference=None,
            dpop_bound=False,
        )
        audit = AuditDraft(AuditAction.IMPORT_CREATED, request_id="req-1", participant_id=client.id)
        chunks = [content[i : i + 100] for i in range(0, len(content), 100)]
        stored = upload.receive(
            session, keys, caller, audit, chunks, file_format="ndjson", encoding="utf-8",
            dry_run=False,
        )  # fmt: skip
        return stored.id


def _file() -> bytes:
    return b"".join(json.dumps(decision(f"J-{n:03d}")).encode() + b"\n" for n in range(LINES))


def _state(sessions: sessionmaker[Session], import_id: str) -> tuple[Any, ...]:
    with sessions() as session:
        found = session.get_one(DecisionImport, import_id)
        lines = session.scalars(
            select(ImportLine.line).where(ImportLine.import_id == import_id).order_by("line")
        ).all()
        decisions = session.scalar(select(func.count()).select_from(Decision))
        chunks = session.scalar(select(func.count()).select_from(ImportChunk))
        return (found.status, found.lines, found.accepted, list(lines), decisions, chunks)


@pytest.fixture
def keys(gateway_keys: GatewayKeys) -> IdentityKeys:
    return IdentityKeys.from_store(gateway_keys)


def test_the_stored_upload_is_sealed_and_bound_to_its_place(
    migrated_database_url: str, keys: IdentityKeys
) -> None:
    with sessions_on(migrated_database_url) as sessions:
        import_id = _queue(sessions, keys, _file())
        with sessions() as session:
            chunks = session.scalars(select(ImportChunk).order_by(ImportChunk.seq)).all()
            assert len(chunks) == 1  # well under a stored chunk's size
            assert b"J-000" not in chunks[0].ciphertext
            assert chunks[0].kek_id == keys.cipher.active_kek_id
            found = session.get_one(DecisionImport, import_id)
            assert (found.status, found.lines_total, found.size_bytes) == (
                "queued",
                LINES,
                len(_file()),
            )


def test_a_worker_that_lost_its_lease_stores_nothing_more_and_the_taker_completes(
    migrated_database_url: str, keys: IdentityKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions_on(migrated_database_url) as first, sessions_on(migrated_database_url) as second:
        import_id = _queue(first, keys, _file())
        store = ImportRunner._store  # noqa: SLF001 - where a batch is written
        calls: list[str] = []

        def stalled(runner: ImportRunner, lines: list[Any]) -> None:
            calls.append(runner.owner)
            if runner.owner == "worker-a" and calls.count("worker-a") == 2:
                # Worker A stalls past its lease after one batch; worker B takes over.
                with first.begin() as session:
                    session.execute(
                        update(DecisionImport).values(lease_until=utcnow() - timedelta(seconds=1))
                    )
                taken = run_pending_imports(
                    second, keys, POLICY, owner="worker-b", batch_size=BATCH
                )
                assert taken == 1
            store(runner, lines)

        monkeypatch.setattr(ImportRunner, "_store", stalled)
        assert run_pending_imports(first, keys, POLICY, owner="worker-a", batch_size=BATCH) == 0
        # A stored lines 1-3; B resumed after them; A's next batch found its lease gone.
        assert _state(first, import_id) == (
            "done",
            LINES,
            LINES,
            list(range(1, LINES + 1)),
            LINES,
            0,
        )
        with first() as session:
            found = session.get_one(DecisionImport, import_id)
            assert (found.attempts, found.lease_owner, found.lines_done) == (2, None, LINES)


def test_two_workers_at_once_process_an_import_once(
    migrated_database_url: str, keys: IdentityKeys
) -> None:
    with sessions_on(migrated_database_url) as sessions:
        import_id = _queue(sessions, keys, _file())
        start = threading.Barrier(2)
        finished: list[int] = []
        errors: list[BaseException] = []

        def work(owner: str) -> None:
            with sessions_on(migrated_database_url) as own:
                start.wait()
                try:
                    finished.append(
                        run_pending_imports(own, keys, POLICY, owner=owner, batch_size=BATCH)
                    )
                except BaseException as error:  # noqa: BLE001 - reported below
                    errors.append(error)

        threads = [threading.Thread(target=work, args=(name,)) for name in ("w1", "w2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert sorted(finished) == [0, 1]
        assert _state(sessions, import_id) == (
            "done",
            LINES,
            LINES,
            list(range(1, LINES + 1)),
            LINES,
            0,
        )
        with sessions() as session:
            assert session.get_one(DecisionImport, import_id).attempts == 1


def _processed(sessions: sessionmaker[Session], import_id: str) -> list[Any]:
    with sessions() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == AuditAction.IMPORT_PROCESSED)
        ).all()
        return [e for e in events if e.object_ids == [import_id]]


def test_an_import_ends_with_an_audit_event_of_its_counts(
    migrated_database_url: str, keys: IdentityKeys
) -> None:
    with sessions_on(migrated_database_url) as sessions:
        import_id = _queue(sessions, keys, _file())
        assert run_pending_imports(sessions, keys, POLICY, batch_size=BATCH) == 1
        (event,) = _processed(sessions, import_id)
        with sessions() as session:
            posted_by = session.get_one(DecisionImport, import_id).prefecture_id
        assert (event.outcome, event.participant_id) == ("success", posted_by)
        assert event.detail == {
            "status": "done", "lines": LINES, "accepted": LINES, "duplicate": 0, "rejected": 0,
        }  # fmt: skip


def test_the_import_of_a_prefecture_suspended_since_posting_it_is_refused(
    migrated_database_url: str, keys: IdentityKeys
) -> None:
    with sessions_on(migrated_database_url) as sessions:
        import_id = _queue(sessions, keys, _file())
        with sessions.begin() as session:
            posted = session.get_one(DecisionImport, import_id)
            service.set_status(session, posted.prefecture_id, ParticipantStatus.SUSPENDED)
        assert run_pending_imports(sessions, keys, POLICY, batch_size=BATCH) == 0
        status, _, accepted, reported, _, chunks = _state(sessions, import_id)
        assert (status, accepted, reported, chunks) == ("failed", 0, [], 0)
        (event,) = _processed(sessions, import_id)
        assert (event.outcome, event.detail["problem"]) == ("refused", "suspended")
        with sessions() as session:
            assert "suspended" in (session.get_one(DecisionImport, import_id).error or "")
