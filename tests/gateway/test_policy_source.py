"""The running service follows its policy file, and keeps the last valid policy."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.disclosures.models import Disclosure
from gateway.participants.models import Regime
from gateway.policy_source import PolicySource
from gateway.settings import Settings
from policies.loader import DEFAULT_POLICY, PolicyError, load_text
from tests.support.actors import Register, make_prefecture
from tests.support.factories import decision, identity

DEFAULT = DEFAULT_POLICY.read_text()
WITHOUT_CAF = DEFAULT.replace(
    "    caf: {profile: default}\n", "    caf: {profile: default, enabled: false}\n"
)
BROKEN = DEFAULT.replace("    - priority_class", "    - public_order")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def refused(source: PolicySource) -> PolicyError | None:
    """The refused change (a call, so that each check reads the attribute afresh)."""
    return source.last_error


def write(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    # File systems with coarse timestamps: make each write's stamp distinct.
    os.utime(path, ns=(tick * 1_000_000_000, tick * 1_000_000_000))


def test_a_changed_file_is_taken_at_the_next_check_and_a_broken_one_never(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "policy.yaml"
    write(path, DEFAULT, 1)
    clock = Clock()
    source = PolicySource(path, 30, clock)
    first = source.current().version
    assert first == load_text(DEFAULT).version

    write(path, WITHOUT_CAF, 2)
    assert source.current().version == first  # not yet due
    clock.now = 31
    assert source.current().version == load_text(WITHOUT_CAF).version
    assert source.last_error is None

    write(path, BROKEN, 3)
    clock.now = 62
    with caplog.at_level(logging.ERROR, logger="gateway.policy"):
        kept = source.current()
    assert kept.version == load_text(WITHOUT_CAF).version
    error = refused(source)
    assert error is not None
    assert any("profiles.default.14" in str(p) for p in error.problems)
    assert "last valid policy stays in force" in caplog.text

    write(path, DEFAULT, 4)
    clock.now = 93
    assert source.current().version == first
    assert refused(source) is None


def test_a_missing_file_keeps_the_policy_and_zero_means_never_reload(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    write(path, DEFAULT, 1)
    clock = Clock()
    source = PolicySource(path, 10, clock)
    path.unlink()
    clock.now = 11
    assert source.current().version == load_text(DEFAULT).version
    assert source.last_error is not None

    frozen = tmp_path / "frozen.yaml"
    write(frozen, DEFAULT, 1)
    never = PolicySource(frozen, 0, clock)
    write(frozen, WITHOUT_CAF, 2)
    clock.now = 10_000
    assert never.current().version == load_text(DEFAULT).version


def test_a_broken_file_at_start_up_stops_the_service(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(BROKEN)
    with pytest.raises(PolicyError):
        PolicySource(path, 30)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    write(path, DEFAULT, 1)
    return path


@pytest.fixture
def reloading_client(policy_file: Path, app_client: Callable[..., TestClient]) -> TestClient:
    return app_client(policy_file=policy_file, policy_reload_seconds=3600)


def test_editing_the_policy_file_changes_routing_without_a_restart_or_a_code_change(
    reloading_client: TestClient,
    policy_file: Path,
    settings: Settings,
    participant: Register,
    session: Session,
) -> None:
    http = reloading_client
    cpam = participant("fund", regime=Regime.CPAM, departements=["93"])
    caf = participant("fund", regime=Regime.CAF, departements=["93"])
    prefecture = make_prefecture(http, settings, participant, departements=["93"])

    def owed(reference: str) -> set[tuple[str, str]]:
        created = prefecture.created(
            decision(reference, identity=identity(residence_departement="93"))
        )
        statement = select(Disclosure).where(Disclosure.decision_id == created["id"])
        return {(d.fund_id, d.policy_version) for d in session.scalars(statement)}

    before = load_text(DEFAULT).version
    assert owed("RELOAD-1") == {(cpam.id, before), (caf.id, before)}

    source: PolicySource = http.app.state.gateway.policy_source  # type: ignore[attr-defined]
    write(policy_file, WITHOUT_CAF, 2)
    source.refresh()  # what the next request does once the check is due
    after = load_text(WITHOUT_CAF).version
    assert owed("RELOAD-2") == {(cpam.id, after)}
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["policy"] == {"version": after}

    write(policy_file, BROKEN, 3)
    source.refresh()
    assert owed("RELOAD-3") == {(cpam.id, after)}  # the last valid policy stays in force
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.text  # still serving: not a reason to leave
    assert ready.json()["policy"]["version"] == after
    assert any(
        "public_order" in p or "profiles" in p for p in ready.json()["policy"]["refused_change"]
    )
