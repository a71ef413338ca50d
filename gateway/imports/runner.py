"""Processing an import: read the stored upload, validate, store in batches, report every line.

``run_pending_imports`` is the worker's job. It takes an import's lease (one worker at
a time per import, whatever the number of workers), then owns its transactions: one per
batch of lines (the batch's decisions, its report lines, its audit events, the import's
counts and its cursor, the last line processed, commit together, while the lease is
renewed and checked), then one to close it. A crash mid-file leaves the batches already
committed and the cursor after them; once the lease expires, the next run resumes after
the cursor, so no line is reported or stored twice.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import re
import socket
import threading
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from audit.actions import AuditAction, AuditOutcome
from connectors.importers import (
    LineError,
    RawRecord,
    read_csv,
    read_ndjson,
    validation_errors,
)
from gateway import tenancy
from gateway.auditlog.writer import AuditDraft, append_rows, as_row
from gateway.decisions import repository as decisions_repository
from gateway.decisions import service as decisions
from gateway.decisions.schemas import REFERENCE, DecisionIn
from gateway.disclosures import repository as disclosures_repository
from gateway.disclosures import service as disclosures
from gateway.disclosures.service import FundCache
from gateway.errors import GatewayError
from gateway.identities import repository as identities_repository
from gateway.identities import service as identities
from gateway.identities.crypto import Sealed
from gateway.imports import repository as imports_repository
from gateway.imports import upload
from gateway.imports.models import ImportStatus, LineOutcome
from gateway.participants import repository as participants_repository
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.auth.caller import Caller
    from gateway.identities.service import IdentityKeys
    from policies.loader import LoadedPolicy

BATCH_SIZE = 500
PIPELINE_DEPTH = 2  # batches prepared ahead of the writer: bounds memory
READERS = {"ndjson": read_ndjson, "csv": read_csv}
LEASE_SECONDS = 60  # renewed every batch; a worker silent this long is taken over
MAX_ATTEMPTS = 5  # runs that stopped on an error before the import is failed
log = logging.getLogger("gateway.imports")


class LeaseLost(RuntimeError):
    """Another worker took the import over (this one was silent past its lease)."""


def _safe_reference(line: _Line) -> str | None:
    """The line's reference for the report, if it is a well-formed one."""
    if line.payload is not None:
        return line.payload.reference
    reference = line.record.reference
    return reference if reference is not None and re.fullmatch(REFERENCE, reference) else None


@dataclass
class _Line:
    record: RawRecord
    outcome: LineOutcome = LineOutcome.REJECTED
    errors: list[LineError] = field(default_factory=list)
    payload: DecisionIn | None = None
    digest: str | None = None
    decision_id: str | None = None
    subjects: list[str] = field(default_factory=list)
    rows: decisions.NewDecision | None = None  # built ahead, in case it is accepted


