"""Benchmark: status checks against a million stored decisions, in bulk and one at a time.

On a PostgreSQL database it creates and drops (``--database sqlite`` for a SQLite file),
stores ``--decisions`` decisions of one prefecture straight into the tables, as the
import writes them: each line validated, its identity sealed under the gateway's keys
with real blind indexes and name-matching keys, the rows appended by COPY, one loading
process per core. Then, against ``--servers`` ``gateway serve`` processes on loopback
ports (two of one worker each by default), requests spread over them as a load balancer
spreads connections, as a fund with an OAuth token:

1. **bulk**: ``--identities`` affiliates (NIR, names, sex, birth date and place) in
   requests of ``--batch`` checks, ``--concurrency`` requests in flight. About 2% of them
   are people with a stored decision: the adverse answers must be exactly those, matched
   on the NIR. ``--namesakes`` percent share a stored person's surname and birth year and
   nothing else, so name matching opens candidates and turns them down; the others share
   no name with anyone stored.
2. **single**: one-person requests paced at ``--single-rate`` per second for
   ``--single-seconds`` by ``wrk`` (one per server, each its share of the rate and of the
   connections; ``tests.benchmarks.load`` says what the pacing measures), so the client
   eats little of the cores it measures. With ``--dpop`` each request needs a proof of
   its own, which wrk cannot sign: a Python client sends them open-loop instead, each
   leaving at its scheduled time whether or not the earlier ones were answered, its
   latency counted from that time (that client costs the server's cores a share).
3. **SQL only**: the queries the service runs for the same people, ``--batch`` at a time
   and ``--concurrency`` at once, with their blind indexes and blocking keys computed
   beforehand: the identifier lookup, then the candidates of the blocking keys of those
   it did not find. ``gateway_over_sql_ratio`` is the bulk rate over this rate, the
   gateway's over its queries' alone: below 1, the gateway is slower (0.4: its queries
   are two fifths of its time); what it lacks of 1 is what the rest of a request costs.

The server's rate limits on status checks are raised for the run. Progress goes to
stderr; the last line printed is one JSON object with the figures.

    python -m tests.benchmarks.status_checks [--decisions 1000000] [--identities 200000]
        [--batch 10000] [--concurrency 2] [--single-rate 500] [--single-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from joserfc.jwk import ECKey
from sqlalchemy import func, select, text

from connectors.client import GatewayClient, dpop_proof
from gateway.auth.caller import Caller
from gateway.decisions import service as decisions
from gateway.decisions.models import Decision, DecisionStatus, DecisionVersion
from gateway.decisions.schemas import DecisionIn
from gateway.identities import service as identities
from gateway.identities.matching import Profile, blocking_keys
from gateway.identities.models import Identity, IdentityMatchKey
from gateway.identities.nir import nir_key
from gateway.identities.schemas import IdentityIn
from gateway.keys import GatewayKeys
from gateway.participants.models import ParticipantKind
from gateway.status import repository
from gateway.storage.bulk import insert_rows
from gateway.storage.engine import make_engine, make_sessionmaker
from policies.loader import DEFAULT_POLICY, load_file
from tests.benchmarks.common import benchmark_database, fund_spec, prefecture_spec
from tests.benchmarks.load import wrk
from tests.support.processes import gateway_process

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

PREFECTURE_ID = "bench-prefecture"
FUND_ID = "bench-fund"
AGENT_ID = "bench-sweep"
PURPOSE = "residence-regularity-check"
CHECKS = "/v1/status-checks"
OK = 200
PLANTED_PERCENT = 2
LOAD_CHUNK = 10_000
BULK_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
SINGLE_TIMEOUT = httpx.Timeout(30.0, connect=10.0, pool=600.0)  # queued behind a slow server
# The run makes more checks than one agent may in a window: the limits are raised so that
# they never refuse a request. Each server answers up to 16 single checks at once: its
# pool holds that many connections (a smaller one opens and closes one per request).
SERVER_SETTINGS = {
    "GATEWAY_STATUS_CHECKS_PER_FUND": str(10**9),
    "GATEWAY_STATUS_CHECKS_PER_AGENT": str(10**9),
    "GATEWAY_STATUS_CHECK_WINDOW_SECONDS": "86400",
    "GATEWAY_DATABASE_POOL_SIZE": "20",
}
# Seven in eight decisions are of a kind the policy discloses; an OQTF alone is recorded
# and never answered.
KINDS = (
    "renewal-refusal",
    "first-permit-refusal",
    "renewal-refusal",
    "permit-withdrawal",
    "renewal-refusal",
    "first-permit-refusal",
    "permit-withdrawal",
    "oqtf",
)
# The names of stored people and of the affiliates nobody decided on share no consonant:
# no name of one sounds like, or is a typo of, a name of the other, so the only adverse
# answers are the planted ones.
STORED_SYLLABLES = tuple(c + v for c in "BDKLMNRST" for v in ("A", "I", "O", "IA"))
OTHER_SYLLABLES = tuple(c + v for c in "FGHJPVWZ" for v in ("E", "U", "EU"))
SURNAME_SYLLABLES, FIRST_NAME_SYLLABLES = 3, 2
# Spreads consecutive numbers over every surname, so that birth years and surnames mix.
SCATTER = 7919
# NIR and place of birth: born abroad (99); the country code keeps the groups apart.
STORED_COUNTRIES = range(100, 350)
OTHER_COUNTRIES = range(350, 500)
NAMESAKE_COUNTRIES = range(500, 600)
NIR_ORDERS, NIR_MONTHS, NIR_YEARS = 999, 12, 60
FIRST_YEAR = 1940
PREFECTURE = Caller(
    participant_id=PREFECTURE_ID,
    kind=ParticipantKind.PREFECTURE,
    acting_for=PREFECTURE_ID,
    scopes=frozenset(),
    territory=("75",),
    national=False,
    purpose="decision-transmission",
    agent_id=None,
    case_reference=None,
    dpop_bound=False,
)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def word(number: int, syllables: tuple[str, ...], count: int) -> str:
    parts = []
    for _ in range(count):
        number, index = divmod(number, len(syllables))
        parts.append(syllables[index])
    return "".join(parts).capitalize()


def nir(sex: str, year: int, month: int, country: int, order: int) -> dict[str, str]:
    """A NIR of someone born abroad, with its key."""
    body = f"{1 if sex == 'M' else 2}{year % 100:02d}{month:02d}99{country:03d}{order:03d}"
    return {"number": f"{body}{nir_key(body):02d}", "type": "nir"}


def person(number: int, *, stored: bool) -> dict[str, Any]:
    """Person ``number`` of the stored people or of the others, as a fund knows them."""
    syllables = STORED_SYLLABLES if stored else OTHER_SYLLABLES
    countries = STORED_COUNTRIES if stored else OTHER_COUNTRIES
    rest, order = divmod(number, NIR_ORDERS)
    rest, month = divmod(rest, NIR_MONTHS)
    rest, year = divmod(rest, NIR_YEARS)
    country = countries[rest]  # IndexError past the group's size: 100 million or more
    sex = "M" if number % 2 == 0 else "F"
    names = len(syllables) ** SURNAME_SYLLABLES
    first_names = [word(number // 3 + 11, syllables, FIRST_NAME_SYLLABLES)]
    if number % 3 == 0:
        first_names.append(word(number // 5 + 7, syllables, FIRST_NAME_SYLLABLES))
    return {
        "social_security_number": nir(sex, FIRST_YEAR + year, month + 1, country, order + 1),
        "birth_name": word(number * SCATTER % names, syllables, SURNAME_SYLLABLES),
        "first_names": first_names,
        "sex": sex,
        "birth_date": f"{FIRST_YEAR + year}-{month + 1:02d}-{1 + number % 28:02d}",
        "place_of_birth": f"99{country:03d}",
    }


def namesake(number: int, of: int) -> dict[str, Any]:
    """Affiliate ``number``: stored person ``of``'s surname and birth year, nothing else.

    Name matching finds the stored people of that surname and year and grades each
    ``none``: other first names, another month, another place of birth.
    """
    known = person(of, stored=True)
    year, month = int(known["birth_date"][:4]), int(known["birth_date"][5:7]) % 12 + 1
    day = 13 + number % 16  # past 12: never read as a day and month swapped
    sex = "M" if number % 2 == 0 else "F"
    rest, order = divmod(number, NIR_ORDERS)
    country = NAMESAKE_COUNTRIES[rest % len(NAMESAKE_COUNTRIES)]
    return {
        **person(number, stored=False),
        "social_security_number": nir(sex, year, month, country, order + 1),
        "birth_name": known["birth_name"],
        "sex": sex,
        "birth_date": f"{year}-{month:02d}-{day:02d}",
        "place_of_birth": f"99{country:03d}",
    }


def has_number(number: int) -> bool:
    """Whether stored decision ``number`` carries a NIR or NIA (most do, not all)."""
    return number % 20 < 17


def stored_decision(number: int) -> dict[str, Any]:
    """Decision ``number`` as the prefecture posts it."""
    identity = person(number, stored=True)
    if not has_number(number):
        del identity["social_security_number"]
    elif number % 4 == 1:
        identity["social_security_number"]["type"] = "nia"
    identity["agdref_number"] = f"{7_500_000_000 + number}"
    identity["residence_departement"] = "75"
    decided = date(2015 + number % 10, 1 + number % 12, 1 + number % 28)
    return {
        "reference": f"SC-{number:08d}",
        "kind": KINDS[number % len(KINDS)],
        "public_order": number % 13 == 0,
        "decision_date": decided.isoformat(),
        "notification_date": (decided + timedelta(days=9)).isoformat(),
        "effect_date": (decided + timedelta(days=39)).isoformat(),
        "identity": identity,
    }


# The loading processes' engine and keys, made once per process.
_LOADER: dict[str, Any] = {}


def _start_loader(database_url: str, key_dir: str) -> None:
    _LOADER["sessions"] = make_sessionmaker(make_engine(database_url))
    _LOADER["keys"] = identities.IdentityKeys.from_store(GatewayKeys.load(Path(key_dir)))


def load_range(start: int, stop: int) -> int:
    """Store decisions ``start`` to ``stop`` as the import does; in a loading process."""
    sessions: sessionmaker[Session] = _LOADER["sessions"]
    keys: identities.IdentityKeys = _LOADER["keys"]
    built = []
    for number in range(start, stop):
        payload = DecisionIn.model_validate(stored_decision(number))
        digest = decisions.body_digest(keys, payload.digest_document())
        matching = identities.Keys.of(payload.identity)
        built.append(
            decisions.new_decision(
                PREFECTURE,
                keys,
                payload,
                digest,
                None,
                identity=decisions.seal_identity(keys, payload, matching),
            )
        )
    with sessions.begin() as session:
        insert_rows(session, Identity, [rows.identity for rows in built])
        insert_rows(session, Decision, [rows.decision for rows in built])
        insert_rows(session, DecisionVersion, [rows.version for rows in built])
        insert_rows(session, IdentityMatchKey, [key for rows in built for key in rows.match_keys])
    return stop - start


def load(database_url: str, key_dir: Path, count: int, processes: int) -> None:
    chunks = [(start, min(start + LOAD_CHUNK, count)) for start in range(0, count, LOAD_CHUNK)]
    done = 0
    started = time.perf_counter()
    with ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_loader,
        initargs=(database_url, str(key_dir)),
    ) as pool:
        for future in as_completed([pool.submit(load_range, *chunk) for chunk in chunks]):
            done += future.result()
            if done % 100_000 < LOAD_CHUNK or done == count:
                rate = done / (time.perf_counter() - started)
                progress(f"loaded {done}/{count} decisions ({rate:.0f}/s)")


@dataclass(frozen=True)
class Affiliate:
    identity: dict[str, Any]
    ssn: str
    expected_reference: str | None  # the planted decision's, or None: nobody decided


def affiliate(identity: dict[str, Any], expected_reference: str | None) -> Affiliate:
    """A person of the fund's territory (75), as a fund with a territory always says."""
    identity = {**identity, "residence_departement": "75"}
    return Affiliate(identity, identity["social_security_number"]["number"], expected_reference)


