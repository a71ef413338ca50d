"""Any number of stateless replicas and workers on one PostgreSQL: proved with three
``gateway serve`` processes and two ``gateway worker`` processes, one killed of each.

Every kind of participant works at once, over real HTTP, round-robin over the three
servers, taking its tokens from each in turn: two prefectures post decisions and annul
some, two funds pull, verify and acknowledge their batches, a third fund is pushed to
at its own endpoint, an agent checks people's status, an auditor reads the events and
checkpoints, and two funds try to exceed their rate limits through all three servers.
The workers seal (express and regular runs every 10 s, overlapping in each worker and
across both), push, sequence the audit log and sign checkpoints. Midway one server and
one worker are killed (SIGKILL); the clients retry on the others, as clients behind a
load balancer do.

Once the traffic has stopped and the surviving worker has drained everything, the
database and the API must show: every disclosure sealed in exactly one batch (or
cancelled); each fund's ``seq`` running 1..n with each batch chained to the one before;
every batch delivered and receipted; every audit event in the log once, at one index,
the log verifying offline against a checkpoint an auditor kept mid-run; and the rate
limits counted once for the whole installation, not once per server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from connectors.fund import verify_batch
from gateway.auditlog.models import (
    AuditCheckpoint,
    AuditEvent,
    AuditLogLeaf,
    AuditLogQueue,
    AuditLogState,
)
from gateway.batches.models import Batch, BatchState, Receipt
from gateway.batches.storage import open_content
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.keys import GatewayKeys
from gateway.participants.models import Participant, Regime
from gateway.settings import Environment
from tests.support.actors import Client, register
from tests.support.database import sessions_on
from tests.support.endpoints import Endpoints
from tests.support.factories import days_ago, decision, identity
from tests.support.jose import JOSE, batch_payload, signed_receipt
from tests.support.replicas import (
    Installation,
    Loop,
    System,
    Traffic,
    answered_after,
    wait_until,
)

pytestmark = pytest.mark.slow

KILL_AT_S = 6.0  # when one server and one worker are killed
AFTER_KILL_S = 7.0  # how long the participants go on with what survives
AGENT_LIMIT = 8  # status checks per agent per window
FUND_LIMIT = 20  # per fund
FUND_AGENTS, PER_AGENT = 4, 7  # the fund probe: each agent within its limit, together past
WINDOW_S = 86_400
CHECKER_BUDGET = 18  # the agent desk's checks: within its fund's limit
LIMITS = {
    "GATEWAY_STATUS_CHECKS_PER_AGENT": str(AGENT_LIMIT),
    "GATEWAY_STATUS_CHECKS_PER_FUND": str(FUND_LIMIT),
    "GATEWAY_STATUS_CHECK_WINDOW_SECONDS": str(WINDOW_S),
}


@dataclass
class Posted:
    """A decision a prefecture posted: its id, the person's AGDREF number, and whether its
    annulment was answered."""

    decision_id: str
    agdref: str
    annulled: bool = False


@dataclass
class Ledger:
    """What the participants did, shared by their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    posted: dict[str, Posted] = field(default_factory=dict)  # reference -> decision
    acknowledged: dict[str, list[int]] = field(default_factory=dict)  # fund -> seqs
    checks: int = 0  # status checks taken from the desk's budget
    answered: int = 0  # and answered, as expected
    notes: list[str] = field(default_factory=list)  # checkpoints the auditor kept
    limits: dict[str, Counter[int]] = field(default_factory=dict)  # probe -> statuses


