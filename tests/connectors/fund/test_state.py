"""The fund's state file: batches taken in order with their receipts, never half written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors import fund
from connectors.fund import FundState, FundStateError
from tests.support.actors import World
from tests.support.factories import NAMES


def test_the_state_file_is_never_left_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = FundState(tmp_path, "caf-13", 1, "sha256:aa")
    state.save()
    before = (tmp_path / fund.STATE_FILE).read_bytes()

    def crash(*_: Any) -> Path:
        raise OSError("disk gone")

    monkeypatch.setattr(Path, "replace", crash)
    state.last_seq, state.last_digest = 2, "sha256:bb"
    with pytest.raises(OSError, match="disk gone"):
        state.save()
    monkeypatch.undo()
    assert (tmp_path / fund.STATE_FILE).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [fund.STATE_FILE]
    loaded = FundState.load(tmp_path, "caf-13")
    assert (loaded.last_seq, loaded.last_digest) == (1, "sha256:aa")
    assert (tmp_path / fund.STATE_FILE).stat().st_mode & 0o077 == 0

    with pytest.raises(FundStateError, match="caf-13"):
        FundState.load(tmp_path, "cpam-75")
    (tmp_path / fund.STATE_FILE).write_text("{")
    with pytest.raises(FundStateError, match="not a fund state file"):
        FundState.load(tmp_path, "caf-13")


def test_the_state_takes_batches_in_order_and_keeps_their_receipts(
    world: World, tmp_path: Path
) -> None:
    _, one = world.batch(2)
    _, two = world.batch(1)
    with FundState.locked(tmp_path, world.fund.id) as state:
        first = state.verify(one, world.jwks())
        with pytest.raises(FundStateError, match="not the next"):
            state.accept(world.verify(two), "ndjson")
        entry = state.accept(first, "csv")
        receipt = state.receipt_for(entry, key=world.fund.key, kid=world.fund.kid)
        assert state.receipt_for(entry, key=world.fund.key) == receipt  # signed once
        second = state.verify(two, world.jwks())
        state.accept(second, "ndjson")
    loaded = FundState.load(tmp_path, world.fund.id)
    assert (loaded.last_seq, loaded.last_digest) == (2, second.digest)
    assert [e.seq for e in loaded.unacknowledged()] == [1, 2]
    assert loaded.batches[1].receipt_file is not None
    assert loaded.path(loaded.batches[1].receipt_file).read_bytes() == receipt
    assert loaded.find(first.digest) == loaded.batches[1]
    assert world.post_receipt(first.batch_id, receipt).status_code == 201
    state_text = (tmp_path / fund.STATE_FILE).read_text(encoding="utf-8")
    assert all(name not in state_text for name in NAMES)
