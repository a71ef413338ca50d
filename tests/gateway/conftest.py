"""Fixtures shared by the gateway's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.keys import GatewayKeys
from gateway.settings import Settings
from tests.conftest import BASE_URL


@pytest.fixture
def limited(
    settings: Settings,
    gateway_keys: GatewayKeys,
    engine: Engine,
    sessions: sessionmaker[Session],
) -> Iterator[TestClient]:
    """A gateway allowing 3 checks per agent and 5 per fund in each hour."""
    configured = settings.model_copy(
        update={"status_checks_per_agent": 3, "status_checks_per_fund": 5}
    )
    app = create_app(configured, keys=gateway_keys, engine=engine, sessions=sessions)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as http:
        yield http