def affiliates(
    count: int, decided: int, namesakes_percent: float, rng: random.Random
) -> list[Affiliate]:
    """``count`` affiliates in random order: 2% with a decision, some namesakes, others."""
    eligible = [n for n in range(decided) if has_number(n) and KINDS[n % len(KINDS)] != "oqtf"]
    planted = count * PLANTED_PERCENT // 100
    namesakes = int(count * namesakes_percent / 100)
    if planted > len(eligible):
        raise SystemExit(f"{decided} decisions cannot hold {planted} planted affiliates")
    people = [
        affiliate(person(n, stored=True), f"SC-{n:08d}") for n in rng.sample(eligible, planted)
    ]
    people += [affiliate(namesake(n, rng.randrange(decided)), None) for n in range(namesakes)]
    people += [affiliate(person(n, stored=False), None) for n in range(namesakes, count - planted)]
    rng.shuffle(people)
    return people


def check_answers(people: list[Affiliate], answers: list[dict[str, Any]]) -> Counter[str]:
    """The answers counted by result and match; stops the run at the first unexpected one.

    A planted affiliate is an exact match of their decision; anyone else is none known.
    """
    results: Counter[str] = Counter()
    for position, (affiliate, answer) in enumerate(zip(people, answers, strict=True)):
        got = (
            answer.get("result"),
            answer.get("match"),
            (answer.get("decision") or {}).get("reference"),
        )
        expected = (
            ("adverse_decision", "exact", affiliate.expected_reference)
            if affiliate.expected_reference is not None
            else ("none_known", "none", None)
        )
        if got != expected:
            raise SystemExit(f"check {position}: expected {expected}, got {answer}")
        results[f"{got[0]}/{got[1]}"] += 1
    return results


