"""``gateway demo``: the whole gateway, end to end, on a throwaway SQLite database.

Creates gateway keys and participants with their own keys, starts the API on a loopback
port, and has each participant act exactly as an external system would: a token by
``private_key_jwt`` over HTTP (one of them with DPoP), an authenticated call, and the
refusals the gateway must make. Prints what happened and exits non-zero if anything
did not behave as expected.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import httpx
import uvicorn
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from joserfc.jwk import ECKey, OKPKey
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from audit.actions import AuditAction
from audit.models import AuditEvent
from audit.writer import record
from connectors.client import GatewayClient, TokenRequestFailed
from gateway.app import create_app
from gateway.auth.assertions import ASSERTION_TYPE
from gateway.demo import checks, delivery, evidence, intake, policy, stewardship
from gateway.keys import GatewayKeys
from gateway.participants import service
from gateway.participants.models import ParticipantKind, Regime
from gateway.participants.schemas import ParticipantSpec
from gateway.settings import Environment, Settings
from gateway.storage import migrate
from gateway.storage.engine import make_engine, make_sessionmaker
from policies.loader import DEFAULT_POLICY, load_file

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

console = Console()
# The scenes below make at least this many refused and successful requests.
EXPECTED_REFUSALS = 7
EXPECTED_SUCCESSES = 10

PURPOSES = {
    ParticipantKind.PREFECTURE: "decision-transmission",
    ParticipantKind.FUND: "residence-regularity-check",
    ParticipantKind.AUDITOR: "anti-fraud-control",
    ParticipantKind.OPERATOR: "administration",
}


@dataclass
class DemoParticipant:
    spec: ParticipantSpec
    key: ECKey | OKPKey
    alg: str
    dpop: bool = False

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def purpose(self) -> str:
        return PURPOSES[self.spec.kind]


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)

    def expect(self, what: str, condition: bool) -> None:
        mark = "[green]ok[/]" if condition else "[red]FAILED[/]"
        console.print(f"  {mark}  {what}")
        if not condition:
            self.failures.append(what)


def _participants(workdir: Path) -> list[DemoParticipant]:
    table: list[tuple[str, ParticipantKind, str, list[str], Regime | None, dict[str, Any]]] = [
        ("pref-75", ParticipantKind.PREFECTURE, "Préfecture de police (Paris)", ["75"], None, {}),
        (
            "pref-13",
            ParticipantKind.PREFECTURE,
            "Préfecture des Bouches-du-Rhône",
            ["13"],
            None,
            {},
        ),
        (
            "cpam-75",
            ParticipantKind.FUND,
            "CPAM de Paris",
            ["75"],
            Regime.CPAM,
            {"require_dpop": True},
        ),
        ("caf-13", ParticipantKind.FUND, "CAF des Bouches-du-Rhône", ["13"], Regime.CAF, {}),
        (
            "urssaf-idf",
            ParticipantKind.FUND,
            "URSSAF Île-de-France",
            ["75", "77", "78", "91", "92", "93", "94", "95"],
            Regime.URSSAF,
            {},
        ),
        (
            "cnam-it-centre",
            ParticipantKind.FUND,
            "Centre informatique national (CPAM)",
            [],
            Regime.CPAM,
            {"acts_for": ["cpam-75"]},
        ),
        ("codaf-75", ParticipantKind.AUDITOR, "CODAF de Paris", ["75"], None, {}),
        ("operator", ParticipantKind.OPERATOR, "Gateway operations", [], None, {}),
    ]
    participants = []
    (workdir / "participants").mkdir()
    for participant_id, kind, name, departements, regime, options in table:
        # One participant signs with Ed25519, the others with P-256: both are accepted.
        if participant_id == "caf-13":
            key: ECKey | OKPKey = OKPKey.generate_key("Ed25519", private=True)
            alg = "Ed25519"
        else:
            key, alg = ECKey.generate_key("P-256", private=True), "ES256"
        public = key.as_dict(private=False)
        public["kid"] = f"{participant_id}-1"
        public_file = workdir / "participants" / f"{participant_id}.jwk.json"
        public_file.write_text(json.dumps(public))
        spec = ParticipantSpec(
            id=participant_id,
            kind=kind,
            name=name,
            jwks=json.loads(public_file.read_text()),
            departements=departements,
            regime=regime,
            **options,
        )
        participants.append(DemoParticipant(spec, key, alg, dpop=bool(options.get("require_dpop"))))
    return participants


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Server:
    """The real API on a loopback port, in a thread, for the demo's lifetime."""

    def __init__(self, settings: Settings, keys: GatewayKeys, port: int) -> None:
        config = uvicorn.Config(
            create_app(settings, keys=keys), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the demo server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _client(base_url: str, participant: DemoParticipant) -> GatewayClient:
    dpop_key = ECKey.generate_key("P-256", private=True) if participant.dpop else None
    return GatewayClient(
        base_url, participant.id, participant.key, alg=participant.alg, dpop_key=dpop_key
    )


def _authenticated_calls(
    base_url: str, participants: list[DemoParticipant], outcome: Outcome
) -> Table:
    console.rule("[bold]Each participant gets a token over HTTP and calls the API")
    table = Table("participant", "kind", "key", "token", "GET /me", "territory")
    for participant in participants:
        with _client(base_url, participant) as client:
            token = client.fetch_token()
            response = client.request(
                "GET",
                "/v1/participants/me",
                purpose=participant.purpose,
                agent_id="agent-0042" if participant.spec.kind == ParticipantKind.FUND else None,
            )
        body = response.json()
        territory = " ".join(body.get("departements", [])) or (
            "acts for " + ", ".join(body.get("acts_for", [])) if body.get("acts_for") else "-"
        )
        table.add_row(
            participant.id,
            participant.spec.kind,
            participant.alg,
            str(token["token_type"]),
            str(response.status_code),
            territory,
        )
        outcome.expect(
            f"{participant.id} authenticated ({token['token_type']})",
            response.status_code == httpx.codes.OK and body.get("id") == participant.id,
        )
    console.print(table)
    return table


def _refusals(base_url: str, by_id: dict[str, DemoParticipant], outcome: Outcome) -> None:
    console.rule("[bold]What the gateway refuses")
    with httpx.Client(base_url=base_url, timeout=10) as http:
        response = http.get("/v1/participants/me")
        outcome.expect(
            f"no token: {response.status_code} {response.json()['title']}",
            response.status_code == httpx.codes.UNAUTHORIZED,
        )

        fund = by_id["caf-13"]
        signed = private_key_jwt_sign(
            fund.key,
            client_id=fund.id,
            token_endpoint=f"{base_url}/oauth2/token",
            alg=fund.alg,
            expires_in=60,
        )
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
        }
        first = http.post("/oauth2/token", data=form)
        replay = http.post("/oauth2/token", data=form)
        outcome.expect(
            f"replayed client assertion: {replay.status_code} {replay.json()['detail']}",
            first.status_code == httpx.codes.OK and replay.status_code == httpx.codes.UNAUTHORIZED,
        )

    with _client(base_url, by_id["caf-13"]) as caf:
        wrong = caf.request("GET", "/v1/participants/me", purpose="marketing", agent_id="a-1")
        outcome.expect(
            f"caf-13 states purpose 'marketing': {wrong.status_code} {wrong.json()['detail']}",
            wrong.status_code == httpx.codes.FORBIDDEN,
        )
        no_agent = caf.request("GET", "/v1/participants/me", purpose=by_id["caf-13"].purpose)
        outcome.expect(
            f"caf-13 names no agent: {no_agent.status_code} {no_agent.json()['detail']}",
            no_agent.status_code == httpx.codes.BAD_REQUEST,
        )
        other = caf.request(
            "GET", "/v1/participants/cpam-75", purpose=by_id["caf-13"].purpose, agent_id="a-1"
        )
        outcome.expect(
            f"caf-13 reads cpam-75: {other.status_code} (as if it did not exist)",
            other.status_code == httpx.codes.NOT_FOUND,
        )

    with _client(base_url, by_id["cnam-it-centre"]) as centre:
        purpose = by_id["cnam-it-centre"].purpose
        allowed = centre.request(
            "GET", "/v1/participants/me", purpose=purpose, agent_id="batch", on_behalf_of="cpam-75"
        )
        outcome.expect(
            f"cnam-it-centre acts for cpam-75: {allowed.status_code} "
            f"(sees {allowed.json().get('id')})",
            allowed.status_code == httpx.codes.OK and allowed.json()["id"] == "cpam-75",
        )
        refused = centre.request(
            "GET", "/v1/participants/me", purpose=purpose, agent_id="batch", on_behalf_of="caf-13"
        )
        outcome.expect(
            f"cnam-it-centre acts for caf-13: {refused.status_code} {refused.json()['detail']}",
            refused.status_code == httpx.codes.FORBIDDEN,
        )

    cpam = by_id["cpam-75"]
    plain = GatewayClient(base_url, cpam.id, cpam.key, alg=cpam.alg)
    try:
        plain.fetch_token()
        outcome.expect("cpam-75 without DPoP is refused", condition=False)
    except TokenRequestFailed as error:
        outcome.expect(
            f"cpam-75 asks for a token without DPoP: {error.error}",
            error.error == "invalid_dpop_proof",
        )
    finally:
        plain.close()

    with _client(base_url, by_id["operator"]) as ops, _client(base_url, by_id["pref-13"]) as pref:
        purpose = by_id["pref-13"].purpose
        before = pref.request("GET", "/v1/participants/me", purpose=purpose)
        ops.request("POST", "/v1/participants/pref-13/suspend", purpose="administration")
        after = pref.request("GET", "/v1/participants/me", purpose=purpose)
        ops.request("POST", "/v1/participants/pref-13/reactivate", purpose="administration")
        outcome.expect(
            f"operator suspends pref-13: its valid token now gets {after.status_code}",
            before.status_code == httpx.codes.OK and after.status_code == httpx.codes.UNAUTHORIZED,
        )


