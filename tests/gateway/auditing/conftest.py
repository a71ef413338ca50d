"""Fixtures of the auditors' tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.participants.models import Regime
from gateway.settings import Settings
from tests.support.actors import Prefecture, Register, make_prefecture


@pytest.fixture
def prefecture(client: TestClient, settings: Settings, participant: Register) -> Prefecture:
    """A prefecture in 93, with a CPAM there: its decisions are owed and sealed for it."""
    participant("fund", regime=Regime.CPAM, departements=["93"])
    return make_prefecture(client, settings, participant, departements=["93"])
