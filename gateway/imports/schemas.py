"""An import's summary and its line-by-line report."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gateway.imports.models import ImportStatus, LineOutcome
from gateway.streaming import UploadFormat

ImportFormat = UploadFormat


class LineErrorOut(BaseModel):
    field: str
    rule: str
    message: str


class ImportLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line: int
    outcome: LineOutcome
    reference: str | None
    decision_id: str | None
    errors: list[LineErrorOut]


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    format: ImportFormat
    dry_run: bool
    status: ImportStatus = Field(
        description="queued (stored, waiting for a worker), running, done or failed."
    )
    encoding: str = Field(description="The encoding the file is read in.")
    size_bytes: int = Field(description="The size of the file as received.")
    lines_total: int | None = Field(description="The file's physical lines, header included.")
    lines_done: int = Field(description="The last physical line processed: the progress.")
    lines: int = Field(description="Lines reported so far (blank lines are not).")
    accepted: int
    duplicate: int
    rejected: int
    error: str | None = Field(description="Why the file as a whole could not be processed.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportReport(ImportOut):
    report: list[ImportLineOut] = Field(description="One page of lines, by line number.")
    next_line: int | None = Field(description="Pass as `after_line` for the next page.")
