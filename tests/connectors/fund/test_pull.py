"""Pulling over HTTP from a gateway in its own process: stopped at a tampered batch, and
resumed from it once it is mended.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from connectors import fund, wire
from gateway.batches.models import Batch, RecordOutcome
from gateway.batches.storage import open_content, seal_content
from tests.support.jose import flip_signature
from tests.support.processes import ServedFund


@pytest.mark.slow  # starts the gateway in its own process
def test_pull_stops_at_a_tampered_batch_and_resumes_from_it(
    served: ServedFund, tmp_path: Path
) -> None:
    served.post(3)
    assert [b.seq for b in served.seal(max_records=1)] == [1, 2, 3]
    jwks = served.jwks()
    state_dir = tmp_path / "state"
    (row,) = served.rows(select(Batch).where(Batch.seq == 2))
    cipher = served.keys.identity_cipher()
    original = open_content(cipher, row.Batch)
    tampered = flip_signature(original)
    served.execute(
        update(Batch)
        .where(Batch.seq == 2)
        .values(**seal_content(cipher, row.Batch.id, tampered), digest=wire.digest_of(tampered))
    )

    def options() -> dict[str, Any]:
        return {
            "jwks": jwks,
            "fund_id": served.fund.id,
            "agent_id": "a-1",
            "ack": True,
            "signing_key": served.fund.key,
            "kid": served.fund.kid,
        }

    with served.client() as client:
        stopped = fund.pull(client, state_dir, **options())
    assert stopped.failure is not None
    assert (stopped.failure.seq, stopped.failure.rule) == (2, "signature")
    assert [e.seq for e in stopped.pulled] == [1]
    assert stopped.last_seq == 1
    assert [e.seq for e in stopped.acknowledged] == [1]  # what was verified is acknowledged
    assert sorted(p.name[:8] for p in (state_dir / "records").iterdir()) == ["00000001"]

    served.execute(
        update(Batch)
        .where(Batch.seq == 2)
        .values(**seal_content(cipher, row.Batch.id, original), digest=wire.digest_of(original))
    )
    with served.client() as client:
        resumed = fund.pull(client, state_dir, decide=lambda _: "rights-ended", **options())
        assert resumed.ok, resumed.failure
        assert [e.seq for e in resumed.pulled] == [2, 3]
        assert [e.seq for e in resumed.acknowledged] == [2, 3]
        assert resumed.last_seq == 3
        idle = fund.pull(client, state_dir, **options())
    assert (idle.pulled, idle.acknowledged, idle.last_seq) == ([], [], 3)
    outcomes = served.rows(
        select(Batch.seq, RecordOutcome.outcome)
        .join(RecordOutcome, RecordOutcome.batch_id == Batch.id)
        .order_by(Batch.seq)
    )
    assert [tuple(row) for row in outcomes] == [
        (1, "noted"),
        (2, "rights-ended"),
        (3, "rights-ended"),
    ]
    states = served.rows(select(Batch.state))
    assert {row.state for row in states} == {"acknowledged"}
