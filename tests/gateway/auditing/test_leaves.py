"""Leaves an auditor recomputes: every field an event's leaf commits to comes out of the
events API as it enters the leaf, with the event's log index, so that an auditor, with
code of its own, rebuilds the leaf and checks it in the signed log.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from audit.events import (
    EVENT_FIELDS,
    JSON_FIELDS,
    event_bytes,
    event_document,
    stored_event_bytes,
)
from gateway import jobs
from gateway.auditing.schemas import EventOut
from gateway.settings import Settings
from tests.support.actors import Prefecture, Register, auditor_headers
from tests.support.auditor import LEAF_FIELDS, leaf_bytes, leaf_hash, open_checkpoint
from tests.support.factories import decision
from tests.support.merkle import reference_root_from_path
from tests.support.strategies import KEYS, TEXT

CANONICAL_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def test_an_auditor_recomputes_each_leaf_from_the_events_api_and_proves_it_in_the_signed_log(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    sessions: sessionmaker[Session],
) -> None:
    prefecture.created(decision("L-1"))
    prefecture.created(decision("L-2"))
    assert jobs.sign_audit_checkpoint(sessions, settings) > 0
    prefecture.created(decision("L-3"))  # after the checkpoint: not in the log yet
    headers = auditor_headers(client, settings, participant, national=True)

    jwks = client.get("/.well-known/jwks.json").json()
    note = client.get("/v1/audit/checkpoint", headers=headers)
    assert note.status_code == 200, note.text
    signed = open_checkpoint(note.text, jwks)
    assert signed.origin == settings.audit_log_origin

    answer = client.get("/v1/audit/events", params={"limit": 1000}, headers=headers)
    assert answer.status_code == 200, answer.text
    events = answer.json()["events"]
    logged = [e for e in events if e["leaf_index"] is not None]
    created = [e for e in events if e["action"] == "decision:created"]
    assert len(created) == 3
    assert [e["leaf_index"] is None for e in created] == [False, False, True]
    assert {e["participant_kind"] for e in created} == {"prefecture"}
    assert all(e["request_id"] for e in created)
    assert all(CANONICAL_INSTANT.fullmatch(e["occurred_at"]) for e in events)
    assert sorted(e["leaf_index"] for e in logged) == list(range(signed.tree_size))

    for event in logged:
        leaf = leaf_hash(event)
        proof = client.get(
            "/v1/audit/proofs/inclusion",
            params={"index": event["leaf_index"], "tree_size": signed.tree_size},
            headers=headers,
        )
        assert proof.status_code == 200, proof.text
        path = [base64.b64decode(h) for h in proof.json()["proof"]]
        root = reference_root_from_path(leaf, event["leaf_index"], signed.tree_size, path)
        assert root == signed.root_hash, event
        # Every field the leaf commits to is needed: a change in any one of them (those
        # the events API used to leave out among them) leads to another root.
        for name in ("request_id", "participant_kind", "occurred_at", "detail"):
            changed = {**event, name: _other(event[name])}
            assert (
                reference_root_from_path(
                    leaf_hash(changed), event["leaf_index"], signed.tree_size, path
                )
                != signed.root_hash
            ), name

    # The spreadsheet carries the same leaves: its ``leaf`` cell is the canonical bytes.
    sheet = client.get("/v1/audit/events", params={"limit": 1000, "format": "csv"}, headers=headers)
    assert sheet.status_code == 200, sheet.text
    rows = {row["event_id"]: row for row in csv.DictReader(io.StringIO(sheet.text))}
    for event in events:
        row = rows[event["event_id"]]
        assert row["leaf"].encode() == leaf_bytes(event)
        index = event["leaf_index"]
        assert row["leaf_index"] == ("" if index is None else str(index))
        assert (row["request_id"], row["participant_kind"], row["occurred_at"]) == (
            event["request_id"] or "",
            event["participant_kind"] or "",
            event["occurred_at"],
        )
        assert json.loads(row["leaf"]) == {name: event[name] for name in LEAF_FIELDS}


def _other(value: Any) -> Any:
    if isinstance(value, dict):
        return {**value, "added": 1}
    if isinstance(value, str) and CANONICAL_INSTANT.fullmatch(value):
        return value[:-2] + str((int(value[-2]) + 1) % 10) + "Z"  # one microsecond off
    return "something-else" if value != "something-else" else None


def test_the_auditors_fields_are_the_logs_fields() -> None:
    """The auditor's list of leaf fields (docs/audit.md) is the log's, in the answer too."""
    assert set(LEAF_FIELDS) == set(EVENT_FIELDS)
    assert set(EVENT_FIELDS) | {"id", "leaf_index"} == set(EventOut.model_fields)


# -- for any event ----------------------------------------------------------------------

SAFE_INTEGERS = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)  # RFC 8785's
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | SAFE_INTEGERS
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | TEXT, inner, max_size=4),
    max_leaves=12,
)
ZONES = st.none() | st.builds(
    timezone, st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23))
)
OPTIONAL_TEXT = st.none() | TEXT
EVENTS = st.fixed_dictionaries(
    {
        "id": st.integers(min_value=1, max_value=2**62),
        "event_id": TEXT,
        "occurred_at": st.builds(
            lambda moment, zone: moment if zone is None else moment.replace(tzinfo=zone),
            st.datetimes(
                min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - the zone is drawn apart
                max_value=datetime(9998, 12, 31),  # noqa: DTZ001
            ),
            ZONES,
        ),
        "action": TEXT,
        "outcome": TEXT,
        "participant_id": OPTIONAL_TEXT,
        "participant_kind": OPTIONAL_TEXT,
        "acting_for": OPTIONAL_TEXT,
        "agent_id": OPTIONAL_TEXT,
        "case_reference": OPTIONAL_TEXT,
        "purpose": OPTIONAL_TEXT,
        "request_id": OPTIONAL_TEXT,
        "object_ids": st.lists(TEXT, max_size=3),
        "subject_pseudonyms": st.lists(TEXT, max_size=3),
        "detail": st.dictionaries(KEYS | TEXT, JSON_VALUES, max_size=5),
    }
)


@given(EVENTS, st.none() | st.integers(min_value=0, max_value=2**62))
def test_for_any_event_the_auditors_leaf_from_the_answer_is_the_logs_leaf(
    row: dict[str, Any], leaf_index: int | None
) -> None:
    stored = SimpleNamespace(**row)  # as the event table gives it back
    answer = json.loads(EventOut.of(stored, leaf_index).model_dump_json())
    expected = event_bytes(event_document(stored))
    assert leaf_bytes(answer) == expected
    assert leaf_hash(answer) == hashlib.sha256(b"\x00" + expected).digest()
    assert answer["leaf_index"] == leaf_index
    assert CANONICAL_INSTANT.fullmatch(answer["occurred_at"])
    moment = row["occurred_at"]
    assert datetime.fromisoformat(answer["occurred_at"]) == (
        moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    )


@given(EVENTS, st.booleans())
def test_for_any_event_the_sequencers_bytes_from_its_stored_text_are_its_canonical_bytes(
    row: dict[str, Any], ascii_only: bool
) -> None:
    """JSON columns as text, written escaped (SQLite's) or in UTF-8 (PostgreSQL's)."""
    texts = {name: json.dumps(row[name], ensure_ascii=ascii_only) for name in JSON_FIELDS}
    stored = [texts.get(name, row[name]) for name in EVENT_FIELDS]
    decoded = SimpleNamespace(**{**row, **{name: json.loads(texts[name]) for name in texts}})
    assert stored_event_bytes(stored) == event_bytes(event_document(decoded))


@pytest.mark.parametrize(
    "detail",
    [
        '{"ratio": 0.5}',  # a float: RFC 8785's number form
        '{"\\u00e9": 1, "e": 2}',  # an escaped non-ASCII key
        '{"\\ud83d\\ude00": 1, "\\uff61": 2}',  # UTF-16 order is not code point order
        '{"\u00e9t\u00e9": [1, "\u00e0"]}',  # non-ASCII in UTF-8
        '{"n": 1e400}',  # past a double: what the general serialiser makes of it
        ' {"a": [1, 2]}\n',  # whitespace around the value
    ],
)
def test_the_sequencers_bytes_leave_the_fast_path_when_they_must(detail: str) -> None:
    row: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
    row.update(event_id="e-1", occurred_at=datetime(2026, 1, 2, tzinfo=UTC), action="a")
    row.update(object_ids="[]", subject_pseudonyms='["p"]', detail=detail)
    decoded = {**row, **{name: json.loads(row[name]) for name in JSON_FIELDS}}
    try:
        expected = event_bytes(event_document(decoded))
    except (ValueError, TypeError) as refused:
        with pytest.raises(type(refused)):
            stored_event_bytes([row[name] for name in EVENT_FIELDS])
        return
    assert stored_event_bytes([row[name] for name in EVENT_FIELDS]) == expected
