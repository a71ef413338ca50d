"""What the application holds for its lifetime, built once by the factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from gateway.auth.tokens import VerifiedTokens
from gateway.storage.outage import OutageReporter

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.auditlog.group import GroupCommit
    from gateway.auditlog.spool import AuditSpool
    from gateway.identities.service import IdentityKeys
    from gateway.key_source import KeySource
    from gateway.keys import GatewayKeys
    from gateway.participants.cache import RegistryCache
    from gateway.policy_source import PolicySource
    from gateway.settings import Settings
    from policies.loader import LoadedPolicy


@dataclass
class AppState:
    settings: Settings
    key_source: KeySource
    engine: Engine
    sessions: sessionmaker[Session]
    policy_source: PolicySource
    spool: AuditSpool
    participants: RegistryCache
    audit_writer: GroupCommit
    outages: OutageReporter = field(default_factory=OutageReporter)
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)

    @property
    def keys(self) -> GatewayKeys:
        """The keys in force now (re-read when the keyring changed and still loads)."""
        return self.key_source.current()

    @property
    def identity_keys(self) -> IdentityKeys:
        return self.key_source.identity_keys()

    @property
    def policy(self) -> LoadedPolicy:
        """The policy in force now (re-read when its file changed and still loads)."""
        return self.policy_source.current()


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.gateway
    return state
