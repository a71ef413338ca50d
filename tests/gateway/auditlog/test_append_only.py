"""Audit events are append-only: the database refuses to update or delete one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from audit.actions import AuditAction
from gateway.auditlog.models import AuditEvent
from gateway.auditlog.writer import record


def test_audit_events_cannot_be_updated_or_deleted(session: Session) -> None:
    event = record(session, AuditAction.KEYS_ROTATED, object_ids=["token-1"])
    session.flush()
    for statement in (
        sa.update(AuditEvent).where(AuditEvent.id == event.id).values(outcome="refused"),
        sa.delete(AuditEvent).where(AuditEvent.id == event.id),
    ):
        savepoint = session.begin_nested()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            session.execute(statement)
        savepoint.rollback()
    stored = session.scalars(sa.select(AuditEvent).where(AuditEvent.id == event.id)).one()
    assert stored.outcome == "success"
