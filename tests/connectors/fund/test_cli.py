"""The ``gateway fund`` commands: ``verify`` a saved batch offline; ``pull``, ``ack`` and ``check``
over HTTP, against a gateway in its own process.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors import fund
from connectors.fund import FundState
from gateway.batches.models import Batch
from tests.support.actors import World
from tests.support.cli import invoke
from tests.support.factories import NAMES
from tests.support.jose import flip_signature
from tests.support.processes import ServedFund


def test_gateway_fund_verify_checks_a_saved_batch_offline(world: World, tmp_path: Path) -> None:
    first, one = world.batch(2)
    _, two = world.batch(1)
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(world.jwks()))
    files = {name: tmp_path / f"{name}.jose" for name in ("one", "two", "bad")}
    files["one"].write_bytes(one)
    files["two"].write_bytes(two)
    files["bad"].write_bytes(flip_signature(two))
    common = ("fund", "verify", "--jwks", str(jwks_file), "--fund-id", world.fund.id)

    shown = invoke(*common, str(files["one"]), "--seq", "1")
    assert first.id in shown
    assert first.digest in shown
    assert "verified: signature, fund id, record count, Merkle root, seq, chain" in shown
    assert all(name not in shown for name in NAMES)
    chained = invoke(*common, str(files["two"]), "--seq", "2", "--previous-digest", first.digest)
    assert "chain" in chained
    refused = invoke(*common, str(files["bad"]), code=1)
    assert "refused: signature" in refused
    assert "seq-gap" in invoke(*common, str(files["two"]), "--seq", "1", code=1)
    assert "--previous-digest" in invoke(*common, str(files["two"]), "--seq", "2", code=2)
    wrong = ("fund", "verify", "--jwks", str(jwks_file), "--fund-id", "caf-13")
    assert "fund-id" in invoke(*wrong, str(files["one"]), code=1)


@pytest.mark.slow  # starts the gateway in its own process
def test_pull_and_ack_over_http_from_the_command_line(served: ServedFund, tmp_path: Path) -> None:
    served.post(3)
    assert [b.seq for b in served.seal(max_records=2)] == [1, 2]
    state_dir = tmp_path / "state"
    common = (
        *("--url", served.base_url, "--client-id", served.fund.id),
        *("--key", str(served.key_file), "--state-dir", str(state_dir), "--agent-id", "a-1"),
    )

    shown = invoke("fund", "pull", *common, "--format", "csv")
    assert "2 batches pulled" in shown
    assert "last verified seq: 2" in shown
    assert all(name not in shown for name in NAMES)
    state = FundState.load(state_dir, served.fund.id)
    assert state.last_seq == 2
    files = [state.path(state.batches[seq].records_file) for seq in (1, 2)]
    assert [len(fund.read_record_ids(path, "csv")) for path in files] == [2, 1]
    written = [path.stat().st_mtime_ns for path in files]
    assert [e.acknowledged_at for e in state.unacknowledged()] == [None, None]
    states = served.rows(select(Batch.seq, Batch.state).order_by(Batch.seq))
    assert [tuple(row) for row in states] == [(1, "delivered"), (2, "delivered")]

    again = invoke("fund", "pull", *common, "--format", "csv")
    assert "0 batches pulled" in again
    assert [path.stat().st_mtime_ns for path in files] == written

    acked = invoke("fund", "ack", *common)
    assert "2 batches acknowledged" in acked
    states = served.rows(select(Batch.seq, Batch.state).order_by(Batch.seq))
    assert [tuple(row) for row in states] == [(1, "acknowledged"), (2, "acknowledged")]
    assert "0 batches acknowledged" in invoke("fund", "ack", *common)
    assert FundState.load(state_dir, served.fund.id).unacknowledged() == []


@pytest.mark.slow  # starts the gateway in its own process
def test_fund_check_sends_a_file_of_affiliates_and_writes_the_answers(
    served: ServedFund, tmp_path: Path
) -> None:
    served.post(1)  # a decision about the person with AGDREF number 7512345678
    affiliates = tmp_path / "affiliates.csv"
    affiliates.write_text(
        "member;agdref_number;birth_name;residence_departement\n"
        "M-1;7512345678;N'Diaye;75\n"
        "M-2;7599999999;Martin;75\n"
        "M-3;12AB;Broken;75\n"
    )
    answers = tmp_path / "answers.csv"
    shown = invoke(
        "fund",
        "check",
        str(affiliates),
        *("--url", served.base_url, "--client-id", served.fund.id),
        *("--key", str(served.key_file), "--agent-id", "sweep-1", "--output", str(answers)),
    )
    assert "3 checked" in shown
    assert "1 malformed" in shown
    rows = list(csv.DictReader(io.StringIO(answers.read_text())))
    assert [row["member"] for row in rows] == ["M-1", "M-2", "M-3"]  # the input, kept
    assert [row["result"] for row in rows] == ["adverse_decision", "none_known", ""]
    assert rows[0]["decision_reference"] == "H-1"
    assert rows[0]["match"] == "exact"
    assert "agdref_number: agdref-format" in rows[2]["errors"]