def _intake(
    base_url: str, prefecture: DemoParticipant, workdir: Path, outcome: Outcome
) -> dict[str, str]:
    console.rule("[bold]Intake: decisions of every kind, corrections, a backlog import")
    with _client(base_url, prefecture) as client:
        ids = intake.post_decisions(client, outcome.expect)
        intake.correct_decisions(client, ids, outcome.expect)
        intake.import_backlog(client, workdir, outcome.expect)
    console.rule("[bold]Policy: what the policy in force decides for these decisions")
    annulled = next(b for b in intake.POSTED if b["reference"] == "PP-2026-0003")
    policy.explain(
        [*intake.POSTED, {**annulled, "reference": "PP-2026-0003 (annulment)", "correction": True}],
        outcome.expect,
    )
    intake.nothing_in_clear(workdir / "gateway.db", outcome.expect)
    return ids


def _stewardship(
    base_url: str,
    sessions: sessionmaker[Session],
    by_id: dict[str, DemoParticipant],
    ids: dict[str, str],
    workdir: Path,
    outcome: Outcome,
) -> None:
    loaded = load_file(DEFAULT_POLICY)
    console.rule("[bold]Routes: which funds each decision is owed to, with which fields")
    stewardship.routes(sessions, loaded, ids, outcome.expect)
    console.rule("[bold]Subscriptions: a fund registers the people it holds a file on")
    with _client(base_url, by_id["caf-13"]) as caf:
        stewardship.subscriptions(caf, by_id["caf-13"].purpose, outcome.expect)
    console.rule("[bold]The register of processing (GDPR art. 30), from the policy file")
    stewardship.register(loaded, workdir, outcome.expect)