@dataclass
class ImportRunner:
    sessions: sessionmaker[Session]
    caller: Caller
    keys: IdentityKeys
    policy: LoadedPolicy
    file_format: str
    dry_run: bool
    audit: AuditDraft
    import_id: str
    owner: str  # the lease holder: every batch checks it still is
    encoding: str = "utf-8"
    batch_size: int = BATCH_SIZE
    lease_seconds: float = LEASE_SECONDS
    resume_after: int = 0  # the last line processed by an earlier run
    # Held around each use of the database: the reading thread fetches stored chunks while
    # the writing thread stores batches, and their sessions may share one connection.
    db_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # A dry run stores nothing, so a later batch cannot find the decisions of earlier ones
    # in the database: it finds them here (reference -> digest), as a real run would.
    _dry_run_accepted: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # The funds covering each département, looked up once per import.
        self._funds: FundCache = {}
        # What every line's audit event shares with the request that brought the file.
        self._event_base = as_row(replace(self.audit, action=AuditAction.IMPORT_LINE))

    def process(self, chunks: Iterable[bytes]) -> None:
        """Process the file's lines after ``resume_after``, batch by batch, then close it.

        Raises ``LeaseLost`` if another worker took the import over meanwhile: the batch
        in hand is then not stored.
        """
        records = READERS[self.file_format](chunks, encoding=self.encoding)
        if self.resume_after:
            records = self._skip_done(records)
        self._pipeline(records)
        with self.sessions.begin() as session:
            if not imports_repository.close(
                session, self.import_id, ImportStatus.DONE, None, self.owner
            ):
                raise LeaseLost(self.import_id)
            imports_repository.delete_chunks(session, self.import_id)

    def _skip_done(self, records: Iterator[RawRecord]) -> Iterator[RawRecord]:
        """The records after the cursor.

        A dry run stored nothing, so what its earlier lines accepted is found again from
        its report, for the duplicates of later lines.
        """
        accepted: set[int] = set()
        if self.dry_run:
            with self.sessions() as session:
                accepted = imports_repository.line_numbers(
                    session, self.import_id, LineOutcome.ACCEPTED
                )
        for record in records:
            if record.line > self.resume_after:
                yield record
            elif record.line in accepted:
                line = self._validate(record)
                if line.payload is not None:
                    self._dry_run_accepted[line.payload.reference] = line.digest or ""

    def _pipeline(self, records: Iterator[RawRecord]) -> None:
        """Prepare batches in this thread while a writer thread stores the previous one.

        Reading, validating and sealing here overlap the database's time there.
        """
        prepared: queue.Queue[list[_Line] | None] = queue.Queue(maxsize=PIPELINE_DEPTH)
        failure: list[BaseException] = []

        def write() -> None:
            try:
                while (lines := prepared.get()) is not None:
                    self._store(lines)
            except BaseException as error:  # noqa: BLE001 - handed over to the reading thread
                failure.append(error)
                while prepared.get() is not None:  # let the reader finish its puts
                    pass

        writer = threading.Thread(target=write, name=f"import-{self.import_id[:8]}")
        writer.start()
        try:
            while not failure and (batch := list(itertools.islice(records, self.batch_size))):
                prepared.put([self._validate(record) for record in batch])
        finally:
            prepared.put(None)
            writer.join()
        if failure:
            raise failure[0]

    # -- one batch -----------------------------------------------------------------

    def _store(self, lines: list[_Line]) -> None:
        with self.db_lock:
            self._store_unlocked(lines)

    def _store_unlocked(self, lines: list[_Line]) -> None:
        try:
            with self.sessions.begin() as session:
                self._write(session, self._classify(session, lines))
        except IntegrityError:
            # Another request stored one of these references meanwhile: take the lines one
            # at a time, so each sees what is now committed.
            for line in lines:
                with self.sessions.begin() as session:
                    self._write(session, self._classify(session, [replace(line)]))

    def _classify(self, session: Session, lines: list[_Line]) -> list[_Line]:
        valid = [line for line in lines if line.payload is not None]
        references = {line.payload.reference for line in valid if line.payload}
        known: dict[str, tuple[str | None, str]] = {
            reference: (None, digest)
            for reference, digest in self._dry_run_accepted.items()
            if reference in references
        }
        if references:
            known.update(
                decisions_repository.original_digests(session, self.caller.acting_for, references)
            )
        for line in valid:
            assert line.payload is not None  # noqa: S101 - filtered above
            reference = line.payload.reference
            if reference in known:
                decision_id, digest = known[reference]
                line.decision_id = decision_id
                if digest == line.digest:
                    line.outcome = LineOutcome.DUPLICATE
                else:
                    line.outcome = LineOutcome.REJECTED
                    line.errors = [
                        LineError(
                            "reference",
                            "reference-reused",
                            f"reference already used for decision {decision_id} "
                            "with different content"
                            if decision_id
                            else "reference already used by an earlier line of this file "
                            "with different content",
                        )
                    ]
                continue
            line.outcome = LineOutcome.ACCEPTED
            line.decision_id = line.rows.decision["id"] if line.rows else None
            # A later line of the file with the same reference meets this one; in a dry
            # run, without the id of a decision that will not exist.
            if self.dry_run:
                self._dry_run_accepted[reference] = line.digest or ""
            known[reference] = (None if self.dry_run else line.decision_id, line.digest or "")
        return lines

    def _validate(self, record: RawRecord) -> _Line:
        line = _Line(record, errors=list(record.errors))
        if record.document is None:
            return line
        try:
            payload = DecisionIn.model_validate(record.document)
            tenancy.prefecture_departement(self.caller, payload.departement)
            flagged = decisions.contradictions(self.policy, payload.identity)
        except ValidationError as error:
            line.errors = validation_errors(error, "decision")
            return line
        except GatewayError as error:
            line.errors = [LineError(e.field, e.rule, e.message) for e in error.errors] or [
                LineError("decision", error.slug, error.detail)
            ]
            return line
        line.payload = payload
        # Accepted and flagged: the report still names each contradiction of the line.
        line.errors = [
            LineError(field, c.rule, f"{c.message} (accepted and flagged)")
            for c in flagged
            for field in c.fields
        ]
        line.digest = decisions.body_digest(self.keys, payload.digest_document())
        matching = identities.Keys.of(payload.identity)
        line.subjects = identities.subject_pseudonyms(self.keys, payload.identity, matching)
        if not self.dry_run:
            line.rows = decisions.new_decision(
                self.caller,
                self.keys,
                payload,
                line.digest,
                self.audit.request_id,
                identity=decisions.seal_identity(self.keys, payload, matching),
            )
        return line

    def _write(self, session: Session, lines: list[_Line]) -> None:
        # The lease first: a worker that lost it writes nothing.
        if not imports_repository.renew(
            session, self.import_id, self.owner, utcnow() + timedelta(seconds=self.lease_seconds)
        ):
            raise LeaseLost(self.import_id)
        accepted = [line for line in lines if line.outcome == LineOutcome.ACCEPTED]
        if accepted and not self.dry_run:
            built = [line.rows for line in accepted if line.rows is not None]
            identities_repository.add(session, [rows.identity for rows in built])
            decisions_repository.add(
                session, [rows.decision for rows in built], [rows.version for rows in built]
            )
            identities_repository.add_match_keys(
                session, [key for rows in built for key in rows.match_keys]
            )
            disclosures_repository.add(
                session,
                [
                    row
                    for line in accepted
                    if line.payload is not None
                    and line.decision_id is not None
                    and line.rows is not None
                    for row in disclosures.plan(
                        session,
                        self.policy,
                        decision_id=line.decision_id,
                        version=1,
                        facts=decisions.facts_of(
                            line.payload,
                            tenancy.prefecture_departement(self.caller, line.payload.departement),
                            line.rows.identity,
                        ),
                        funds_by_departement=self._funds,
                    )
                ],
            )
        imports_repository.add_lines(
            session,
            [
                {
                    "import_id": self.import_id,
                    "line": line.record.line,
                    "outcome": line.outcome,
                    "reference": _safe_reference(line),
                    "decision_id": (
                        line.decision_id
                        if line.outcome != LineOutcome.REJECTED
                        and not (self.dry_run and line.outcome == LineOutcome.ACCEPTED)
                        else None
                    ),
                    "errors": [asdict(e) for e in line.errors],
                }
                for line in lines
            ],
        )
        if not self.dry_run:
            append_rows(session, [self._event(line) for line in lines])
        counts = {
            outcome: sum(1 for line in lines if line.outcome == outcome) for outcome in LineOutcome
        }
        if not imports_repository.add_counts(
            session,
            self.import_id,
            counts,
            last_line=max(line.record.line for line in lines),
            owner=self.owner,
            until=utcnow() + timedelta(seconds=self.lease_seconds),
        ):
            raise LeaseLost(self.import_id)

    def _event(self, line: _Line) -> dict[str, Any]:
        """The audit event row of one line: who imported, which line, which subject."""
        refused = line.outcome == LineOutcome.REJECTED
        return {
            **self._event_base,
            "event_id": new_id(),
            "occurred_at": utcnow(),
            "outcome": str(AuditOutcome.REFUSED if refused else AuditOutcome.SUCCESS),
            "object_ids": [self.import_id, *([line.decision_id] if line.decision_id else [])],
            "subject_pseudonyms": line.subjects,
            "detail": {
                "line": line.record.line,
                "outcome": str(line.outcome),
                **({"rules": sorted({e.rule for e in line.errors})} if refused else {}),
            },
        }


