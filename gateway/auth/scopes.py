"""Scopes, and which kind of participant may hold which."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    DECISIONS_WRITE = "decisions:write"
    DECISIONS_READ = "decisions:read"
    BATCHES_READ = "batches:read"
    RECEIPTS_WRITE = "receipts:write"
    STATUS_CHECK = "status:check"
    SUBSCRIPTIONS_WRITE = "subscriptions:write"
    AUDIT_READ = "audit:read"
    PARTICIPANTS_READ = "participants:read"
    KEYS_WRITE = "keys:write"  # its own registered keys: add the next one, retire the old
    ADMIN = "admin"


SCOPES_BY_KIND: dict[str, frozenset[Scope]] = {
    "prefecture": frozenset(
        {Scope.DECISIONS_WRITE, Scope.DECISIONS_READ, Scope.PARTICIPANTS_READ, Scope.KEYS_WRITE}
    ),
    "fund": frozenset(
        {
            Scope.BATCHES_READ,
            Scope.RECEIPTS_WRITE,
            Scope.STATUS_CHECK,
            Scope.SUBSCRIPTIONS_WRITE,
            Scope.PARTICIPANTS_READ,
            Scope.KEYS_WRITE,
        }
    ),
    "auditor": frozenset({Scope.AUDIT_READ, Scope.PARTICIPANTS_READ, Scope.KEYS_WRITE}),
    "operator": frozenset({Scope.ADMIN, Scope.PARTICIPANTS_READ, Scope.KEYS_WRITE}),
}
