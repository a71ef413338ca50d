"""Fixtures of the contract tests: a gateway sealing batches for a fund, on ``client``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Settings
from tests.support.actors import Register, World, make_prefecture, token_for


@pytest.fixture
def world(
    client: TestClient,
    settings: Settings,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
    participant: Register,
) -> World:
    """A prefecture of Paris and a CPAM in 75 it owes its decisions to."""
    prefecture = make_prefecture(client, settings, participant, departements=["75"])
    caller = participant("fund", regime=Regime.CPAM, departements=["75"])
    token = token_for(client, settings, caller)
    return World(client, settings, sessions, gateway_keys, participant, prefecture, caller, token)
