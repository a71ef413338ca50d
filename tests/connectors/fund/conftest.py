"""Fixtures of the fund's side: the gateway it talks to, in this process or in its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Settings
from tests.support.actors import Register, World, make_prefecture, token_for
from tests.support.processes import ServedFund, serve_fund


@pytest.fixture
def world(
    client: TestClient,
    settings: Settings,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
    participant: Register,
) -> World:
    """A prefecture of Paris and a CPAM in 75 it owes its decisions to, on ``client``."""
    prefecture = make_prefecture(client, settings, participant, departements=["75"])
    caller = participant("fund", regime=Regime.CPAM, departements=["75"])
    token = token_for(client, settings, caller)
    return World(client, settings, sessions, gateway_keys, participant, prefecture, caller, token)


@pytest.fixture
def served(migrated_database_url: str, tmp_path: Path) -> Iterator[ServedFund]:
    """``gateway serve`` in its own process with a prefecture and a fund in 75."""
    with serve_fund(migrated_database_url, tmp_path) as running:
        yield running