class Prefecture:
    """Posts a decision per step, of both urgencies, and annuls one in five after."""

    def __init__(self, system: System, departement: str, ledger: Ledger) -> None:
        self.system = system
        self.departement = departement
        self.ledger = ledger
        self.n = 0

    def step(self) -> None:
        self.n += 1
        n = self.n
        reference = f"R{self.departement}-{n}"
        agdref = f"{self.departement}{n:08d}"
        kind = "renewal-refusal" if n % 2 else "first-permit-refusal"  # express, regular
        person = identity(
            agdref_number=agdref,
            social_security_number=None,
            residence_departement=self.departement,
        )
        body = decision(reference, kind=kind, identity=person)
        response = self.system.request("POST", "/v1/decisions", json=body)
        if response.status_code not in {200, 201}:  # 200: a retry after a lost answer
            raise AssertionError(f"post {reference}: {response.status_code} {response.text}")
        with self.ledger.lock:
            self.ledger.posted[reference] = Posted(response.json()["id"], agdref)
        if n % 5 == 0:  # annul the decision posted three before: sealed or still pending
            self.annul(f"R{self.departement}-{n - 3}")

    def annul(self, reference: str) -> None:
        with self.ledger.lock:
            target = self.ledger.posted[reference]
        body = {"kind": "annulment", "reference": f"A-{reference}", "correction_date": days_ago(1)}
        response = self.system.request(
            "POST", f"/v1/decisions/{target.decision_id}/corrections", json=body
        )
        if response.status_code not in {200, 201}:
            raise AssertionError(f"annul {reference}: {response.status_code} {response.text}")
        with self.ledger.lock:
            target.annulled = True


class Puller:
    """A fund pulling its batches in order, verifying each offline, acknowledging it."""

    def __init__(
        self, system: System, jwks: dict[str, Any], keys: GatewayKeys, ledger: Ledger
    ) -> None:
        self.system = system
        self.jwks = jwks
        self.keys = keys
        self.ledger = ledger
        self.seq = 0
        self.digest: str | None = None
        ledger.acknowledged[system.caller.id] = []

    def step(self) -> None:
        listed = self.system.request("GET", "/v1/batches", params={"after_seq": self.seq})
        assert listed.status_code == 200, listed.text
        for batch in sorted(listed.json()["batches"], key=lambda b: int(b["seq"])):
            downloaded = self.system.request("GET", f"/v1/batches/{batch['id']}")
            assert downloaded.status_code == 200, downloaded.text
            verified = verify_batch(
                downloaded.content,
                jwks=self.jwks,
                fund_id=self.system.caller.id,
                expected_seq=self.seq + 1,
                previous_digest=self.digest,
            )
            receipt = signed_receipt(self.system.caller, downloaded.content, self.keys)
            answered = self.system.request(
                "POST",
                f"/v1/batches/{batch['id']}/receipt",
                content=receipt,
                headers={"Content-Type": JOSE},
            )
            assert answered.status_code in {200, 201}, answered.text  # 200: sent again
            self.seq, self.digest = self.seq + 1, verified.digest
            with self.ledger.lock:
                self.ledger.acknowledged[self.system.caller.id].append(self.seq)


class Desk:
    """An agent's desk checking the people of one prefecture: the answers must be theirs."""

    def __init__(self, system: System, departement: str, ledger: Ledger) -> None:
        self.system = system
        self.prefix = f"R{departement}-"
        self.ledger = ledger

    def step(self) -> None:
        with self.ledger.lock:
            if self.ledger.checks >= CHECKER_BUDGET:
                return
            posted = [(r, p.agdref, p.annulled) for r, p in self.ledger.posted.items()]
            self.ledger.checks += 1
            checks = self.ledger.checks
        mine = [item for item in posted if item[0].startswith(self.prefix)]
        if not mine:
            return
        reference, agdref, annulled = mine[(checks * 7) % len(mine)]
        if not annulled and int(reference.rsplit("-", 1)[1]) % 5 == 2:  # being annulled
            return
        person = {"agdref_number": agdref, "residence_departement": "75"}
        response = self.system.request(
            "POST",
            "/v1/status-checks",
            json={"checks": [{"identity": person}]},
            agent_id=f"desk-{checks // 6}",  # a new agent every 6 checks: within limits
        )
        assert response.status_code == 200, response.text
        (answer,) = response.json()["answers"]
        if annulled:
            assert answer["result"] == "corrected", (reference, answer)
        else:
            assert (answer["result"], answer["match"]) == ("adverse_decision", "exact")
            assert answer["decision"]["reference"] == reference, (reference, answer)
        with self.ledger.lock:
            self.ledger.answered += 1


