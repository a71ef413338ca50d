"""Benchmark: decisions per second through the import, single-post latency, import memory.

Runs ``gateway serve`` in its own process on a loopback port against a PostgreSQL
database it creates and drops (``--database sqlite`` for a SQLite file instead). It
streams generated NDJSON backlogs to ``POST /v1/decision-imports`` and times them, then
times single ``POST /v1/decisions``, and reads the server's peak resident memory
(VmHWM) after a small import and after the large one: flat memory means the two agree.

In the same run, on the same database, the floor: as many lines through a bare loop that
keeps only the promises each line's rows need (parse and validate the line, seal the
identity with the same crypto, its blind indexes and match keys, then write the decision,
its version, its identity and its disclosures by COPY, committed in batches of the
import's size), without the report, the audit events, the lease or the pipeline. The
import's time a line over the floor's (``import_over_floor``) says what the import's own
machinery costs, whatever else the machine is doing; the floor's time is split into
preparing the rows (Python) and writing them (the database), which the import overlaps.
The processor time a line of the import and of the floor (this process's, the database's
not counted) is steadier than their rates on a machine doing other work.
The last line printed is one JSON object with the figures.

    python -m tests.benchmarks.intake [--lines 1000000] [--small 100000] [--posts 300]
        [--funds 5] [--floor-lines LINES]

Each decision is owed to ``--funds`` funds (one per regime), so each imported line also
writes that many disclosures, as it would in production.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from joserfc.jwk import ECKey

from connectors.client import GatewayClient
from gateway.decisions.models import Decision, DecisionVersion
from gateway.decisions.schemas import DecisionIn
from gateway.decisions.service import body_digest
from gateway.disclosures.models import Disclosure
from gateway.identities.models import Identity, IdentityMatchKey
from gateway.identities.service import IdentityKeys, match_key_rows, seal_row
from gateway.imports.runner import BATCH_SIZE, run_pending_imports
from gateway.keys import GatewayKeys
from gateway.participants.models import ParticipantKind, Regime
from gateway.participants.schemas import ParticipantSpec
from gateway.storage.base import Base, utcnow
from gateway.storage.bulk import insert_rows
from gateway.storage.engine import make_engine, make_sessionmaker
from gateway.storage.ids import new_id
from policies.loader import DEFAULT_POLICY, load_file
from tests.benchmarks.common import benchmark_database, prefecture_spec
from tests.support.processes import gateway_process

CLIENT_ID = "bench-prefecture"
REGIMES = (Regime.CPAM, Regime.CAF, Regime.URSSAF, Regime.CARSAT, Regime.MSA, Regime.CGSS)
CREATED = 201
ACCEPTED = 202
PURPOSE = "decision-transmission"
KINDS = ("renewal-refusal", "first-permit-refusal", "permit-withdrawal", "oqtf")
NAMES = ("Ben Ali", "N'Diaye", "Kowalski", "Nguyễn", "Haddad", "Da Silva", "Popescu")


def decision(number: int, prefix: str) -> dict[str, object]:
    return {
        "reference": f"{prefix}-{number:08d}",
        "kind": KINDS[number % 4],
        "public_order": number % 13 == 0,
        "decision_date": f"20{15 + number % 10}-{1 + number % 12:02d}-{1 + number % 28:02d}",
        "identity": {
            "agdref_number": f"{number % 10**10:010d}",
            "birth_name": NAMES[number % len(NAMES)],
            "first_names": ["Amina", "Karim"] if number % 2 else ["Jean"],
            "sex": "F" if number % 2 else "M",
            "birth_date": f"19{50 + number % 50}-{1 + number % 12:02d}",
            "place_of_birth": "99352",
            "residence_departement": "75",
        },
    }


def ndjson(count: int, prefix: str) -> Iterator[bytes]:
    batch: list[str] = []
    for number in range(count):
        batch.append(json.dumps(decision(number, prefix)))
        if len(batch) == 1000:
            yield ("\n".join(batch) + "\n").encode()
            batch = []
    if batch:
        yield ("\n".join(batch) + "\n").encode()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_seconds() -> float:
    """The processor time this process has used (its threads together), user and system."""
    times = os.times()
    return times.user + times.system


def run_import(
    client: GatewayClient, count: int, prefix: str, database_url: str, key_dir: Path
) -> tuple[float, float, float]:
    """Post a backlog (timed to its 202), then process it as the worker does (timed, and
    the processor time it took)."""
    started = time.perf_counter()
    response = client.request(
        "POST",
        "/v1/decision-imports?format=ndjson",
        purpose=PURPOSE,
        content=ndjson(count, prefix),
        headers={"Content-Type": "application/x-ndjson"},
        timeout=httpx.Timeout(None, connect=10.0),
    )
    accepted_s = time.perf_counter() - started
    if response.status_code != ACCEPTED:
        raise SystemExit(f"import refused: {response.status_code} {response.text}")
    engine = make_engine(database_url)
    try:
        started, cpu = time.perf_counter(), cpu_seconds()
        run_pending_imports(
            make_sessionmaker(engine),
            IdentityKeys.from_store(GatewayKeys.load(key_dir)),
            load_file(DEFAULT_POLICY),
        )
        processed_s, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    finally:
        engine.dispose()
    body = client.request(
        "GET", f"/v1/decision-imports/{response.json()['id']}?limit=1", purpose=PURPOSE
    ).json()
    if body["status"] != "done" or body["accepted"] != count:
        raise SystemExit(f"import failed: {body}")
    return accepted_s, processed_s, cpu


def _floor_rows(
    keys: IdentityKeys, line: bytes, funds: list[tuple[str, str]]
) -> dict[type[Base], list[dict[str, Any]]]:
    """One line's rows, as bare as its promises allow."""
    payload = DecisionIn.model_validate(json.loads(line))
    identity = seal_row(keys, payload.identity)
    now = utcnow()
    decision_id = new_id()
    return {
        Identity: [identity],
        IdentityMatchKey: match_key_rows(keys, identity["id"], payload.identity.document()),
        Decision: [
            {
                "id": decision_id,
                "prefecture_id": CLIENT_ID,
                "reference": payload.reference,
                "departement": "75",
                "kind": str(payload.kind),
                "status": "active",
                "current_version": 1,
                "created_at": now,
                "updated_at": now,
            }
        ],
        DecisionVersion: [
            {
                "decision_id": decision_id,
                "version": 1,
                "identity_id": identity["id"],
                "kind": str(payload.kind),
                "public_order": payload.public_order,
                "decision_date": payload.decision_date,
                "removal_measures": [],
                "status": "active",
                "body_digest": body_digest(keys, payload.digest_document()),
                "created_at": now,
            }
        ],
        Disclosure: [
            {
                "id": new_id(),
                "decision_id": decision_id,
                "version": 1,
                "fund_id": fund_id,
                "state": "pending",
                "correction": False,
                "priority_rank": 0,
                "priority_class": "normal",
                "profile": profile,
                "policy_version": "floor",
                "created_at": now,
                "updated_at": now,
            }
            for fund_id, profile in funds
        ],
    }


