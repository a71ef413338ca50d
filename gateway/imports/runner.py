"""Running an import: stream in, validate, store in batches, report every line.

The import is a job that owns its transactions: one to open the import, then one per
batch of lines (the batch's decisions, its report lines and its audit events commit
together, so no line is ever half-stored), then one to close it. A crash mid-file leaves
the batches already committed; posting the file again reports those lines as duplicates
and stores the rest.
"""

from __future__ import annotations

import itertools
import queue
import re
import threading
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from audit.actions import AuditAction, AuditOutcome
from connectors.importers import (
    ImportFileError,
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
from gateway.errors import GatewayError, InvalidField
from gateway.identities import repository as identities_repository
from gateway.identities import service as identities
from gateway.imports import repository as imports_repository
from gateway.imports.models import DecisionImport, ImportStatus, LineOutcome
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


def _safe_reference(line: _Line) -> str | None:
    """The line's reference for the report, if it is a well-formed one."""
    if line.payload is not None:
        return line.payload.reference
    reference = line.record.reference
    return reference if reference is not None and re.fullmatch(REFERENCE, reference) else None


class UnusableHeader(InvalidField):
    """The CSV header line is missing, unreadable or names the wrong columns."""

    slug = "unusable-csv-header"
    title = "The CSV header cannot be used"

    def __init__(self, error: ImportFileError) -> None:
        super().__init__("header", error.rule, str(error))


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
    batch_size: int = BATCH_SIZE
    import_id: str = field(default_factory=new_id)
    # A dry run stores nothing, so a later batch cannot find the decisions of earlier ones
    # in the database: it finds them here (reference -> digest), as a real run would.
    _dry_run_accepted: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # The funds covering each département, looked up once per import.
        self._funds: FundCache = {}
        # What every line's audit event shares with the request that brought the file.
        self._event_base = as_row(replace(self.audit, action=AuditAction.IMPORT_LINE))

    def run(self, chunks: Iterable[bytes]) -> str:
        """Import the file; returns the import's id.

        A CSV header that cannot be used refuses the file before anything is stored
        (``UnusableHeader``: a 400 naming the header's fault).
        """
        records = READERS[self.file_format](chunks)
        try:
            first = next(records, None)  # a CSV reader reads its header line first
        except ImportFileError as error:
            raise UnusableHeader(error) from error
        with self.sessions.begin() as session:
            session.add(
                DecisionImport(
                    id=self.import_id,
                    prefecture_id=self.caller.acting_for,
                    format=self.file_format,
                    dry_run=self.dry_run,
                    status=ImportStatus.RUNNING,
                    request_id=self.audit.request_id,
                )
            )
        try:
            self._pipeline(itertools.chain([first] if first is not None else [], records))
        except BaseException:
            self._close(
                ImportStatus.FAILED,
                "the upload broke off: lines after the last "
                "reported one were not read; post the file again to complete it",
            )
            raise
        else:
            self._close(ImportStatus.COMPLETED, None)
        return self.import_id

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
        except ValidationError as error:
            line.errors = validation_errors(error, "decision")
            return line
        except GatewayError as error:
            line.errors = [LineError(e.field, e.rule, e.message) for e in error.errors] or [
                LineError("decision", error.slug, error.detail)
            ]
            return line
        line.payload = payload
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
        imports_repository.add_counts(session, self.import_id, counts)

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

    def _close(self, status: ImportStatus, error: str | None) -> None:
        with self.sessions.begin() as session:
            imports_repository.close(session, self.import_id, status, error)
