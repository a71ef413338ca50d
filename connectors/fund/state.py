"""The fund's state: what was verified, where its records went, what was acknowledged.

One JSON file (``state.json``) replaced atomically, beside the records and receipts it
names, and a lock so that two runs never interleave. Personal data only ever goes to the
records files; the state names batches by id, seq and digest.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, OKPKey

from connectors import wire
from connectors.fund.errors import FundStateError
from connectors.fund.receipts import BatchRef, PrivateKey, sign_receipt
from connectors.fund.records import RecordFormat, read_record_ids, write_atomically, write_records
from connectors.fund.verify import VerifiedBatch, verify_batch

STATE_FILE = "state.json"
LOCK_FILE = ".lock"
RECORDS_DIR = "records"
RECEIPTS_DIR = "receipts"


def now() -> str:
    """The instant, as the state file writes it."""
    return wire.timestamp(datetime.now(UTC))


@dataclass
class BatchEntry:
    """One verified batch in the state file: where its records and receipt are."""

    seq: int
    batch_id: str
    digest: str
    record_count: int
    records_file: str  # relative to the state directory
    format: RecordFormat
    verified_at: str
    receipt_file: str | None = None
    acknowledged_at: str | None = None  # receipt accepted by the gateway, or answered to a push


class FundState:
    """The fund's state file ``state.json`` in ``directory``, and the files beside it.

    Holds the last verified seq and digest, and for each verified seq its batch id,
    digest, records file and receipt. Saved atomically (temporary file, then
    ``os.replace``). Use ``FundState.locked`` to read, change and save it: it holds an
    exclusive lock on the directory meanwhile (POSIX ``flock``), between threads and
    processes alike.
    """

    def __init__(
        self,
        directory: Path,
        fund_id: str,
        last_seq: int = 0,
        last_digest: str | None = None,
        batches: dict[int, BatchEntry] | None = None,
    ) -> None:
        self.directory = directory
        self.fund_id = fund_id
        self.last_seq = last_seq
        self.last_digest = last_digest
        self.batches: dict[int, BatchEntry] = batches or {}

    @classmethod
    def load(cls, directory: Path, fund_id: str) -> FundState:
        """The state in ``directory`` (empty if none yet); refused if it is another fund's."""
        path = directory / STATE_FILE
        if not path.exists():
            return cls(directory, fund_id)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            state = cls(
                directory,
                str(raw["fund_id"]),
                int(raw["last_seq"]),
                raw["last_digest"],
                {int(seq): BatchEntry(**entry) for seq, entry in raw["batches"].items()},
            )
        except (ValueError, KeyError, TypeError) as error:
            raise FundStateError(f"{path} is not a fund state file") from error
        if state.fund_id != fund_id:
            raise FundStateError(f"{directory} holds the state of {state.fund_id}, not {fund_id}")
        return state

    @classmethod
    @contextlib.contextmanager
    def locked(cls, directory: Path, fund_id: str) -> Iterator[FundState]:
        """The state, with the directory locked until the block ends."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with (directory / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield cls.load(directory, fund_id)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def save(self) -> None:
        document = {
            "fund_id": self.fund_id,
            "last_seq": self.last_seq,
            "last_digest": self.last_digest,
            "batches": {str(seq): asdict(entry) for seq, entry in sorted(self.batches.items())},
        }
        write_atomically(self.directory / STATE_FILE, json.dumps(document, indent=2).encode())

    @property
    def expected_seq(self) -> int:
        return self.last_seq + 1

    def find(self, digest: str) -> BatchEntry | None:
        return next((e for e in self.batches.values() if e.digest == digest), None)

    def unacknowledged(self) -> list[BatchEntry]:
        return [e for _, e in sorted(self.batches.items()) if e.acknowledged_at is None]

    def path(self, relative: str) -> Path:
        return self.directory / relative

    def verify(
        self,
        content: bytes,
        jwks: Mapping[str, Any],
        decryption_key: ECKey | OKPKey | None = None,
    ) -> VerifiedBatch:
        """``verify_batch`` as the next batch after the last one verified."""
        return verify_batch(
            content,
            jwks=jwks,
            fund_id=self.fund_id,
            expected_seq=self.expected_seq,
            previous_digest=self.last_digest,
            decryption_key=decryption_key,
        )

    def accept(
        self,
        batch: VerifiedBatch,
        fmt: RecordFormat,
        receipt: bytes | None = None,
        *,
        acknowledged: bool = False,
    ) -> BatchEntry:
        """Write the batch's records (and receipt), then record it and save the state.

        The files are written before the state names them: after a crash the batch is
        simply taken again. ``acknowledged``: the receipt is being handed over now (the
        answer to a push).
        """
        if batch.seq != self.expected_seq:
            raise FundStateError(f"batch seq {batch.seq} is not the next ({self.expected_seq})")
        stem = f"{batch.seq:08d}-{batch.batch_id}"
        records_file = f"{RECORDS_DIR}/{stem}.{fmt}"
        write_records(self.path(records_file), batch.records, fmt)
        entry = BatchEntry(
            seq=batch.seq,
            batch_id=batch.batch_id,
            digest=batch.digest,
            record_count=len(batch.records),
            records_file=records_file,
            format=fmt,
            verified_at=now(),
        )
        if receipt is not None:
            entry.receipt_file = self.store_receipt(entry, receipt)
            entry.acknowledged_at = now() if acknowledged else None
        self.batches[batch.seq] = entry
        self.last_seq = batch.seq
        self.last_digest = batch.digest
        self.save()
        return entry

    def store_receipt(self, entry: BatchEntry, receipt: bytes) -> str:
        name = f"{RECEIPTS_DIR}/{entry.seq:08d}-{entry.batch_id}.jose"
        write_atomically(self.path(name), receipt)
        return name

    def receipt_for(
        self,
        entry: BatchEntry,
        *,
        key: PrivateKey,
        kid: str | None = None,
        alg: str | None = None,
        outcome: str = wire.DEFAULT_OUTCOME,
    ) -> bytes:
        """The entry's receipt: the one signed before, or a new one (saved in the state)."""
        if entry.receipt_file is not None:
            return self.path(entry.receipt_file).read_bytes()
        ids = read_record_ids(self.path(entry.records_file), entry.format)
        if len(ids) != entry.record_count:
            raise FundStateError(
                f"{entry.records_file} holds {len(ids)} records; the batch had {entry.record_count}"
            )
        ref = BatchRef(entry.batch_id, self.fund_id, entry.seq, entry.digest, ids)
        receipt = sign_receipt(ref, outcome, key=key, kid=kid, alg=alg)
        entry.receipt_file = self.store_receipt(entry, receipt)
        self.save()
        return receipt
