"""The retention purge: identity data crypto-shredded past retention, and a report of it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from gateway.auditlog.models import AuditEvent
from gateway.cli.main import app
from gateway.decisions.models import DecisionVersion
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.identities.models import Identity
from gateway.imports.models import DecisionImport, ImportLine
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.retention import purge
from gateway.retention.models import PurgeRun
from gateway.settings import Settings
from gateway.storage.base import utcnow
from gateway.storage.migrate import upgrade
from policies.loader import DEFAULT_POLICY, LoadedPolicy, load_file
from tests.support.actors import Prefecture, Register, make_prefecture
from tests.support.factories import decision, identity

POLICY = load_file(DEFAULT_POLICY)
IDENTITY_DAYS = POLICY.policy.retention.identity_after_last_receipt_days
IMPORT_DAYS = POLICY.policy.retention.import_reports_days


@pytest.fixture
def prefecture(client: TestClient, settings: Settings, participant: Register) -> Prefecture:
    """The prefecture of Paris, with a CPAM and a CAF in 75 that its decisions are owed to:
    identities are kept until every fund has acknowledged them."""
    participant("fund", regime=Regime.CPAM, departements=["75"])
    participant("fund", regime=Regime.CAF, departements=["75"])
    return make_prefecture(client, settings, participant, departements=["75"])


def later(days: int) -> datetime:
    return utcnow() + timedelta(days=days)


def identities_of(session: Session, decision_id: str) -> list[Identity]:
    statement = (
        select(Identity)
        .join(DecisionVersion, DecisionVersion.identity_id == Identity.id)
        .where(DecisionVersion.decision_id == decision_id)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(statement))


def settle(session: Session, decision_id: str, state: DisclosureState) -> None:
    """What receipts will do: every disclosure of the decision reaches ``state``."""
    session.execute(
        update(Disclosure).where(Disclosure.decision_id == decision_id).values(state=state)
    )
    session.commit()


def test_identity_data_is_shredded_once_every_fund_acknowledged_and_retention_passed(
    prefecture: Prefecture, sessions: sessionmaker[Session], session: Session
) -> None:
    created = prefecture.created(decision("RET-1"))
    assert len(created["disclosures"]) == 2
    settle(session, created["id"], DisclosureState.ACKNOWLEDGED)

    early = purge.run(sessions, POLICY, now=later(IDENTITY_DAYS - 1))
    assert early.classes["identity_data"]["purged"] == 0
    assert all(i.wrapped_key is not None for i in identities_of(session, created["id"]))

    report = purge.run(sessions, POLICY, now=later(IDENTITY_DAYS + 1))
    assert report.classes["identity_data"]["due"] == 1
    assert report.classes["identity_data"]["purged"] == 1
    for row in identities_of(session, created["id"]):
        assert row.wrapped_key is None
        assert row.shredded_at is not None
        assert (row.bi_agdref, row.bi_ssn, row.bi_name_year_sex) == (None, None, None)
        assert row.ciphertext  # crypto-shredding: the bytes stay, unreadable forever

    shown = prefecture.read(created["id"])
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["reference"] == "RET-1"
    assert body["versions"][0]["identity"] is None
    assert len(body["disclosures"]) == 2  # the evidence stays

    again = purge.run(sessions, POLICY, now=later(IDENTITY_DAYS + 2))
    assert again.classes["identity_data"]["purged"] == 0


def test_identity_data_a_fund_still_awaits_is_never_purged(
    prefecture: Prefecture, sessions: sessionmaker[Session], session: Session
) -> None:
    pending = prefecture.created(decision("RET-2"))
    delivered = prefecture.created(decision("RET-3"))
    settle(session, delivered["id"], DisclosureState.DELIVERED)
    report = purge.run(sessions, POLICY, now=later(10 * IDENTITY_DAYS))
    assert report.classes["identity_data"]["purged"] == 0
    for created in (pending, delivered):
        assert all(i.wrapped_key is not None for i in identities_of(session, created["id"]))


def test_a_recorded_only_decision_is_purged_from_its_last_change(
    prefecture: Prefecture, sessions: sessionmaker[Session], session: Session
) -> None:
    oqtf = prefecture.created(decision("RET-4", kind="oqtf"))
    assert oqtf["disclosures"] == []
    assert (
        purge.run(sessions, POLICY, now=later(IDENTITY_DAYS - 1)).classes["identity_data"]["purged"]
        == 0
    )
    report = purge.run(sessions, POLICY, now=later(IDENTITY_DAYS + 1))
    assert report.classes["identity_data"]["purged"] == 1
    assert all(i.wrapped_key is None for i in identities_of(session, oqtf["id"]))


def test_every_identity_of_a_corrected_decision_goes_and_a_recent_receipt_holds_it(
    prefecture: Prefecture, sessions: sessionmaker[Session], session: Session
) -> None:
    created = prefecture.created(decision("RET-5"))
    corrected = prefecture.correct(
        created["id"],
        {
            "kind": "data-correction",
            "reference": "RET-5-C",
            "correction_date": created["versions"][0]["decision_date"],
            "identity": identity(birth_name="Nouveau"),
        },
    )
    assert corrected.status_code == 201, corrected.text
    assert len({i.id for i in identities_of(session, created["id"])}) == 2
    settle(session, created["id"], DisclosureState.ACKNOWLEDGED)
    # A receipt that came late (the disclosure changed after the cutoff) holds the data.
    session.execute(
        update(Disclosure)
        .where(Disclosure.decision_id == created["id"])
        .values(updated_at=later(30))
    )
    session.commit()
    held = purge.run(sessions, POLICY, now=later(IDENTITY_DAYS + 1))
    assert held.classes["identity_data"]["purged"] == 0
    report = purge.run(sessions, POLICY, now=later(IDENTITY_DAYS + 31))
    assert report.classes["identity_data"]["purged"] == 1
    assert all(i.wrapped_key is None for i in identities_of(session, created["id"]))


def test_a_dry_run_counts_and_changes_nothing_and_every_run_is_reported(
    prefecture: Prefecture, sessions: sessionmaker[Session], session: Session
) -> None:
    created = prefecture.created(decision("RET-6"))
    settle(session, created["id"], DisclosureState.REJECTED)
    dry = purge.run(sessions, POLICY, dry_run=True, now=later(IDENTITY_DAYS + 1))
    assert dry.classes["identity_data"]["due"] == 1
    assert dry.classes["identity_data"]["purged"] == 0
    assert all(i.wrapped_key is not None for i in identities_of(session, created["id"]))

    stored = session.get_one(PurgeRun, dry.id)
    assert stored.dry_run
    assert stored.finished_at is not None
    assert stored.policy_version == POLICY.version
    assert stored.classes["identity_data"]["due"] == 1
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "retention:purged")).one()
    assert event.object_ids == [dry.id]
    assert event.subject_pseudonyms == []
    assert event.detail["identity_data"] == {"due": 1, "purged": 0}
    assert event.detail["dry_run"] is True


def test_import_reports_lose_their_lines_after_retention_and_keep_their_counts(
    prefecture: Prefecture,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> None:
    content = (
        b"\n".join(json.dumps(decision(f"RET-IMP-{n}")).encode() for n in range(3)) + b"\n{broken"
    )
    import_id = prefecture.imported(content, sessions, gateway_keys)["id"]

    def lines() -> int:
        statement = select(ImportLine).where(ImportLine.import_id == import_id)
        return len(session.scalars(statement).all())

    assert lines() == 4
    assert (
        purge.run(sessions, POLICY, now=later(IMPORT_DAYS - 1)).classes["import_reports"]["purged"]
        == 0
    )
    report = purge.run(sessions, POLICY, now=later(IMPORT_DAYS + 1))
    assert report.classes["import_reports"] == {
        **report.classes["import_reports"],
        "due": 1,
        "purged": 1,
        "lines_removed": 4,
    }
    assert lines() == 0
    kept = session.get_one(DecisionImport, import_id, populate_existing=True)
    assert (kept.accepted, kept.rejected, kept.lines_purged_at is not None) == (3, 1, True)
    shown = prefecture.report(import_id)
    assert shown.status_code == 200, shown.text
    assert shown.json()["accepted"] == 3
    assert shown.json()["report"] == []


def test_old_audit_events_are_counted_and_kept(
    sessions: sessionmaker[Session], session: Session
) -> None:
    days = POLICY.policy.retention.audit_events_days
    report = purge.run(sessions, POLICY, now=later(days + 1))
    audit = report.classes["audit_events"]
    assert audit["purged"] == 0
    assert audit["due"] >= 0
    assert "append-only" in audit["kept_because"]
    total = len(session.scalars(select(AuditEvent.id)).all())
    assert total >= 1  # the run's own event
    after = purge.run(sessions, POLICY, now=later(days + 1))
    assert after.classes["audit_events"]["due"] == total


def test_a_shorter_retention_in_the_policy_purges_sooner(
    prefecture: Prefecture, sessions: sessionmaker[Session], session: Session
) -> None:
    text = DEFAULT_POLICY.read_text().replace(
        f"identity_after_last_receipt_days: {IDENTITY_DAYS}",
        "identity_after_last_receipt_days: 30",
    )
    from policies.loader import load_text  # noqa: PLC0415

    short: LoadedPolicy = load_text(text)
    created = prefecture.created(decision("RET-7"))
    settle(session, created["id"], DisclosureState.ACKNOWLEDGED)
    assert purge.run(sessions, short, now=later(31)).classes["identity_data"]["purged"] == 1
    assert purge.run(sessions, POLICY, now=later(31)).classes["identity_data"]["purged"] == 0


def test_the_command_line_purge_prints_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade(url)
    env = {"GATEWAY_DATABASE_URL": url, "GATEWAY_KEY_DIR": str(tmp_path / "keys")}
    result = CliRunner().invoke(app, ["retention", "purge", "--dry-run", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["dry_run"] is True
    assert set(report["classes"]) == {
        "identity_data",
        "batch_contents",
        "import_reports",
        "audit_events",
    }
    result = CliRunner().invoke(
        app, ["retention", "purge", "--as-of", "2030-01-01"], env={**env, "COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "identity_data" in result.output
    assert "2029-01-01" in result.output  # the cutoff, a year before
    bad = CliRunner().invoke(app, ["retention", "purge", "--as-of", "soon"], env=env)
    assert bad.exit_code == 2
    assert "--as-of" in bad.output