class Auditor:
    """Reads the latest events and the signed checkpoint, keeping the notes it saw."""

    def __init__(self, system: System, ledger: Ledger) -> None:
        self.system = system
        self.ledger = ledger

    def step(self) -> None:
        events = self.system.request("GET", "/v1/audit/events", params={"limit": 20})
        assert events.status_code == 200, events.text
        note = self.system.request("GET", "/v1/audit/checkpoint")
        assert note.status_code in {200, 404}, note.text  # 404: none signed yet
        if note.status_code == 200:
            with self.ledger.lock:
                self.ledger.notes.append(note.text)


def probe_limits(senders: dict[str, list[System]], ledger: Ledger) -> None:
    """Exceed an agent's limit, then a fund's, from three threads at once, each sending
    its requests round-robin over the three servers: they must count them together.

    One check per request. The agent sends three times its limit; the fund's agents each
    stay within theirs, together past the fund's.
    """
    person = {"agdref_number": "1300000001", "residence_departement": "13"}
    body = {"checks": [{"identity": person}]}
    failures: list[str] = []

    def send(system: System, agents: list[str], probe: str) -> None:
        try:
            for agent in agents:
                response = system.request("POST", "/v1/status-checks", json=body, agent_id=agent)
                assert response.status_code in {200, 429}, response.text
                if response.status_code == 429:
                    assert int(response.headers["Retry-After"]) >= 1
                    assert response.json()["errors"][0]["rule"] == "rate-limit"
                with ledger.lock:
                    ledger.limits.setdefault(probe, Counter())[response.status_code] += 1
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(repr(error))

    def at_once(probe: str, agents: list[str]) -> None:
        threads = [
            threading.Thread(target=send, args=(system, agents[n :: len(senders[probe])], probe))
            for n, system in enumerate(senders[probe])
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    for attempt in range(2):  # again with new agents if a window boundary fell within
        window = int(time.time()) // WINDOW_S
        ledger.limits.clear()
        at_once("agent", [f"probe-{attempt}"] * 3 * AGENT_LIMIT)
        at_once("fund", [f"probe-{attempt}-{n}" for n in range(FUND_AGENTS)] * PER_AGENT)
        assert failures == []
        if int(time.time()) // WINDOW_S == window:
            return
    raise AssertionError("two rate-limit windows ended during the probe")


def register_participants(sessions: Any, endpoints: Endpoints) -> dict[str, Client]:
    """Two prefectures, two pulling funds and a pushed one owed their decisions, two funds
    of a département without decisions to probe the limits, and a national auditor."""
    with sessions.begin() as session:
        callers = {
            "pref-75": register(session, "prefecture", departements=["75"]),
            "pref-93": register(session, "prefecture", departements=["93"]),
            "cpam-75": register(session, "fund", regime=Regime.CPAM, departements=["75"]),
            "caf-75": register(session, "fund", regime=Regime.CAF, departements=["75"]),
            "cpam-93": register(session, "fund", regime=Regime.CPAM, departements=["93"]),
            "probe-agent": register(session, "fund", regime=Regime.CPAM, departements=["13"]),
            "probe-fund": register(session, "fund", regime=Regime.CAF, departements=["13"]),
            "auditor": register(session, "auditor", national=True),
        }
        pushed = callers["cpam-93"]
        session.execute(
            update(Participant)
            .where(Participant.id == pushed.id)
            .values(push_endpoint=endpoints.url("ok", pushed.id))
        )
    endpoints.funds[pushed.id] = pushed
    return callers


class Run:
    """The participants' threads against the installation, and the run's phases."""

    def __init__(
        self,
        installation: Installation,
        sessions: Any,
        keys: GatewayKeys,
        callers: dict[str, Client],
        stack: ExitStack,
    ) -> None:
        self.installation = installation
        self.sessions = sessions
        self.traffic, self.ledger = Traffic(), Ledger()
        self.systems = {
            name: System(installation, caller, self.traffic) for name, caller in callers.items()
        }
        for system in self.systems.values():
            stack.callback(system.close)
        for name in ("pref-75", "pref-93", "cpam-75", "caf-75"):
            self.systems[name].token_every = 5  # more tokens, from every server in turn
        jwks: dict[str, Any] = httpx.get(f"{installation.urls[0]}/.well-known/jwks.json").json()
        self.working, self.pulling = threading.Event(), threading.Event()
        traffic, ledger, working = self.traffic, self.ledger, self.working
        self.pullers = [
            Loop(name, Puller(self.systems[name], jwks, keys, ledger).step, self.pulling, traffic)
            for name in ("cpam-75", "caf-75")
        ]
        self.loops = [
            Loop(
                "pref-75", Prefecture(self.systems["pref-75"], "75", ledger).step, working, traffic
            ),
            Loop(
                "pref-93", Prefecture(self.systems["pref-93"], "93", ledger).step, working, traffic
            ),
            Loop("desk", Desk(self.systems["caf-75"], "75", ledger).step, working, traffic, 0.2),
            Loop("auditor", Auditor(self.systems["auditor"], ledger).step, working, traffic, 0.3),
        ]
        limited = {
            probe: [System(installation, callers[f"probe-{probe}"], traffic) for _ in range(3)]
            for probe in ("agent", "fund")
        }
        for system in (s for senders in limited.values() for s in senders):
            stack.callback(system.close)
        self.prober = threading.Thread(target=probe_limits, args=(limited, ledger), daemon=True)
        self.figures: dict[str, float] = {}

    def work_and_kill(self) -> float:
        """Everyone at work; once the limits are probed through all three servers and
        ``KILL_AT_S`` has passed, one server and one worker are killed, and the work goes
        on for ``AFTER_KILL_S``. Returns the moment of the kill."""
        started = time.monotonic()
        for loop in [*self.loops, *self.pullers]:
            loop.start()
        self.prober.start()
        self.prober.join(timeout=120)
        assert not self.prober.is_alive(), "the rate-limit probe did not finish"
        self.figures["probe_s"] = time.monotonic() - started
        time.sleep(max(0.0, started + KILL_AT_S - time.monotonic()))
        self.installation.kill(self.installation.apis[1])
        self.installation.kill(self.installation.workers[0])
        killed_at = time.monotonic()
        self.figures["killed_at_s"] = killed_at - started
        time.sleep(AFTER_KILL_S)
        self.working.set()
        for loop in self.loops:
            loop.join(timeout=30)
        self.figures["traffic_s"] = time.monotonic() - started
        return killed_at

    def drained(self) -> bool:
        """Nothing pending or unacknowledged: sealed, pulled or pushed, and receipted."""
        assert self.traffic.failures == []
        with self.sessions() as session:
            owed = session.scalar(
                select(func.count()).where(
                    Disclosure.state.in_([DisclosureState.PENDING, DisclosureState.SEALED])
                )
            )
            unacknowledged = session.scalar(
                select(func.count()).where(Batch.state != BatchState.ACKNOWLEDGED)
            )
        return not owed and not unacknowledged

    def outbox(self) -> str:
        """What the outbox holds, per fund and state, and the surviving worker's log."""
        with self.sessions() as session:
            disclosures = session.execute(
                select(Disclosure.fund_id, Disclosure.state, func.count()).group_by(
                    Disclosure.fund_id, Disclosure.state
                )
            ).all()
            batches = session.execute(
                select(Batch.fund_id, Batch.state, func.count()).group_by(
                    Batch.fund_id, Batch.state
                )
            ).all()
        survivor = self.installation.workers[1].log_tail()
        return f"disclosures {disclosures}, batches {batches}, surviving worker: {survivor}"

    def logged(self) -> bool:
        """Every audit event sequenced, and the last checkpoint signing them all."""
        with self.sessions() as session:
            queued = session.scalar(select(func.count()).select_from(AuditLogQueue))
            events = session.scalar(select(func.count()).select_from(AuditEvent))
            signed = session.scalar(select(func.max(AuditCheckpoint.tree_size)))
        return not queued and signed == events

    def drain(self) -> None:
        """The surviving worker drains the outbox while the funds still pull; then, the
        funds stopped, it sequences and signs the rest of the audit log."""
        self.figures["drain_s"] = wait_until(
            self.drained, 40, "the surviving worker drains the outbox", self.outbox
        )
        self.pulling.set()
        for loop in self.pullers:
            loop.join(timeout=30)
        assert self.traffic.failures == []
        self.figures["log_s"] = wait_until(self.logged, 20, "every audit event checkpointed")


def test_three_servers_and_two_workers_share_one_database_and_lose_nothing(
    postgresql_url: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    key_dir = tmp_path / "keys"
    keys = GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    with (
        ExitStack() as stack,
        Endpoints(keys, delay_s=0.01) as endpoints,
        sessions_on(postgresql_url) as sessions,
        Installation(postgresql_url, key_dir, tmp_path, env=LIMITS) as installation,
    ):
        callers = register_participants(sessions, endpoints)
        installation.start(apis=3, workers=2)
        ready_s = time.monotonic() - started
        run = Run(installation, sessions, keys, callers, stack)
        killed_at = run.work_and_kill()
        run.drain()
        traffic = run.traffic
        killed_api = installation.apis[1]
        assert [api.alive for api in installation.apis] == [True, False, True]
        assert [worker.alive for worker in installation.workers] == [False, True]

        # No server failed a request; tokens came from all three; after the kill the
        # other two carried everything.
        assert {key: n for key, n in traffic.answered.items() if key[1] >= 500} == {}
        assert set(traffic.tokens) == set(installation.urls), traffic.tokens
        after = answered_after(traffic, killed_at)
        assert killed_api.url not in after
        assert all(after[url] > 0 for url in installation.urls if url != killed_api.url)

        assert run.ledger.answered > 0, "the desk checked no one"
        check_rate_limits(run.ledger)
        batches = check_batches(sessions, keys, run.ledger, endpoints, callers)
        events = check_audit_log(sessions, installation, run.ledger, batches, tmp_path)
        figures = {
            "ready_s": ready_s,
            **run.figures,
            "total_s": time.monotonic() - started,
            "decisions": len(run.ledger.posted),
            "batches": len(batches),
            "audit_events": events,
            "requests": sum(traffic.answered.values()),
            "retried": sum(traffic.unreachable.values()),
        }
        print(json.dumps({k: round(v, 1) for k, v in figures.items()}))  # noqa: T201 - with -s


def check_rate_limits(ledger: Ledger) -> None:
    """The limits hold for the installation: exactly the agent's limit, and exactly the
    fund's, let through, whichever servers the requests reached (three servers each
    counting on its own would have let up to three times as many through)."""
    assert ledger.limits["agent"] == Counter({200: AGENT_LIMIT, 429: 2 * AGENT_LIMIT})
    tried = FUND_AGENTS * PER_AGENT
    assert ledger.limits["fund"] == Counter({200: FUND_LIMIT, 429: tried - FUND_LIMIT})


def check_batches(
    sessions: Any,
    keys: GatewayKeys,
    ledger: Ledger,
    endpoints: Endpoints,
    callers: dict[str, Client],
) -> list[Batch]:
    """Every disclosure sealed once or cancelled; seqs 1..n chained; every batch receipted."""
    cipher = keys.identity_cipher()
    with sessions() as session:
        batches = list(session.scalars(select(Batch).order_by(Batch.fund_id, Batch.seq)))
        disclosures = session.execute(
            select(Disclosure.id, Disclosure.fund_id, Disclosure.state, Disclosure.batch_id)
        ).all()
        receipts = {r.batch_id: r.fund_id for r in session.scalars(select(Receipt))}
    sealed_in: Counter[str] = Counter()
    classes: set[str] = set()
    by_fund: dict[str, list[Batch]] = {}
    for batch in batches:
        by_fund.setdefault(batch.fund_id, []).append(batch)
        payload = batch_payload(open_content(cipher, batch), keys)
        assert (payload["fund_id"], payload["seq"]) == (batch.fund_id, batch.seq)
        assert payload["record_count"] == len(payload["records"]) == batch.record_count
        for record in payload["records"]:
            sealed_in[record["record_id"]] += 1
            classes.add(record["data"]["priority_class"])
    assert [r for r, n in sealed_in.items() if n > 1] == [], "a record sealed twice"
    assert {d.id for d in disclosures if d.batch_id is not None} == set(sealed_in)
    states = Counter(d.state for d in disclosures)
    assert set(states) <= {DisclosureState.ACKNOWLEDGED, DisclosureState.CANCELLED}, states
    assert states[DisclosureState.CANCELLED] > 0, "no annulment reached a pending record"
    assert all(d.state == DisclosureState.CANCELLED for d in disclosures if d.batch_id is None)
    # Each fund's seqs run 1..n, each batch chained to the one before.
    for fund_id, own in by_fund.items():
        assert [b.seq for b in own] == list(range(1, len(own) + 1)), fund_id
        assert [b.previous_digest for b in own] == [None, *(b.digest for b in own[:-1])]
    funds_owed = {callers[name].id for name in ("cpam-75", "caf-75", "cpam-93")}
    assert set(by_fund) == funds_owed
    # Delivered: pulled, verified and acknowledged in order, or pushed and receipted.
    assert {b.id for b in batches} == set(receipts)
    for name in ("cpam-75", "caf-75"):
        fund_id = callers[name].id
        assert ledger.acknowledged[fund_id] == list(range(1, len(by_fund[fund_id]) + 1))
    pushed = callers["cpam-93"].id
    assert set(endpoints.seqs(pushed)) == {b.seq for b in by_fund[pushed]}
    first_received = endpoints.times(pushed)  # in seq order, whichever worker pushed
    assert sorted(first_received, key=first_received.__getitem__) == sorted(first_received)
    # Both urgencies were sealed: the express classes and the regular one.
    assert {"high", "normal"} <= classes, classes
    return batches


def check_audit_log(
    sessions: Any, installation: Installation, ledger: Ledger, batches: list[Batch], tmp: Path
) -> int:
    """Every event in the log once, at one index; the log verifies offline against the
    checkpoints an auditor kept during the run; each batch sealed is one event."""
    with sessions() as session:
        events = list(session.scalars(select(AuditEvent.event_id)))
        leaves = session.execute(select(AuditLogLeaf.index, AuditLogLeaf.event_id)).all()
        size = session.scalar(select(AuditLogState.size))
        sealed = Counter(
            ids[0]
            for ids in session.scalars(
                select(AuditEvent.object_ids).where(AuditEvent.action == "batch:sealed")
            )
        )
    assert len(events) == len(set(events))
    assert sorted(index for index, _ in leaves) == list(range(len(events)))
    assert Counter(event_id for _, event_id in leaves) == Counter(events)
    assert size == len(events)
    assert sealed == Counter({b.id: 1 for b in batches})
    # Offline: the export verifies with the public JWKS alone, and extends the
    # checkpoints the auditor saved mid-run (no rewrite, fork or rollback since).
    assert ledger.notes, "the auditor saw no checkpoint during the run"
    export, jwks_file = tmp / "log.ndjson", tmp / "jwks.json"
    live = installation.urls[0]
    jwks_file.write_text(httpx.get(f"{live}/.well-known/jwks.json").text)
    trusted = []
    for n, note in enumerate({ledger.notes[0], ledger.notes[-1]}):
        path = tmp / f"kept-{n}.note"
        path.write_text(note)
        trusted += ["--trusted-checkpoint", str(path)]
    env = {
        "GATEWAY_DATABASE_URL": installation.database_url,
        "GATEWAY_KEY_DIR": str(installation.key_dir),
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    run_command(env, "audit", "export", str(export))
    run_command(env, "audit", "verify", str(export), "--jwks", str(jwks_file), *trusted)
    return len(events)


def run_command(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env={**os.environ, **env},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
