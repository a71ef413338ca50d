"""Status checks by NDJSON stream: a sweep of more people than one request may list.

The body is one check per line (as an item of ``POST /v1/status-checks``). It is read as
it arrives and answered block by block: each block takes its checks from the rate
limits, is answered and audited in a transaction of its own, and its answers are spooled
before the next block is read. The answers go back once the whole body is read (a client
that sends before it reads would otherwise block against a server that answers before it
has read), one NDJSON line per check, in the order sent, then a summary line.

A line that is not a JSON object is answered with its error; when a rate limit is
reached, the checks answered so far stand and the summary says where and why it stopped.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from connectors.importers import read_ndjson
from gateway.metrics import instruments
from gateway.status import limits, service
from gateway.status.schemas import NOTE, CheckError, CheckOut

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.auth.caller import Caller
    from gateway.identities.service import IdentityKeys
    from gateway.settings import Settings
    from policies.model import Policy

BLOCK = 5_000  # checks answered per transaction
MAX_STREAM_CHECKS = 10_000_000  # twice the largest fund's foreign affiliates
SPOOL_BYTES = 8 * 1024 * 1024  # answers kept in memory before they go to a temporary file


@dataclass
class StreamSummary:
    checks: int = 0
    malformed: int = 0
    results: Counter[str] = field(default_factory=Counter)
    matches: Counter[str] = field(default_factory=Counter)
    stopped: CheckError | None = None
    stopped_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": self.checks,
            "malformed": self.malformed,
            "results": dict(self.results),
            "matches": dict(self.matches),
            "stopped": None
            if self.stopped is None
            else {"position": self.stopped_at, **self.stopped.model_dump()},
        }


def _items(chunks: Iterable[bytes]) -> Iterator[tuple[int, Any] | CheckOut]:
    """Each line as (position, document), or the answer refusing it; position = line - 1."""
    for record in read_ndjson(chunks):
        if record.document is None:
            yield CheckOut(position=record.line - 1, errors=service.check_errors(record.errors))
        else:
            yield record.line - 1, record.document


class _Checker:
    """Answers blocks of a stream's checks, each in its own transaction."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        caller: Caller,
        keys: IdentityKeys,
        policy: Policy,
        settings: Settings,
        request_id: str | None,
    ) -> None:
        self.sessions, self.caller, self.keys, self.policy = sessions, caller, keys, policy
        self.settings, self.request_id = settings, request_id

    def answer(self, block: list[tuple[int, Any] | CheckOut]) -> list[CheckOut]:
        items = [entry for entry in block if not isinstance(entry, CheckOut)]
        limits.take_checks(self.sessions, self.caller, self.settings, len(items))
        with self.sessions.begin() as session:
            answered = service.check(
                session, self.caller, self.keys, self.policy, items, self.request_id
            )
        by_position = {answer.position: answer for answer in answered}
        answers = [
            entry if isinstance(entry, CheckOut) else by_position[entry[0]] for entry in block
        ]
        instruments.status_checked(answers)
        return answers


def check_stream(
    sessions: sessionmaker[Session],
    caller: Caller,
    keys: IdentityKeys,
    policy: Policy,
    settings: Settings,
    chunks: Iterable[bytes],
    request_id: str | None,
) -> tuple[IO[bytes], StreamSummary]:
    """Answer every line of ``chunks``: (the answers, rewound, and the summary line's facts)."""
    checker = _Checker(sessions, caller, keys, policy, settings, request_id)
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open
    try:
        summary = _answer_all(checker, iter(chunks), out)
    except BaseException:
        out.close()  # a body cut short or over its limit: the answers so far go nowhere
        raise
    out.seek(0)
    return out, summary


def _answer_all(checker: _Checker, body: Iterator[bytes], out: IO[bytes]) -> StreamSummary:
    """Answer the body's checks block by block into ``out``, then the summary line."""
    summary = StreamSummary()
    block: list[tuple[int, Any] | CheckOut] = []

    def flush() -> bool:
        try:
            answers = checker.answer(block)
        except limits.TooManyChecks as error:
            summary.stopped = CheckError(field="Agent-Id", rule="rate-limit", message=error.detail)
            summary.stopped_at = _position(block[0])
            return False
        for answer in answers:
            summary.checks += 1
            if answer.errors:
                summary.malformed += 1
            else:
                summary.results[str(answer.result)] += 1
                summary.matches[str(answer.match)] += 1
            out.write(answer.model_dump_json().encode() + b"\n")
        block.clear()
        return True

    for entry in _items(body):
        if summary.checks + len(block) >= MAX_STREAM_CHECKS:
            message = f"a stream holds at most {MAX_STREAM_CHECKS} checks"
            summary.stopped = CheckError(field="body", rule="too-many-checks", message=message)
            summary.stopped_at = _position(entry)
            break
        block.append(entry)
        if len(block) >= BLOCK and not flush():
            break
    else:
        if block:
            flush()
    for _ in body:
        pass  # the rest of a stopped stream is read and dropped: the client can finish sending
    out.write(json.dumps({"summary": summary.as_dict(), "note": NOTE}).encode() + b"\n")
    return summary


def _position(entry: tuple[int, Any] | CheckOut) -> int:
    return entry.position if isinstance(entry, CheckOut) else entry[0]


def read_back(out: IO[bytes]) -> Iterator[bytes]:
    """The spooled answers in pieces, the file closed (and removed) at the end."""
    try:
        while piece := out.read(64 * 1024):
            yield piece
    finally:
        out.close()