def _delivery(
    base_url: str,
    settings: Settings,
    keys: GatewayKeys,
    sessions: sessionmaker[Session],
    by_id: dict[str, DemoParticipant],
    ids: dict[str, str],
    workdir: Path,
    outcome: Outcome,
) -> None:
    loaded = load_file(DEFAULT_POLICY)
    jwks = httpx.get(f"{base_url}/.well-known/jwks.json", timeout=10).json()
    console.rule("[bold]Sealing: signed, chained batches per fund")
    delivery.seal_now(sessions, keys, loaded, outcome.expect)
    delivery.no_batch_in_clear(workdir / "gateway.db", outcome.expect)
    console.rule("[bold]Pull: cpam-75 downloads, verifies offline, acknowledges")
    cpam = by_id["cpam-75"]

    def cpam_pulls() -> list[dict[str, Any]]:
        with _client(base_url, cpam) as client:
            return delivery.fund_pulls(
                client, jwks, cpam.id, cpam.key, f"{cpam.id}-1", cpam.alg, workdir, outcome.expect
            )

    records = cpam_pulls()
    outcome.expect(
        f"cpam-75's {len(records)} records carry its profile's fields and never the "
        "public-order ground",
        bool(records) and all("public_order" not in r["data"] for r in records),
    )
    console.rule("[bold]Push: urssaf-idf's endpoint fails twice, then recovers")
    urssaf = by_id["urssaf-idf"]
    delivery.push_recovers(
        sessions,
        settings,
        urssaf.id,
        urssaf.key,
        f"{urssaf.id}-1",
        urssaf.alg,
        jwks,
        _free_port(),
        workdir,
        outcome.expect,
    )
    console.rule("[bold]A correction reaches the fund that had the decision")
    with _client(base_url, by_id["pref-75"]) as prefecture:
        delivery.correction_reaches(prefecture, ids["PP-2026-0002"], outcome.expect)
    delivery.seal_now(sessions, keys, loaded, outcome.expect, express=True)
    rectified = cpam_pulls()
    outcome.expect(
        "cpam-75 receives the rectification: PP-2026-0002 annulled, rights to be restored",
        any(
            r["type"] == "rectification"
            and r["status"] == "annulled"
            and r["decision_id"] == ids["PP-2026-0002"]
            for r in rectified
        ),
    )


