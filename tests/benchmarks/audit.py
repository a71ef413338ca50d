"""Benchmark: audit events appended to the Merkle log per second, and proof latency at scale.

On a PostgreSQL database it creates and drops (``--database sqlite`` for a file):

1. writes ``--appends`` audit events (queued, as requests write them), then times the
   sequencer appending them to the log: canonical bytes, leaf hashes, stored subtrees;
2. grows the stored tree to ``--tree`` leaves (10 million by default) with synthetic
   leaf hashes written straight into the leaf and node tables (what the sequencer would
   have stored; the proof path does not depend on what the leaves hash), then times
   ``--proofs`` inclusion proofs at random indexes against the full tree, each checked.

The last line printed is one JSON object.

    python -m tests.benchmarks.audit [--appends 100000] [--tree 10000000] [--proofs 200]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import time

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from audit import merkle, tree
from audit.actions import AuditAction
from gateway.auditlog import repository as audit_log_repository
from gateway.auditlog import service as audit_log
from gateway.auditlog.models import AuditLogLeaf, AuditLogNode, AuditLogState
from gateway.auditlog.writer import AuditDraft, append_rows, as_row
from gateway.storage.bulk import insert_rows
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.benchmarks.common import benchmark_database

CHUNK = 200_000


def write_events(sessions: sessionmaker[Session], count: int) -> None:
    for start in range(0, count, 10_000):
        rows = [
            as_row(
                AuditDraft(
                    action=AuditAction.DECISION_READ,
                    participant_id="pref-75",
                    participant_kind="prefecture",
                    acting_for="pref-75",
                    purpose="decision-transmission",
                    object_ids=[f"decision-{n}"],
                    subject_pseudonyms=[f"agdref:{n:032x}"],
                    detail={"status": 200, "n": n},
                )
            )
            for n in range(start, min(start + 10_000, count))
        ]
        with sessions.begin() as session:
            append_rows(session, rows)


def grow_tree(sessions: sessionmaker[Session], target: int) -> None:
    """Synthetic leaves up to ``target``, with every subtree hash the sequencer would store."""
    with sessions() as session:
        size = audit_log.size_and_root(session)[0]
        frontier = audit_log_repository.stored_nodes(session, tree.frontier_nodes(size))
    while size < target:
        count = min(CHUNK, target - size)
        hashes = [hashlib.sha256(n.to_bytes(8, "big")).digest() for n in range(size, size + count)]
        made = tree.appended_nodes(size, hashes, frontier)
        with sessions.begin() as session:
            insert_rows(
                session,
                AuditLogLeaf,
                [
                    {"index": size + n, "event_id": f"synthetic-{size + n}", "leaf_hash": h}
                    for n, h in enumerate(hashes)
                ],
            )
            insert_rows(
                session,
                AuditLogNode,
                [{"level": lv, "index": ix, "hash": h} for (lv, ix), h in made.items()],
            )
            session.get_one(AuditLogState, 1).size = size + count
        size += count
        known = {**frontier, **made}
        frontier = {c: known[c] for c in tree.frontier_nodes(size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=100_000)
    parser.add_argument("--tree", type=int, default=10_000_000)
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()

    with benchmark_database(args.database) as (url, _):
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        write_events(sessions, args.appends)
        started = time.perf_counter()
        appended = 0
        while True:
            with sessions.begin() as session:
                done = audit_log.sequence(session)
            if not done:
                break
            appended += done
        append_s = time.perf_counter() - started

        grow_tree(sessions, args.tree)
        if args.database == "postgresql":
            with engine.connect() as connection:
                connection.execute(text("ANALYZE audit_log_nodes"))
                connection.commit()
        rng = random.Random(7)  # noqa: S311 - benchmark indexes
        latencies = []
        with sessions() as session:
            size, root = audit_log.size_and_root(session)
            for _ in range(args.proofs):
                index = rng.randrange(size)
                started = time.perf_counter()
                leaf, proof = audit_log.inclusion_proof(session, index, size)
                latencies.append((time.perf_counter() - started) * 1000)
                if not merkle.verify_inclusion(leaf, index, size, proof, root):
                    raise SystemExit(f"proof {index} does not verify")
        engine.dispose()

    print(
        json.dumps(
            {
                "database": args.database,
                "appended": appended,
                "appends_per_s": round(appended / append_s, 1),
                "tree_size": size,
                "inclusion_proof_ms_at_10m": round(statistics.median(latencies), 2),
                "inclusion_proof_p99_ms": round(statistics.quantiles(latencies, n=100)[98], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