def body(people: list[Affiliate]) -> bytes:
    return json.dumps({"checks": [{"identity": p.identity} for p in people]}).encode()


@dataclass(frozen=True)
class Server:
    """One ``gateway serve``, and the fund's client of it: a token is for one server only
    (its audience is the server's URL)."""

    base_url: str
    client: GatewayClient
    dpop_key: ECKey | None

    def headers(self) -> dict[str, str]:
        """A single check's headers: purpose, agent, token (and its DPoP proof)."""
        token = self.client.access_token
        headers = {"Purpose": PURPOSE, "Agent-Id": AGENT_ID, "Content-Type": "application/json"}
        if self.dpop_key is None:
            return {**headers, "Authorization": f"Bearer {token}"}
        proof = dpop_proof(self.dpop_key, "ES256", "POST", f"{self.base_url}{CHECKS}", token)
        return {**headers, "Authorization": f"DPoP {token}", "DPoP": proof}


def send_bulk(server: Server, content: bytes) -> list[dict[str, Any]]:
    response = server.client.request(
        "POST",
        CHECKS,
        purpose=PURPOSE,
        agent_id=AGENT_ID,
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=BULK_TIMEOUT,
    )
    if response.status_code != OK:
        raise SystemExit(f"bulk check refused: {response.status_code} {response.text[:500]}")
    answers: list[dict[str, Any]] = response.json()["answers"]
    return answers


