"""Benchmark: sealing pending disclosures into signed batches, and verifying them fund-side.

Creates a PostgreSQL database (``--database sqlite`` for a SQLite file), registers
``--funds`` funds covering one département and a prefecture, imports decisions through
``gateway serve`` until ``--disclosures`` disclosures are pending (each decision is owed
to every fund), then times ``gateway.batches.sealing.seal`` in this process: projection,
decryption of each identity, canonical JSON, Merkle roots and signatures included. Then
every fund's batches are verified as a fund does (``connectors.fund.verify_batch``:
signature, seq, chain, Merkle root) and timed. The last line printed is one JSON object.

    python -m tests.benchmarks.sealing [--disclosures 100000] [--funds 20]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator

import httpx
from joserfc.jwk import ECKey
from sqlalchemy import func, select, text

from connectors.client import GatewayClient
from connectors.fund import verify_batch
from gateway.batches.models import Batch
from gateway.batches.sealing import seal
from gateway.batches.storage import open_content
from gateway.disclosures.models import Disclosure
from gateway.identities.service import IdentityKeys
from gateway.imports.runner import run_pending_imports
from gateway.keys import GatewayKeys
from gateway.participants.models import ParticipantKind, Regime
from gateway.participants.schemas import ParticipantSpec
from gateway.storage.engine import make_engine, make_sessionmaker
from policies.loader import DEFAULT_POLICY, load_file
from tests.benchmarks.common import benchmark_database, prefecture_spec
from tests.benchmarks.status_checks import nir
from tests.support.processes import gateway_process

CLIENT_ID = "bench-prefecture"
PURPOSE = "decision-transmission"
KINDS = ("renewal-refusal", "first-permit-refusal", "permit-withdrawal")
NAMES = ("Ben Ali", "N'Diaye", "Kowalski", "Nguyễn", "Haddad", "Da Silva", "Popescu")
REGIMES = tuple(Regime)


def lines(count: int) -> Iterator[bytes]:
    for number in range(count):
        sex = "F" if number % 2 else "M"
        year, month = 1950 + number % 50, 1 + number % 12
        line = {
            "reference": f"SEAL-{number:08d}",
            "kind": KINDS[number % 3],
            "public_order": number % 13 == 0,
            "decision_date": f"20{15 + number % 10}-{1 + number % 12:02d}-{1 + number % 28:02d}",
            "identity": {
                "agdref_number": f"{number % 10**10:010d}",
                "social_security_number": nir(sex, year, month, 352, 1 + number % 999),
                "birth_name": NAMES[number % len(NAMES)],
                "first_names": ["Amina", "Karim"] if number % 2 else ["Jean"],
                "sex": sex,
                "birth_date": f"{year}-{month:02d}-{1 + number % 28:02d}",
                "place_of_birth": "99352",
                "residence_departement": "75",
            },
        }
        yield (json.dumps(line) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--disclosures", type=int, default=100_000)
    parser.add_argument("--funds", type=int, default=20)
    parser.add_argument("--max-records", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="Funds sealed at once.")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    decisions = args.disclosures // args.funds

    key = ECKey.generate_key("P-256", private=True)
    prefecture = prefecture_spec(CLIENT_ID, key)
    funds = [
        ParticipantSpec(
            id=f"bench-fund-{number:02d}",
            kind=ParticipantKind.FUND,
            name=f"Benchmark fund {number}",
            regime=REGIMES[number % len(REGIMES)],
            departements=["75"],
            jwks=ECKey.generate_key("P-256", private=True).as_dict(private=False),
        )
        for number in range(args.funds)
    ]
    with benchmark_database(args.database, prefecture, *funds) as (url, key_dir):
        with (
            gateway_process(url, key_dir, log_level="WARNING") as (base_url, _),
            GatewayClient(base_url, CLIENT_ID, key) as client,
        ):
            response = client.request(
                "POST",
                "/v1/decision-imports?format=ndjson",
                purpose=PURPOSE,
                content=lines(decisions),
                headers={"Content-Type": "application/x-ndjson"},
                timeout=httpx.Timeout(None, connect=10.0),
            )
            if response.status_code != httpx.codes.ACCEPTED:
                raise SystemExit(f"import refused: {response.status_code} {response.text}")
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        keys = GatewayKeys.load(key_dir)
        run_pending_imports(sessions, IdentityKeys.from_store(keys), load_file(DEFAULT_POLICY))
        with sessions() as session:
            pending = session.scalar(select(func.count()).select_from(Disclosure)) or 0
        if args.database == "postgresql":
            # What autovacuum does after a large import: statistics for the planner.
            with engine.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()

        started = time.perf_counter()
        sealed = seal(
            sessions,
            keys,
            IdentityKeys.from_store(keys),
            load_file(DEFAULT_POLICY),
            max_records=args.max_records,
            workers=args.workers,
        )
        seal_s = time.perf_counter() - started
        records = sum(batch.record_count for batch in sealed)

        jwks = keys.public_jwks()
        cipher = keys.identity_cipher()
        verified = 0
        verify_s = 0.0
        with sessions() as session:
            for fund in funds:
                previous = None
                batches = session.scalars(
                    select(Batch).where(Batch.fund_id == fund.id).order_by(Batch.seq)
                )
                for batch in batches:
                    content = open_content(cipher, batch)
                    started = time.perf_counter()
                    result = verify_batch(
                        content,
                        jwks=jwks,
                        fund_id=fund.id,
                        expected_seq=batch.seq,
                        previous_digest=previous,
                    )
                    verify_s += time.perf_counter() - started
                    previous = result.digest
                    verified += len(result.records)
        engine.dispose()

    print(
        json.dumps(
            {
                "database": args.database,
                "funds": args.funds,
                "pending_disclosures": pending,
                "records_sealed": records,
                "batches": len(sealed),
                "max_records_per_batch": args.max_records,
                "workers": args.workers,
                "seal_100k_seconds": round(seal_s * 100_000 / max(records, 1), 2),
                "seal_seconds": round(seal_s, 2),
                "seal_records_per_s": round(records / seal_s, 1),
                "fund_verified_records": verified,
                "fund_verify_records_per_s": round(verified / verify_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
