"""The console's evidence page: the latest signed checkpoint, and an event's inclusion in
it, checked by the gateway and given whole so that an auditor's own code checks it again;
another territory's event is unknown; the proof downloads as a file to check offline."""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING

from audit import merkle
from audit.actions import AuditAction, AuditOutcome
from gateway import jobs
from tests.console.test_login import events
from tests.console.test_pages import checks, reader
from tests.support.merkle import reference_root_from_path

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.settings import Settings
    from tests.console.conftest import Territories, Visit


def event_ids(sessions: sessionmaker[Session], participant: str) -> list[str]:
    return [
        event.event_id
        for event in events(sessions, AuditAction.STATUS_CHECKED)
        if event.participant_id == participant
    ]


def test_an_events_inclusion_is_shown_checked_and_checks_again_offline(
    visit: Callable[..., Visit],
    territories: Territories,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    checks(sessions, territories.paris_fund, "agent-e", 3)
    checks(sessions, territories.marseille_fund, "agent-m", 1)
    assert jobs.sign_audit_checkpoint(sessions, settings) > 0
    browser = reader(visit, territories)
    [mine, *_] = event_ids(sessions, territories.paris_fund)
    [theirs] = event_ids(sessions, territories.marseille_fund)

    first = browser.get("/console/evidence")
    assert first.status_code == 200, first.text
    assert 'id="note-signee"' in first.text
    shown = browser.get("/console/evidence", params={"event": mine})
    assert shown.status_code == 200, shown.text
    assert 'id="preuve-verifiee"' in shown.text

    download = browser.get("/console/evidence/proof.json", params={"event": mine})
    assert download.status_code == 200, download.text
    assert "attachment" in download.headers["content-disposition"]
    proof = json.loads(download.text)["inclusion"]
    note = json.loads(download.text)["checkpoint"]
    # Checked again with code of the test's own: the bytes, the leaf, the path, the root
    # the signed note states.
    leaf = merkle.leaf_hash(proof["leaf"].encode())
    assert base64.b64encode(leaf).decode() == proof["leaf_hash"]
    path = [base64.b64decode(node) for node in proof["proof"]]
    root = reference_root_from_path(leaf, proof["leaf_index"], proof["tree_size"], path)
    assert root is not None
    assert base64.b64encode(root).decode() == proof["root_hash"]
    assert proof["root_hash"] in note
    assert f"\n{proof['tree_size']}\n" in note
    assert json.loads(proof["leaf"])["event_id"] == mine

    hidden = browser.get("/console/evidence", params={"event": theirs})
    assert hidden.status_code == 404
    unknown = browser.get(
        "/console/evidence", params={"event": "0" * 8 + "-0000-0000-0000-" + "0" * 12}
    )
    assert unknown.status_code == 404
    malformed = browser.get("/console/evidence", params={"event": "<script>"})
    assert malformed.status_code == 400

    shown_events = events(sessions, AuditAction.CONSOLE_EVIDENCE_SHOWN)
    outcomes = [(e.outcome, e.object_ids, e.detail.get("verified")) for e in shown_events]
    assert (AuditOutcome.SUCCESS, [mine], True) in outcomes
    assert sum(e.outcome == AuditOutcome.REFUSED for e in shown_events) == 3
    assert all(theirs not in json.dumps(e.detail) for e in shown_events)
    [exported] = events(sessions, AuditAction.CONSOLE_EVIDENCE_EXPORTED)
    assert exported.object_ids == [mine]


def test_before_any_checkpoint_the_page_says_so(
    visit: Callable[..., Visit], territories: Territories
) -> None:
    browser = reader(visit, territories)
    answer = browser.get("/console/evidence")
    assert answer.status_code == 200, answer.text
    assert 'id="aucun-point-de-controle"' in answer.text
    assert re.search(r"<script>", answer.text) is None