def run_bulk(
    servers: list[Server], people: list[Affiliate], batch: int, concurrency: int
) -> tuple[float, Counter[str]]:
    """Seconds to check everyone, ``concurrency`` requests in flight, and the results.

    Request ``i`` goes out on lane ``i % concurrency``, and lane ``j`` always talks to
    server ``j % len(servers)``, as a load balancer spreads connections: no server gets
    two lanes while another idles.
    """
    chunks = [people[start : start + batch] for start in range(0, len(people), batch)]
    bodies = [body(chunk) for chunk in chunks]
    for server in servers:
        server.client.fetch_token()
    results: Counter[str] = Counter()
    answered = 0
    lock = threading.Lock()
    failed = threading.Event()

    def lane(number: int) -> None:
        nonlocal results, answered
        server = servers[number % len(servers)]
        for index in range(number, len(chunks), concurrency):
            if failed.is_set():
                return
            try:
                counted = check_answers(chunks[index], send_bulk(server, bodies[index]))
            except BaseException:
                failed.set()
                raise
            with lock:
                results += counted
                answered += 1
                if len(chunks) >= 5 and (answered % 5 == 0 or answered == len(chunks)):
                    progress(f"bulk: {answered}/{len(chunks)} requests answered")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(lane, number) for number in range(concurrency)]:
            future.result()
    return time.perf_counter() - started, results


