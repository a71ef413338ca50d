"""What the application holds for its lifetime, built once by the factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from gateway.storage.outage import OutageReporter

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.auditlog.spool import AuditSpool
    from gateway.identities.service import IdentityKeys
    from gateway.keys import GatewayKeys
    from gateway.policy_source import PolicySource
    from gateway.settings import Settings
    from policies.loader import LoadedPolicy


@dataclass
class AppState:
    settings: Settings
    keys: GatewayKeys
    engine: Engine
    sessions: sessionmaker[Session]
    identity_keys: IdentityKeys
    policy_source: PolicySource
    spool: AuditSpool
    outages: OutageReporter = field(default_factory=OutageReporter)

    @property
    def policy(self) -> LoadedPolicy:
        """The policy in force now (re-read when its file changed and still loads)."""
        return self.policy_source.current()


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.gateway
    return state