def worker_name() -> str:
    """The name of this process as a lease holder: host, pid and a random part."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{new_id()[:8]}"


def stored_chunks(
    sessions: sessionmaker[Session], keys: IdentityKeys, import_id: str, lock: threading.Lock
) -> Iterator[bytes]:
    """The stored upload, chunk after chunk, each read in a short session of its own."""
    for seq in itertools.count():
        with lock, sessions() as session:
            found = imports_repository.chunk(session, import_id, seq)
            if found is None:
                return
            sealed = Sealed(found.ciphertext, found.nonce, found.wrapped_key, found.kek_id)
        yield upload.open_chunk(keys, import_id, seq, sealed)


@dataclass(frozen=True)
class _Claimed:
    import_id: str
    context: dict[str, Any]
    file_format: str
    encoding: str
    dry_run: bool
    lines_done: int
    attempts: int


def _claim_next(
    sessions: sessionmaker[Session], owner: str, lease_seconds: float
) -> _Claimed | None:
    now = utcnow()
    with sessions.begin() as session:
        for import_id in imports_repository.claimable(session, now):
            until = now + timedelta(seconds=lease_seconds)
            if not imports_repository.claim(session, import_id, owner, now, until):
                continue
            found = imports_repository.get(session, import_id)
            assert found is not None  # noqa: S101 - just claimed
            return _Claimed(
                found.id,
                found.context or {},
                found.format,
                found.encoding,
                found.dry_run,
                found.lines_done,
                found.attempts,
            )
    return None


def run_pending_imports(
    sessions: sessionmaker[Session],
    keys: IdentityKeys,
    policy: LoadedPolicy,
    *,
    owner: str | None = None,
    batch_size: int = BATCH_SIZE,
    lease_seconds: float = LEASE_SECONDS,
    limit: int | None = None,
) -> int:
    """Process queued imports, and resume those whose worker stopped, until none is left.

    Returns how many imports it finished. An error stops the run: the import keeps its
    cursor and gives its lease back, so the next run resumes it; after ``MAX_ATTEMPTS``
    runs the import is failed. Safe on several workers at once: each import has one
    lease holder, and a worker that lost its lease stores nothing more.
    """
    owner = owner or worker_name()
    finished = 0
    while limit is None or finished < limit:
        claimed = _claim_next(sessions, owner, lease_seconds)
        if claimed is None:
            return finished
        if claimed.attempts > MAX_ATTEMPTS:
            with sessions.begin() as session:
                imports_repository.close(
                    session,
                    claimed.import_id,
                    ImportStatus.FAILED,
                    f"processing stopped on an error {MAX_ATTEMPTS} times: the lines "
                    "reported so far stand; post the rest of the file again",
                    owner,
                )
                imports_repository.delete_chunks(session, claimed.import_id)
            log.error("import failed", extra={"import_id": claimed.import_id})
            continue
        caller = upload.caller_of(claimed.context)
        if not _caller_still_active(sessions, caller):
            _close_refused(sessions, claimed, owner)
            continue
        lock = threading.Lock()
        runner = ImportRunner(
            sessions,
            caller,
            keys,
            policy,
            claimed.file_format,
            claimed.dry_run,
            upload.audit_of(claimed.context, AuditAction.IMPORT_LINE),
            import_id=claimed.import_id,
            owner=owner,
            encoding=claimed.encoding,
            batch_size=batch_size,
            lease_seconds=lease_seconds,
            resume_after=claimed.lines_done,
            db_lock=lock,
        )
        log.info(
            "import started" if not claimed.lines_done else "import resumed",
            extra={"import_id": claimed.import_id, "after_line": claimed.lines_done},
        )
        try:
            runner.process(stored_chunks(sessions, keys, claimed.import_id, lock))
        except LeaseLost:
            log.warning(
                "import taken over by another worker", extra={"import_id": claimed.import_id}
            )
            continue
        except BaseException:
            with sessions.begin() as session:
                imports_repository.release(session, claimed.import_id, owner)
            raise
        with sessions.begin() as session:
            done = imports_repository.get(session, claimed.import_id)
            counts = {
                "lines": done.lines if done else None,
                "accepted": done.accepted if done else None,
                "duplicate": done.duplicate if done else None,
                "rejected": done.rejected if done else None,
            }
            _audit_processed(session, claimed, AuditOutcome.SUCCESS, {"status": "done", **counts})
        log.info("import done", extra={"import_id": claimed.import_id})
        finished += 1
    return finished


def _caller_still_active(sessions: sessionmaker[Session], caller: Caller) -> bool:
    """Whether the prefecture that posted the import, and the one it acted for, still are."""
    with sessions() as session:
        return all(
            found is not None and found.active
            for found in (
                participants_repository.get(session, participant_id)
                for participant_id in {caller.participant_id, caller.acting_for}
            )
        )


def _close_refused(sessions: sessionmaker[Session], claimed: _Claimed, owner: str) -> None:
    """Fail an import whose prefecture was suspended after posting it: nothing more stored."""
    with sessions.begin() as session:
        imports_repository.close(
            session,
            claimed.import_id,
            ImportStatus.FAILED,
            "the prefecture was suspended before its import was processed: the lines "
            "reported so far stand, nothing more is stored",
            owner,
        )
        imports_repository.delete_chunks(session, claimed.import_id)
        _audit_processed(
            session, claimed, AuditOutcome.REFUSED, {"status": "failed", "problem": "suspended"}
        )
    log.warning(
        "import refused: its prefecture is suspended", extra={"import_id": claimed.import_id}
    )


def _audit_processed(
    session: Session, claimed: _Claimed, outcome: AuditOutcome, detail: dict[str, Any]
) -> None:
    """The end of an import's processing, in the name of the prefecture that posted it."""
    draft = upload.audit_of(claimed.context, AuditAction.IMPORT_PROCESSED)
    draft.outcome, draft.object_ids, draft.detail = outcome, [claimed.import_id], detail
    append_rows(session, [as_row(draft)])
