"""Benchmark: audit events appended to the Merkle log per second, and proof latency at scale.

On a PostgreSQL database it creates and drops (``--database sqlite`` for a file):

1. writes ``--appends`` audit events (queued, as requests write them), then times the
   sequencer appending them to the log: canonical bytes, leaf hashes, stored subtrees;
   on PostgreSQL, in the same run, the floor: a bare append of the same events (one
   psycopg query reading them from a copy of the queue, RFC 8785 bytes, leaf hashes,
   the subtrees they complete, COPY into copies of the leaf and node tables, the queue
   copy emptied, committed durably, chunk by chunk as the sequencer does), and the ratio;
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
from typing import Any

import psycopg
import rfc8785
from sqlalchemy import make_url, text
from sqlalchemy.orm import Session, sessionmaker

from audit import merkle, tree
from audit.actions import AuditAction
from audit.events import EVENT_FIELDS
from gateway.auditlog import repository as audit_log_repository
from gateway.auditlog import service as audit_log
from gateway.auditlog.models import AuditLogLeaf, AuditLogNode, AuditLogState
from gateway.auditlog.writer import AuditDraft, append_rows, as_row
from gateway.storage.bulk import insert_rows
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.benchmarks.common import benchmark_database

CHUNK = 200_000
SEQUENCED_AT_ONCE = 20_000  # the sequencer's default limit, for the floor's chunks


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


_FLOOR_SETUP = (
    "CREATE TABLE floor_queue AS SELECT event_id FROM audit_log_queue",
    "ALTER TABLE floor_queue ADD PRIMARY KEY (event_id)",
    "CREATE TABLE floor_leaves (LIKE audit_log_leaves INCLUDING ALL)",
    "CREATE TABLE floor_nodes (LIKE audit_log_nodes INCLUDING ALL)",
)
_JSON_FIELDS = ("object_ids", "subject_pseudonyms", "detail")
_FLOOR_READ = (
    "SELECT "  # noqa: S608 - column names of the module's own constants
    + ", ".join(f"e.{name}::text" if name in _JSON_FIELDS else f"e.{name}" for name in EVENT_FIELDS)
    + " FROM audit_events e JOIN floor_queue q ON q.event_id = e.event_id ORDER BY e.id LIMIT %s"
)


class _Float(Exception):
    pass


def _refuse_float(text: str) -> Any:
    raise _Float(text)


_DECODER = json.JSONDecoder(parse_float=_refuse_float)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _floor_bytes(row: tuple[Any, ...]) -> bytes:
    """RFC 8785 bytes of a row: the standard encoder unless a float or a non-ASCII key."""
    document = dict(zip(EVENT_FIELDS, row, strict=True))
    document["occurred_at"] = document["occurred_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    try:
        if not all(document[name].isascii() for name in _JSON_FIELDS):
            raise _Float  # noqa: TRY301 - a non-ASCII key needs UTF-16 ordering: the library
        for name in _JSON_FIELDS:
            document[name] = _DECODER.decode(document[name])
    except _Float:
        for name in _JSON_FIELDS:
            if isinstance(document[name], str):
                document[name] = json.loads(document[name])
        return rfc8785.dumps(document)
    return _ENCODER.encode(document).encode()


def _floor_connection(url: str) -> psycopg.Connection[Any]:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(conninfo)


def floor_setup(url: str) -> None:
    """Copies of the queue (as it is now) and of the log's empty tables, for the floor."""
    with _floor_connection(url) as connection:
        for statement in _FLOOR_SETUP:
            connection.execute(statement)


def floor_append(url: str) -> tuple[int, float]:
    """The bare append of the queue's copy into the tables' copies: (events, seconds)."""
    with _floor_connection(url) as connection:
        connection.execute("SET TIME ZONE 'UTC'")
        connection.commit()
        size = 0
        frontier: dict[tuple[int, int], bytes] = {}
        started = time.perf_counter()
        while rows := connection.execute(_FLOOR_READ, (SEQUENCED_AT_ONCE,)).fetchall():
            leaves = [hashlib.sha256(b"\x00" + _floor_bytes(row)).digest() for row in rows]
            nodes = []
            for offset, leaf in enumerate(leaves):
                index, level, current = size + offset, 0, leaf
                nodes.append((0, index, current))
                while index & 1:
                    current = hashlib.sha256(
                        b"\x01" + frontier[(level, index - 1)] + current
                    ).digest()
                    level, index = level + 1, index >> 1
                    nodes.append((level, index, current))
                frontier[(level, index)] = current
            with connection.cursor() as cursor:
                with cursor.copy("COPY floor_leaves FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["int8", "text", "bytea"])
                    for offset, (row, leaf) in enumerate(zip(rows, leaves, strict=True)):
                        copy.write_row((size + offset, row[0], leaf))
                with cursor.copy("COPY floor_nodes FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["int2", "int8", "bytea"])
                    for node in nodes:
                        copy.write_row(node)
                cursor.execute(
                    "DELETE FROM floor_queue WHERE event_id = ANY(%s)", ([row[0] for row in rows],)
                )
            connection.commit()
            size += len(rows)
        elapsed = time.perf_counter() - started
        same = connection.execute(
            "SELECT count(*) FROM floor_leaves f JOIN audit_log_leaves l"
            " ON l.index = f.index AND l.leaf_hash = f.leaf_hash"
        ).fetchone()
        if same is None or same[0] != size:
            raise SystemExit("the floor's leaves are not the sequencer's")
        return size, elapsed


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
        if args.database == "postgresql":
            floor_setup(url)
        started = time.perf_counter()
        appended = 0
        while True:
            with sessions.begin() as session:
                done = audit_log.sequence(session)
            if not done:
                break
            appended += done
        append_s = time.perf_counter() - started
        floor = floor_append(url) if args.database == "postgresql" else None

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
                "floor_appends_per_s": round(floor[0] / floor[1], 1) if floor else None,
                "appends_over_floor": round(floor[1] / append_s * appended / floor[0], 3)
                if floor
                else None,
                "tree_size": size,
                "inclusion_proof_ms_at_10m": round(statistics.median(latencies), 2),
                "inclusion_proof_p99_ms": round(statistics.quantiles(latencies, n=100)[98], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
