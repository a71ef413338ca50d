"""Fixtures of the status-check tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def limited(app_client: Callable[..., TestClient]) -> TestClient:
    """A gateway allowing 3 checks per agent and 5 per fund in each hour."""
    return app_client(status_checks_per_agent=3, status_checks_per_fund=5)
