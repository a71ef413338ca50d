"""The closed vocabularies are documented: every audit action and outcome in
``docs/audit.md``, every receipt outcome in ``docs/batches.md``, each with its meaning,
and nothing there that the code does not have; the OpenAPI document says the same."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from audit.actions import AuditAction, AuditOutcome
from connectors import wire
from gateway.contract.openapi import AUDIT_ACTIONS, AUDIT_OUTCOMES, RECEIPT_OUTCOMES

DOCS = Path(__file__).resolve().parents[3] / "docs"
ROW = re.compile(r"^\| `([^`]+)` \| (.+) \|$")


def table(document: str, heading: str) -> dict[str, str]:
    """The first table whose header's first column is ``heading``: code to meaning."""
    lines = (DOCS / document).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {heading} |"))
    rows: dict[str, str] = {}
    for line in lines[start + 2 :]:
        found = ROW.match(line)
        if not found:
            break
        rows[found.group(1)] = found.group(2)
    return rows


@pytest.mark.parametrize(
    ("document", "heading", "codes", "meanings"),
    [
        ("audit.md", "action", AuditAction, AUDIT_ACTIONS),
        ("audit.md", "outcome", AuditOutcome, AUDIT_OUTCOMES),
        ("batches.md", "outcome", wire.Outcome, RECEIPT_OUTCOMES),
    ],
)
def test_every_code_is_documented_with_its_meaning_and_nothing_else(
    document: str, heading: str, codes: type[StrEnum], meanings: dict[StrEnum, str]
) -> None:
    rows = table(document, heading)
    assert list(rows) == [str(code) for code in codes]
    assert all(meaning.strip() for meaning in rows.values())
    assert set(meanings) == set(codes)
    for code, meaning in meanings.items():
        assert rows[str(code)] == meaning, code


def test_the_table_reader_stops_at_the_end_of_a_table() -> None:
    rows = table("batches.md", "outcome")
    assert "rights-ended" in rows
    assert "pending" not in rows  # the outbox's states, another table
