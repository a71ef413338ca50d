"""Benchmark: sealing pending disclosures into signed batches, and verifying them fund-side.

Creates a PostgreSQL database (``--database sqlite`` for a SQLite file), registers
``--funds`` funds covering one département and a prefecture, imports decisions through
``gateway serve`` until ``--disclosures`` disclosures are pending (each decision is owed
to every fund), then times ``gateway.batches.sealing.seal`` in this process: projection,
decryption of each identity, canonical JSON, Merkle roots and signatures included. Then
every fund's batches are verified as a fund does (``connectors.fund.verify_batch``:
signature, seq, chain, Merkle root) and timed. On PostgreSQL, in the same run, the floor
seals the same records (a copy of the disclosures taken before sealing): bare psycopg, as
many threads, for each fund and batch one query for the records (locked), one for the
identities not yet opened, each decrypted once, projected to the fund's profile fields,
RFC 8785 bytes, the Merkle root, one signature per batch, the batch encrypted at rest
and inserted, its records marked sealed, committed. Its Merkle roots must equal the
gateway's, batch for batch. The last line printed is one JSON object, with the ratio.

    python -m tests.benchmarks.sealing [--disclosures 100000] [--funds 20]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey
from sqlalchemy import func, make_url, select, text

from audit.merkle import root
from connectors import wire
from connectors.client import GatewayClient
from connectors.fund import verify_batch
from gateway.batches.models import Batch
from gateway.batches.sealing import seal
from gateway.batches.storage import open_content
from gateway.disclosures.models import Disclosure
from gateway.identities.crypto import IdentityCryptoError, Sealed
from gateway.identities.service import IdentityKeys
from gateway.imports.runner import run_pending_imports
from gateway.keys import GatewayKeys, KeyUse
from gateway.participants.models import ParticipantKind, Regime
from gateway.participants.schemas import ParticipantSpec
from gateway.storage.base import utcnow
from gateway.storage.engine import make_engine, make_sessionmaker
from policies.evaluate import BROAD_KINDS
from policies.loader import DEFAULT_POLICY, LoadedPolicy, load_file
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


_FLOOR_SETUP = (
    "CREATE TABLE floor_disclosures (LIKE disclosures INCLUDING ALL)",
    "INSERT INTO floor_disclosures SELECT * FROM disclosures",
    "CREATE TABLE floor_batches (LIKE batches INCLUDING ALL)",
    "ANALYZE floor_disclosures",
)
_FLOOR_PENDING = (
    "SELECT d.id, d.decision_id, d.version, d.priority_class, d.profile, d.correction,"
    " c.reference, c.kind, v.status, v.decision_date, v.notification_date, v.effect_date,"
    " v.permit_expiry, v.identity_id FROM floor_disclosures d"
    " JOIN decisions c ON c.id = d.decision_id"
    " JOIN decision_versions v ON v.decision_id = d.decision_id AND v.version = d.version"
    " WHERE d.fund_id = %s AND d.state = 'pending'"
    " ORDER BY d.priority_rank, d.created_at, d.id LIMIT %s FOR UPDATE OF d"
)
_FLOOR_IDENTITIES = (
    "SELECT i.id, i.ciphertext, i.nonce, i.wrapped_key, i.kek_id FROM identities i"
    " JOIN unnest(%s::text[]) AS wanted(id) ON wanted.id = i.id"
)
_FLOOR_BATCH = (
    "INSERT INTO floor_batches (id, fund_id, seq, digest, previous_digest, express,"
    " record_count, merkle_root, policy_version, kid, encrypted, content, content_nonce,"
    " content_key, content_kek_id, state, created_at) VALUES"
    " (%s, %s, %s, %s, %s, false, %s, %s, %s, %s, false, %s, %s, %s, %s, 'sealed', %s)"
)
_FLOOR_MARK = (
    "UPDATE floor_disclosures d SET state = 'sealed', batch_id = %s, updated_at = %s"
    " FROM unnest(%s::text[]) AS sealed(id) WHERE d.id = sealed.id AND d.state = 'pending'"
)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _dates(*values: Any) -> dict[str, str | None]:
    names = ("decision_date", "notification_date", "effect_date", "permit_expiry")
    return {name: v.isoformat() if v else None for name, v in zip(names, values, strict=True)}


class Floor:
    """Sealing's promises kept bare, on copies of the disclosures and batches tables."""

    def __init__(self, url: str, keys: GatewayKeys, loaded: LoadedPolicy) -> None:
        self.conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self.cipher = keys.identity_cipher()
        self.kid, self.key = keys.active(KeyUse.BATCH)[0].kid, keys.active(KeyUse.BATCH)[1]
        self.version = loaded.version
        self.profiles: dict[str, list[str]] = {
            name: list(fields) for name, fields in loaded.policy.profiles.items()
        }
        self.routes: dict[str, str] = {
            str(regime): route.profile for regime, route in loaded.policy.routing.regimes.items()
        }
        self.identities: dict[str, dict[str, Any] | None] = {}
        self.data: dict[tuple[Any, ...], bytes] = {}

    def setup(self) -> None:
        with psycopg.connect(self.conninfo) as connection:
            for statement in _FLOOR_SETUP:
                connection.execute(statement)

    def identity(self, row: tuple[Any, ...]) -> dict[str, Any] | None:
        identity_id, ciphertext, nonce, wrapped_key, kek_id = row
        sealed = Sealed(ciphertext, nonce, wrapped_key, kek_id)
        try:
            found: dict[str, Any] = json.loads(self.cipher.decrypt(sealed, identity_id.encode()))
        except IdentityCryptoError:
            return None
        return dict(found.get("identity", {}))

    def record(self, row: tuple[Any, ...], fields: list[str]) -> bytes:
        record_id, decision_id, version, priority_class, _, correction, reference, kind = row[:8]
        if correction:
            raise SystemExit("the floor seals decisions, not rectifications")
        key = (decision_id, version, priority_class, id(fields))
        data = self.data.get(key)
        if data is None:  # once per decision and profile, not once per fund
            values = {
                **(self.identities[row[13]] or {}),
                "kind_class": BROAD_KINDS.get(kind),
                "reference": reference,
                **_dates(*row[9:13]),
                "priority_class": priority_class,
            }
            fields_data = {name: values[name] for name in fields if values.get(name) is not None}
            data = self.data[key] = _ENCODER.encode(fields_data).encode()
        rest = {
            "decision_id": decision_id,
            "record_id": record_id,
            "status": row[8],
            "type": wire.DECISION_RECORD,
            "version": version,
        }
        return b'{"data":' + data + b"," + _ENCODER.encode(rest).encode()[1:]

    def batch(
        self,
        connection: psycopg.Connection[Any],
        fund: ParticipantSpec,
        seq: int,
        previous: str | None,
        limit: int,
    ) -> tuple[int, str | None]:
        """The fund's next batch, committed: (records, digest)."""
        rows = connection.execute(_FLOOR_PENDING, (fund.id, limit)).fetchall()
        if not rows:
            return 0, previous
        unknown = list({row[13] for row in rows} - self.identities.keys())
        for sealed in connection.execute(_FLOOR_IDENTITIES, (unknown,)):
            self.identities[sealed[0]] = self.identity(sealed)
        profile = self.routes.get(str(fund.regime))
        fund_fields = self.profiles[profile] if profile is not None else []
        records = [self.record(row, self.profiles.get(row[4], fund_fields)) for row in rows]
        batch_id, now = str(uuid.uuid4()), utcnow()
        merkle_root = root(records).hex()
        header = _ENCODER.encode(
            {
                "batch_id": batch_id,
                "created_at": wire.timestamp(now),
                "express": False,
                "fund_id": fund.id,
                "merkle_root": merkle_root,
                "policy_version": self.version,
                "previous_digest": previous,
                "record_count": len(records),
            }
        ).encode()
        payload = b"".join(
            (header[:-1], b',"records":[', b",".join(records), f'],"seq":{seq}}}'.encode())
        )
        jws_header = {"alg": wire.BATCH_SIGNING_ALG, "kid": self.kid, "typ": wire.BATCH_TYPE}
        content = jws.serialize_compact(
            jws_header, payload, self.key, algorithms=[wire.BATCH_SIGNING_ALG]
        ).encode()
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        at_rest = self.cipher.encrypt(content, batch_id.encode())
        connection.execute(
            _FLOOR_BATCH,
            (
                batch_id,
                fund.id,
                seq,
                digest,
                previous,
                len(records),
                merkle_root,
                self.version,
                self.kid,
                at_rest.ciphertext,
                at_rest.nonce,
                at_rest.wrapped_key,
                at_rest.kek_id,
                now,
            ),
        )
        marked = connection.execute(_FLOOR_MARK, (batch_id, now, [row[0] for row in rows]))
        if marked.rowcount != len(rows):
            raise SystemExit("the floor's records changed meanwhile")
        connection.commit()
        return len(rows), digest

    def fund(self, fund: ParticipantSpec, limit: int) -> int:
        sealed, seq, previous = 0, 1, None
        with psycopg.connect(self.conninfo) as connection, warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            while True:
                count, previous = self.batch(connection, fund, seq, previous, limit)
                if not count:
                    return sealed
                sealed, seq = sealed + count, seq + 1

    def run(self, funds: list[ParticipantSpec], limit: int, workers: int) -> tuple[int, float]:
        """Every fund's records sealed: (records, seconds); the roots must be the gateway's."""
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            sealed = sum(pool.map(lambda fund: self.fund(fund, limit), funds))
        elapsed = time.perf_counter() - started
        with psycopg.connect(self.conninfo) as connection:
            same = connection.execute(
                "SELECT count(*), (SELECT count(*) FROM batches) FROM floor_batches f"
                " JOIN batches b ON b.fund_id = f.fund_id AND b.seq = f.seq"
                " AND b.merkle_root = f.merkle_root"
            ).fetchone()
        if same is None or same[0] != same[1]:
            raise SystemExit(f"the floor's batches are not the gateway's: {same}")
        return sealed, elapsed


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

        loaded = load_file(DEFAULT_POLICY)
        floor = Floor(url, keys, loaded) if args.database == "postgresql" else None
        if floor is not None:
            floor.setup()
        started = time.perf_counter()
        sealed = seal(
            sessions,
            keys,
            IdentityKeys.from_store(keys),
            loaded,
            max_records=args.max_records,
            workers=args.workers,
        )
        seal_s = time.perf_counter() - started
        records = sum(batch.record_count for batch in sealed)
        floor_records, floor_s = (
            floor.run(funds, args.max_records, args.workers) if floor else (0, 0.0)
        )

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
                "floor_seal_seconds": round(floor_s, 2) if floor else None,
                "floor_records_per_s": round(floor_records / floor_s, 1) if floor else None,
                "seal_over_floor": round(floor_s / seal_s * records / floor_records, 3)
                if floor
                else None,
                "fund_verified_records": verified,
                "fund_verify_records_per_s": round(verified / verify_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