@dataclass
class SingleRun:
    latencies: list[float] = field(default_factory=list)  # from the scheduled send time
    service: list[float] = field(default_factory=list)  # from the request leaving on a connection
    errors: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    finished: float = 0.0


async def run_single(
    servers: list[Server], people: list[Affiliate], rate: float, seconds: float, connections: int
) -> SingleRun:
    """Open loop: request ``i`` leaves at ``start + i / rate``, answered or not the others,
    to server ``i % len(servers)``, over ``connections`` connections in all."""
    count = int(rate * seconds)
    bodies = [body([people[i % len(people)]]) for i in range(count)]
    run = SingleRun()
    each = max(1, connections // len(servers))
    limits = httpx.Limits(max_connections=each, max_keepalive_connections=each)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.base_url, timeout=SINGLE_TIMEOUT, limits=limits)
            )
            for server in servers
        ]
        loop = asyncio.get_running_loop()

        async def one(number: int, scheduled: float) -> None:
            sent = loop.time()

            async def trace(event: str, _: dict[str, Any]) -> None:
                nonlocal sent
                if event == "http11.send_request_headers.started":  # a connection was free
                    sent = loop.time()

            try:
                response = await clients[number % len(servers)].post(
                    CHECKS,
                    content=bodies[number],
                    headers=servers[number % len(servers)].headers(),
                    extensions={"trace": trace},
                )
            except httpx.HTTPError as error:
                run.errors[type(error).__name__] += 1
                return
            done = loop.time()
            run.finished = max(run.finished, done)
            if response.status_code != OK:
                run.errors[str(response.status_code)] += 1
                return
            run.latencies.append(done - scheduled)
            run.service.append(done - sent)

        run.started = loop.time() + 0.05
        tasks = []
        for number in range(count):
            scheduled = run.started + number / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(number, scheduled)))
        await asyncio.gather(*tasks)
    return run


