"""Fixtures of the batch tests: decisions are sealed for the funds of 93."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.settings import Settings
from tests.support.actors import Prefecture, Register, make_prefecture


@pytest.fixture
def prefecture(client: TestClient, settings: Settings, participant: Register) -> Prefecture:
    """A prefecture in 93, where ``fund`` is: its decisions are sealed for that fund."""
    return make_prefecture(client, settings, participant, departements=["93"])