def _retention(
    base_url: str,
    sessions: sessionmaker[Session],
    by_id: dict[str, DemoParticipant],
    ids: dict[str, str],
    outcome: Outcome,
) -> None:
    console.rule("[bold]Retention: a year and a day later, the purge")
    with _client(base_url, by_id["pref-75"]) as prefecture:
        stewardship.retention(sessions, load_file(DEFAULT_POLICY), prefecture, ids, outcome.expect)


def _audit_summary(sessions: sessionmaker[Session], outcome: Outcome) -> None:
    console.rule("[bold]The audit trail")
    with sessions() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.outcome, func.count())
            .group_by(AuditEvent.action, AuditEvent.outcome)
            .order_by(AuditEvent.action, AuditEvent.outcome)
        ).all()
        attributed = session.scalar(
            select(func.count()).where(
                AuditEvent.acting_for == "cpam-75", AuditEvent.participant_id == "cnam-it-centre"
            )
        )
    table = Table("action", "outcome", "events")
    counts: Counter[str] = Counter()
    for action, result, count in rows:
        table.add_row(action, result, str(count))
        counts[result] += count
    console.print(table)
    outcome.expect(
        f"{sum(counts.values())} events, {counts['refused']} of them refusals",
        counts["refused"] >= EXPECTED_REFUSALS and counts["success"] >= EXPECTED_SUCCESSES,
    )
    outcome.expect(
        "the delegate's calls are recorded for both it and the fund it acted for", bool(attributed)
    )


def run(*, keep: bool = False) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="gateway-demo-"))
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'gateway.db'}",
        key_dir=workdir / "keys",
        public_base_url=base_url,
        environment=Environment.DEVELOPMENT,
    )
    outcome = Outcome()
    engine = make_engine(settings.database_url)
    try:
        console.rule("[bold]Set-up: a throwaway SQLite database, keys and participants")
        migrate.upgrade(settings.database_url)
        keys = GatewayKeys.init(settings.key_dir, settings.environment)
        console.print(f"gateway keys: {', '.join(e.kid for e in keys.entries)} (development)")
        participants = _participants(workdir)
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            for participant in participants:
                service.register(session, participant.spec)
                record(
                    session,
                    AuditAction.PARTICIPANT_CREATED,
                    object_ids=[participant.id],
                    detail={"via": "demo", "kind": participant.spec.kind},
                )
        console.print(f"{len(participants)} participants registered from their public JWK files")
        with _Server(settings, keys, port):
            console.print(f"API listening on {base_url}")
            _authenticated_calls(base_url, participants, outcome)
            by_id = {p.id: p for p in participants}
            _refusals(base_url, by_id, outcome)
            ids = _intake(base_url, by_id["pref-75"], workdir, outcome)
            _stewardship(base_url, sessions, by_id, ids, workdir, outcome)
            _delivery(base_url, settings, keys, sessions, by_id, ids, workdir, outcome)
            console.rule("[bold]Status checks: desks, by name, a streamed sweep, misuse")
            with _client(base_url, by_id["cpam-75"]) as cpam:
                checks.status_checks(cpam, outcome.expect)
            _retention(base_url, sessions, by_id, ids, outcome)
            console.rule("[bold]Evidence: the signed audit log, a proof, a tampering caught")
            jwks = httpx.get(f"{base_url}/.well-known/jwks.json", timeout=10).json()
            with _client(base_url, by_id["codaf-75"]) as auditor:
                evidence.audit_log_scene(sessions, settings, auditor, jwks, workdir, outcome.expect)
                evidence.reports_scene(auditor, outcome.expect)
        _audit_summary(sessions, outcome)
    finally:
        engine.dispose()
        if keep:
            console.print(f"demo files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    console.rule()
    if outcome.failures:
        console.print(f"[red bold]{len(outcome.failures)} expectation(s) failed")
        return 1
    console.print("[green bold]The gateway behaved as expected.")
    return 0
