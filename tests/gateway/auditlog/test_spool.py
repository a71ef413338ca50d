"""The audit spool: events written to disk while the database is unavailable are appended
to the audit table once it is back, each exactly once, and an unreadable line is skipped
with a warning and kept aside."""

from __future__ import annotations

import json
import logging
import os
import socket
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from audit.actions import AuditAction, AuditOutcome
from gateway.auditlog.models import AuditEvent, AuditLogQueue
from gateway.auditlog.spool import REJECTED, AuditSpool
from gateway.auditlog.writer import AuditDraft

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker


def _draft(request_id: str) -> AuditDraft:
    return AuditDraft(
        action=AuditAction.DECISION_CREATED,
        request_id=request_id,
        outcome=AuditOutcome.ERROR,
        participant_id="pref-75",
        detail={"status": 503, "problem": "database-unavailable"},
    )


def _events(sessions: sessionmaker[Session], ids: list[str]) -> list[AuditEvent]:
    with sessions() as session:
        statement = select(AuditEvent).where(AuditEvent.event_id.in_(ids))
        return list(session.scalars(statement.order_by(AuditEvent.id)))


def test_a_spooled_event_is_on_disk_before_write_returns(tmp_path: Path) -> None:
    spool = AuditSpool(tmp_path / "spool")
    assert not AuditSpool(tmp_path / "spool").pending
    event_id = spool.write(_draft("req-00000001"))
    assert spool.pending
    (path,) = (tmp_path / "spool").iterdir()
    row = json.loads(path.read_text())
    assert row["event_id"] == event_id
    assert row["action"] == "decision:created"
    assert row["detail"] == {"status": 503, "problem": "database-unavailable", "spooled": True}
    assert path.stat().st_mode & 0o077 == 0  # the owner's alone


def test_replicas_sharing_a_spool_volume_write_their_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two containers on one volume, each its process 1: a file each, both replayed."""
    written = []
    for host in ("api-1", "api/2 weird"):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        monkeypatch.setattr(os, "getpid", lambda: 1)
        written.append(AuditSpool(tmp_path / "spool").write(_draft(f"req-{host[:5]}")))
    names = sorted(path.name for path in (tmp_path / "spool").iterdir())
    assert names == ["audit-api-1-1.jsonl", "audit-api_2_weird-1.jsonl"]
    assert AuditSpool(tmp_path / "spool").pending


def test_replay_appends_each_event_once_and_queues_it_for_the_log(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    spool = AuditSpool(tmp_path / "spool")
    ids = [spool.write(_draft(f"req-{n:08d}")) for n in range(3)]
    assert spool.replay(sessions) == 3
    events = _events(sessions, ids)
    assert [e.event_id for e in events] == ids
    assert [e.request_id for e in events] == [f"req-{n:08d}" for n in range(3)]
    assert all(e.outcome == "error" and e.detail["spooled"] for e in events)
    with sessions() as session:
        queued = session.scalars(
            select(AuditLogQueue.event_id).where(AuditLogQueue.event_id.in_(ids))
        )
        assert set(queued) == set(ids)
    assert list((tmp_path / "spool").iterdir()) == []  # replayed files are removed
    assert not spool.pending
    assert spool.replay(sessions) == 0


def test_replay_is_idempotent_after_a_crash_before_the_file_was_removed(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    spool = AuditSpool(tmp_path / "spool")
    ids = [spool.write(_draft(f"req-{n:08d}")) for n in range(2)]
    (path,) = (tmp_path / "spool").iterdir()
    kept = path.read_bytes()
    assert spool.replay(sessions) == 2
    # As if the process had died between the commit and the removal of the file.
    (tmp_path / "spool" / f"{path.name}.0000.replaying").write_bytes(kept)
    another = spool.write(_draft("req-00000009"))
    fresh = AuditSpool(tmp_path / "spool")  # a restarted process finds it
    assert fresh.pending
    assert fresh.replay(sessions) == 1
    assert list((tmp_path / "spool").iterdir()) == []  # the leftover was read, then removed
    assert [e.event_id for e in _events(sessions, [*ids, another])] == [*ids, another]


def test_an_unreadable_line_is_skipped_with_a_warning_and_kept_aside(
    tmp_path: Path, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    spool = AuditSpool(tmp_path / "spool")
    first = spool.write(_draft("req-00000001"))
    (path,) = (tmp_path / "spool").iterdir()
    with path.open("ab") as file:
        file.write(b'{"event_id": "torn in the middle of a wri\n')
        file.write(b'{"not": "an event"}\n')
    last = spool.write(_draft("req-00000002"))
    with caplog.at_level(logging.WARNING, logger="gateway.audit.spool"):
        assert spool.replay(sessions) == 2
    assert [e.event_id for e in _events(sessions, [first, last])] == [first, last]
    skipped = [r for r in caplog.records if r.getMessage().startswith("unreadable line")]
    assert [getattr(r, "line", None) for r in skipped] == [2, 3]
    assert "torn" not in caplog.text  # the line's content is not logged
    rejected = (tmp_path / "spool" / REJECTED).read_bytes().splitlines()
    assert rejected == [b'{"event_id": "torn in the middle of a wri', b'{"not": "an event"}']
    assert spool.replay(sessions) == 0  # the rejected lines are not replayed again


def test_a_write_after_a_replay_claimed_the_file_goes_to_a_new_file(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    spool = AuditSpool(tmp_path / "spool")
    spool.write(_draft("req-00000001"))
    (path,) = (tmp_path / "spool").iterdir()
    claimed = path.with_name(path.name + ".1234.replaying")
    path.rename(claimed)  # what a replay does first
    later = spool.write(_draft("req-00000002"))
    assert path.exists()
    assert later in path.read_text()
    assert later not in claimed.read_text()
    assert spool.replay(sessions) == 2
