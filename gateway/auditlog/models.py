"""The audit event table and its Merkle log: append-only, never updated or deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # One agent's events in log order: CODAF following up a flagged agent.
    __table_args__ = (Index("ix_audit_events_agent_id_id", "agent_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    participant_id: Mapped[str | None] = mapped_column(String(64), index=True)
    participant_kind: Mapped[str | None] = mapped_column(String(16))
    acting_for: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    case_reference: Mapped[str | None] = mapped_column(String(128))
    purpose: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    object_ids: Mapped[list[Any]] = mapped_column(default=list)
    subject_pseudonyms: Mapped[list[Any]] = mapped_column(default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AuditLogLeaf(Base):
    """An event's place in the Merkle log: its index and the hash of its canonical bytes."""

    __tablename__ = "audit_log_leaves"

    index: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditLogNode(Base):
    """The hash of one complete subtree: leaves [index * 2**level, (index + 1) * 2**level)."""

    __tablename__ = "audit_log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditLogState(Base):
    """The log's size: the index the next leaf takes."""

    __tablename__ = "audit_log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditCheckpoint(Base):
    """A signed checkpoint (C2SP signed note): tree size, root hash, Ed25519 signature."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLogQueue(Base):
    """Events committed but not yet in the log; written in the event's own transaction."""

    __tablename__ = "audit_log_queue"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
