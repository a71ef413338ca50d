"""Schemathesis over every operation of the OpenAPI document, as each kind of participant.

The app from ``gateway.app.create_app`` on a database of its own (SQLite, and PostgreSQL
where a NUL in a text or an integer past the column's range is the database's own
error), with participants registered with real keys and holding real tokens. Each
operation gets a few generated requests that fit the schema and a few that do not, as an
operator, a prefecture, a fund and an auditor. Every answer is checked: never a server
error, a content type and a body the document declares for it, and a status it declares.

Bounded for CI: a few examples per operation and mode, no deadline, derandomised (the
same requests every run), no shrinking; one run per backend and kind of participant, so
that parallel test workers share them out (``tests/conftest.py`` keeps each run's two
tests on one worker). Every finding is collected (one failing check
does not hide another) and reported as kind, operation, mode, check and status.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app
from gateway.participants.models import Regime
from gateway.settings import Settings
from gateway.storage import migrate
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.support.actors import BASE_URL, api_headers, register, seal, token_for
from tests.support.factories import decision, identity

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.keys import GatewayKeys

pytestmark = pytest.mark.slow

EXAMPLES = 10  # per operation, mode and kind of participant
KINDS = ("operator", "prefecture", "fund", "auditor")
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
]
STATUS_CHECK = "status_code_conformance"
# Bodies the document declares as strings of these types go on the wire as text.
schemathesis.serializer.alias("application/jose", "text/plain")
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    suppress_health_check=list(hypothesis.HealthCheck),
    print_blob=False,
)


@dataclass(frozen=True)
class Finding:
    kind: str
    operation: str
    mode: str
    check: str
    status: int | None
    title: str

    def __str__(self) -> str:
        return (
            f"as {self.kind}: {self.operation} ({self.mode}) -> {self.status}: "
            f"{self.check}: {self.title}"
        )


@dataclass
class Run:
    findings: set[Finding]
    requests: int
    seconds: float


@dataclass(frozen=True)
class Target:
    """The app under test and each kind of participant's request headers."""

    app: Any
    headers: dict[str, dict[str, str]]


def _database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fuzzed.db'}"
        return
    factory: Callable[[], Iterator[str]] = request.getfixturevalue("postgres_database")
    databases = factory()
    yield next(databases)
    databases.close()  # type: ignore[attr-defined]


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
)
def fuzzed_app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    key_dir: Path,
    gateway_keys: GatewayKeys,
) -> Iterator[Target]:
    """The app on a database of each backend, with a participant of each kind."""
    for database_url in _database(request, tmp_path_factory.mktemp("fuzzed")):
        migrate.upgrade(database_url)
        engine = make_engine(database_url)
        try:
            settings = Settings(
                database_url=database_url, key_dir=key_dir, public_base_url=BASE_URL
            )
            app = create_app(settings, keys=gateway_keys, engine=engine)
            with TestClient(app, base_url=BASE_URL) as http:
                yield _populated(http, settings, make_sessionmaker(engine), gateway_keys)
        finally:
            engine.dispose()


def _populated(
    http: TestClient, settings: Settings, sessions: sessionmaker[Session], keys: GatewayKeys
) -> Target:
    with sessions.begin() as session:
        callers = {
            "operator": register(session, "operator", departements=[]),
            "prefecture": register(session, "prefecture", departements=["75"]),
            "fund": register(session, "fund", regime=Regime.CPAM, departements=["75"]),
            "auditor": register(session, "auditor", departements=["75"]),
        }
    headers = {
        kind: api_headers(token_for(http, settings, caller), caller)
        for kind, caller in callers.items()
    }
    # Something to find: a decision, sealed into a batch for the fund.
    posted = http.post(
        "/v1/decisions",
        json=decision(f"FUZZ-{uuid.uuid4().hex[:8]}", identity=identity()),
        headers=headers["prefecture"],
    )
    assert posted.status_code == 201, posted.text
    seal(sessions, keys, fund_ids=[callers["fund"].id])
    return Target(http.app, headers)


@pytest.fixture(scope="module", params=KINDS)
def fuzz_run(request: pytest.FixtureRequest, fuzzed_app: Target) -> Run:
    """Every operation fuzzed as one kind of participant (on one backend)."""
    kind: str = request.param
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app.app)
    findings: set[Finding] = set()
    requests = 0
    started = time.perf_counter()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        for mode in MODES:
            requests += _fuzz_operation(operation, kind, mode, fuzzed_app.headers[kind], findings)
    return Run(findings, requests, time.perf_counter() - started)


def _fuzz_operation(
    operation: Any,
    kind: str,
    mode: schemathesis.GenerationMode,
    headers: dict[str, str],
    findings: set[Finding],
) -> int:
    sent = 0

    def found(failure: Failure, status: int | None) -> None:
        for check in failure.checks or ("custom",):
            findings.add(Finding(kind, operation.label, str(mode), check, status, failure.title))

    @SETTINGS
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        nonlocal sent
        sent += 1
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                found(failure, response.status_code)
        except Failure as failure:
            found(failure, response.status_code)

    try:
        fuzz()
    except hypothesis.errors.Unsatisfiable:
        # Nothing to negate: an operation without parameters or body has no invalid request.
        assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
    return sent


def _report(findings: list[Finding]) -> str:
    return "\n".join(sorted(str(finding) for finding in findings))


def test_every_operation_answers_without_a_server_error_and_as_documented(fuzz_run: Run) -> None:
    """No 5xx; each answer's content type and body are those the document declares."""
    assert fuzz_run.requests >= len(MODES) * 25
    wrong = [finding for finding in fuzz_run.findings if finding.check != STATUS_CHECK]
    assert not wrong, _report(wrong)


def test_every_status_answered_is_declared_by_the_document(fuzz_run: Run) -> None:
    """Each status an operation answers is declared in its responses."""
    undeclared = [finding for finding in fuzz_run.findings if finding.check == STATUS_CHECK]
    assert not undeclared, _report(undeclared)