def run_single_wrk(
    servers: list[Server], people: list[Affiliate], rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    """Paced by wrk: server ``j`` gets its share of the rate and of the connections, every
    request a person of its own; the figures summed (rate, failures) or the worst (p50, p99)."""
    count = int(rate * seconds)
    bodies = [body([people[i % len(people)]]).decode() for i in range(count)]

    def drive(number: int) -> dict[str, Any]:
        server = servers[number]
        headers = {
            "Purpose": PURPOSE,
            "Agent-Id": AGENT_ID,
            "Content-Type": "application/json",
            "Authorization": f"Bearer {server.client.access_token}",
        }
        return wrk(
            f"{server.base_url}{CHECKS}",
            headers,
            seconds=seconds,
            connections=max(1, connections // len(servers)),
            rate=rate / len(servers),
            bodies=bodies[number :: len(servers)],
        )

    with ThreadPoolExecutor(len(servers)) as pool:
        figures = list(pool.map(drive, range(len(servers))))
    return {
        "driver": "wrk",
        "achieved_rps": round(sum(f["ok_per_s"] for f in figures), 1),
        "p50_ms": max(f["p50_ms"] for f in figures),
        "p99_ms": max(f["p99_ms"] for f in figures),
        "errors": sum(f["failures"] for f in figures),
    }


def run_single_python(
    servers: list[Server], people: list[Affiliate], rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    """Open loop from the Python client (DPoP proofs signed per request)."""
    single = asyncio.run(run_single(servers, people, rate, seconds, connections))
    answered = len(single.latencies)
    return {
        "driver": "python",
        "achieved_rps": round(answered / max(single.finished - single.started, 1e-9), 1),
        "p50_ms": quantile_ms(single.latencies, 50),
        "p99_ms": quantile_ms(single.latencies, 99),
        "service_p50_ms": quantile_ms(single.service, 50),
        "service_p99_ms": quantile_ms(single.service, 99),
        "errors": sum(single.errors.values()),
        "error_kinds": dict(single.errors),
    }


@dataclass(frozen=True)
class Lookup:
    """What the service looks one person up by: the NIR's blind index, the blocking keys."""

    index: str
    match_keys: list[str]


def lookups(keys: identities.IdentityKeys, people: list[Affiliate]) -> list[Lookup]:
    found = []
    for affiliate in people:
        profile = Profile.of_identity(IdentityIn.model_validate(affiliate.identity))
        found.append(
            Lookup(
                identities.blind_index(keys, "ssn", affiliate.ssn),
                [
                    identities.blind_index(keys, "match", key)
                    for key in blocking_keys(profile, swaps=True)
                ],
            )
        )
    return found


@dataclass
class SqlRun:
    seconds: float = 0.0
    adverse: int = 0
    candidates: int = 0  # sealed identities fetched for name matching


def run_sql_only(
    sessions: sessionmaker[Session],
    people: list[Lookup],
    batch: int,
    kinds: list[str],
    concurrency: int,
) -> SqlRun:
    """The service's queries for ``people``, ``batch`` at a time, ``concurrency`` at once."""

    def lookup(chunk: list[Lookup]) -> tuple[int, int]:
        """(adverse people, candidates) of one chunk, by the service's own queries."""
        with sessions() as session:
            indexes = {p.index for p in chunk}
            rows = repository.lookup(session, indexes, {k for p in chunk for k in p.match_keys})
            pairs = [(row.value, row.id) for row in rows if row.value in indexes]
            by_key: dict[str, set[str]] = {}
            for row in rows:
                by_key.setdefault(row.value, set()).add(row.id)
            decided = repository.decisions_of(session, {i for _, i in pairs}, kinds)
            found = {index for index, identity in pairs if identity in decided}
            active = {
                index
                for index, identity in pairs
                for decision, _ in decided.get(identity, ())
                if decision.status == DecisionStatus.ACTIVE
            }
            unmatched = {key for p in chunk if p.index not in found for key in p.match_keys}
            candidates = {i for key in unmatched for i in by_key.get(key, ())}
            repository.decisions_of(session, candidates, kinds)
            return sum(1 for p in chunk if p.index in active), len(candidates)

    run = SqlRun()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        chunks = [people[start : start + batch] for start in range(0, len(people), batch)]
        for adverse, candidates in pool.map(lookup, chunks):
            run.adverse += adverse
            run.candidates += candidates
    run.seconds = time.perf_counter() - started
    return run


def quantile_ms(values: list[float], percent: int) -> float | None:
    if len(values) < 2:
        return None
    return round(statistics.quantiles(values, n=100)[percent - 1] * 1000, 2)


def main() -> None:  # noqa: PLR0915 - the benchmark's steps, in order
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--identities", type=int, default=200_000)
    parser.add_argument(
        "--namesakes", type=float, default=5.0, help="Percent of affiliates with a known surname."
    )
    parser.add_argument("--batch", type=int, default=10_000, help="Checks per bulk request.")
    parser.add_argument("--concurrency", type=int, default=2, help="Bulk requests in flight.")
    parser.add_argument("--single-rate", type=float, default=500.0, help="Requests per second.")
    parser.add_argument("--single-seconds", type=float, default=10.0)
    parser.add_argument("--single-connections", type=int, default=32)
    parser.add_argument(
        "--servers", type=int, default=2, help="gateway serve processes, requests spread over them."
    )
    parser.add_argument("--workers", type=int, default=1, help="Worker processes per server.")
    parser.add_argument("--loaders", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dpop", action="store_true", help="Bind the fund's token with DPoP.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()

    rng = random.Random(args.seed)  # noqa: S311 - which affiliates are planted, not secrets
    people = affiliates(args.identities, args.decisions, args.namesakes, rng)
    planted = sum(1 for p in people if p.expected_reference is not None)
    prefecture = prefecture_spec(PREFECTURE_ID, ECKey.generate_key("P-256", private=True))
    key = ECKey.generate_key("P-256", private=True)
    dpop_key = ECKey.generate_key("P-256", private=True) if args.dpop else None
    fund = fund_spec(FUND_ID, key).model_copy(update={"require_dpop": args.dpop})
    with benchmark_database(args.database, prefecture, fund) as (url, key_dir):
        started = time.perf_counter()
        load(url, key_dir, args.decisions, 1 if args.database == "sqlite" else args.loaders)
        engine = make_engine(url)
        if args.database == "postgresql":
            # What autovacuum does after a large load, done now rather than during the run:
            # statistics for the planner (without them every lookup is planned as on empty
            # tables, a scan of all decisions) and the visibility map.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM (ANALYZE)"))
        load_s = time.perf_counter() - started
        sessions = make_sessionmaker(engine)
        with sessions() as session:
            stored = session.scalar(select(func.count()).select_from(Decision)) or 0
            match_keys = session.scalar(select(func.count()).select_from(IdentityMatchKey)) or 0
        if stored != args.decisions:
            raise SystemExit(f"{stored} decisions stored, {args.decisions} expected")
        progress(f"loaded {stored} decisions in {load_s:.1f} s; {planted} affiliates planted")

        with ExitStack() as stack:
            servers = []
            for number in range(args.servers):
                base_url, _ = stack.enter_context(
                    gateway_process(
                        url,
                        key_dir,
                        workers=args.workers,
                        log_level="WARNING",
                        log_path=key_dir.parent / f"gateway-{number}.log",
                        env=SERVER_SETTINGS,
                    )
                )
                client = stack.enter_context(
                    GatewayClient(base_url, FUND_ID, key, dpop_key=dpop_key)
                )
                servers.append(Server(base_url, client, dpop_key))
            # Small requests first: connections, caches and plans warm in every server.
            for server in servers:
                for _ in range(args.workers * 2):
                    run_bulk([server], people[:100], 100, 1)
            bulk_s, results = run_bulk(servers, people, args.batch, args.concurrency)
            progress(f"bulk: {len(people) / bulk_s:.0f} identities/s, {dict(results)}")
            drive = run_single_python if args.dpop else run_single_wrk
            single = drive(
                servers, people, args.single_rate, args.single_seconds, args.single_connections
            )
            progress(f"single: {single['achieved_rps']:.0f}/s, errors {single['errors']}")

        kinds = [str(kind) for kind in load_file(DEFAULT_POLICY).policy.eligibility.disclosed]
        keys = identities.IdentityKeys.from_store(GatewayKeys.load(key_dir))
        sql = run_sql_only(sessions, lookups(keys, people), args.batch, kinds, args.concurrency)
        if sql.adverse != planted:
            raise SystemExit(f"SQL alone found {sql.adverse} adverse people, {planted} planted")
        progress(f"SQL only: {len(people) / sql.seconds:.0f} identities/s")
        engine.dispose()

    bulk_rate = len(people) / bulk_s
    sql_rate = len(people) / sql.seconds
    print(
        json.dumps(
            {
                "database": args.database,
                "decisions": args.decisions,
                "match_keys": match_keys,
                "load_seconds": round(load_s, 1),
                "load_decisions_per_s": round(args.decisions / load_s, 1),
                "servers": args.servers,
                "workers_per_server": args.workers,
                "dpop": args.dpop,
                "identities": len(people),
                "planted": planted,
                "namesakes_percent": args.namesakes,
                "batch": args.batch,
                "concurrency": args.concurrency,
                "bulk_seconds": round(bulk_s, 2),
                "bulk_identities_per_s": round(bulk_rate, 1),
                "bulk_results": dict(results),
                "sql_only_seconds": round(sql.seconds, 2),
                "sql_only_identities_per_s": round(sql_rate, 1),
                "sql_only_candidates": sql.candidates,
                # The gateway's rate over its queries' alone (below 1: slower).
                "gateway_over_sql_ratio": round(bulk_rate / sql_rate, 2),
                "single_target_rps": args.single_rate,
                "single_seconds": args.single_seconds,
                "single_sent": int(args.single_rate * args.single_seconds),
                **{f"single_{name}": value for name, value in single.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