def floor(
    database_url: str, key_dir: Path, count: int, funds: list[str]
) -> tuple[float, float, float]:
    """Seconds the bare loop spends over ``count`` lines preparing rows, and writing them
    (see the module's docstring), and the processor time it took."""
    keys = IdentityKeys.from_store(GatewayKeys.load(key_dir))
    targets = [(fund, "default") for fund in funds]
    order = (Identity, IdentityMatchKey, Decision, DecisionVersion, Disclosure)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    prepare_s = write_s = 0.0
    cpu = cpu_seconds()
    try:
        lines = (line for chunk in ndjson(count, "FLOOR") for line in chunk.splitlines())
        while True:
            started = time.perf_counter()
            batch = list(itertools.islice(lines, BATCH_SIZE))
            if not batch:
                return prepare_s, write_s, cpu_seconds() - cpu
            rows: dict[type[Base], list[dict[str, Any]]] = {model: [] for model in order}
            for line in batch:
                for model, found in _floor_rows(keys, line, targets).items():
                    rows[model] += found
            prepared = time.perf_counter()
            with sessions.begin() as session:
                for model in order:
                    insert_rows(session, model, rows[model])
            prepare_s += prepared - started
            write_s += time.perf_counter() - prepared
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument(
        "--funds", type=int, default=5, help="Funds covering the decisions' département."
    )
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--floor-lines", type=int, default=None, help="Lines through the floor (default --lines)."
    )
    args = parser.parse_args()

    key = ECKey.generate_key("P-256", private=True)
    prefecture = prefecture_spec(CLIENT_ID, key)
    # The funds a decision of département 75 is owed to, as in real life: one per regime.
    funds = [
        ParticipantSpec(
            id=f"bench-{regime}-75",
            kind=ParticipantKind.FUND,
            name=f"Benchmark {regime}",
            regime=regime,
            departements=["75"],
            jwks=ECKey.generate_key("P-256", private=True).as_dict(private=False),
        )
        for regime in REGIMES[: args.funds]
    ]
    with (
        benchmark_database(args.database, prefecture, *funds) as (url, key_dir),
        gateway_process(url, key_dir, log_level="WARNING") as (base_url, server),
        GatewayClient(base_url, CLIENT_ID, key) as client,
    ):
        _, small_s, _ = run_import(client, args.small, "SMALL", url, key_dir)
        small_rss = peak_rss_mb(os.getpid())
        large_202_s, large_s, large_cpu = run_import(client, args.lines, "LARGE", url, key_dir)
        large_rss = peak_rss_mb(os.getpid())
        upload_rss = peak_rss_mb(server.pid)
        floor_lines = args.floor_lines or args.lines
        prepare_s, write_s, floor_cpu = floor(
            url, key_dir, floor_lines, [fund.id for fund in funds]
        )
        floor_s = prepare_s + write_s
        latencies = []
        for number in range(args.posts):
            started = time.perf_counter()
            response = client.request(
                "POST", "/v1/decisions", purpose=PURPOSE, json=decision(number, "POST")
            )
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != CREATED:
                raise SystemExit(f"post failed: {response.status_code} {response.text}")

    quantiles = statistics.quantiles(latencies, n=100)
    print(
        json.dumps(
            {
                "database": args.database,
                "funds_per_decision": args.funds,
                "import_lines": args.lines,
                "import_202_seconds": round(large_202_s, 2),
                "import_seconds": round(large_s, 1),
                "import_decisions_per_s": round(args.lines / large_s, 1),
                "import_cpu_us_per_line": round(large_cpu / args.lines * 1e6),
                "small_import_lines": args.small,
                "small_import_decisions_per_s": round(args.small / small_s, 1),
                "post_p50_ms": round(statistics.median(latencies), 2),
                "post_p99_ms": round(quantiles[98], 2),
                "import_small_peak_rss_mb": small_rss,
                "import_1m_peak_rss_mb": large_rss,
                "upload_server_peak_rss_mb": upload_rss,
                "floor_lines": floor_lines,
                "floor_decisions_per_s": round(floor_lines / floor_s, 1),
                "floor_prepare_seconds": round(prepare_s, 1),
                "floor_write_seconds": round(write_s, 1),
                "floor_cpu_us_per_line": round(floor_cpu / floor_lines * 1e6),
                "import_over_floor": round((floor_lines / floor_s) / (args.lines / large_s), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
