"""Appending many rows at once: COPY on PostgreSQL, executemany elsewhere.

The import and other hot paths write thousands of rows a second; a statement per row
(even pipelined) spends its time in round trips. ``COPY ... FROM STDIN`` sends them in
one stream, inside the caller's transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb
from sqlalchemy import JSON, insert

if TYPE_CHECKING:
    from sqlalchemy.orm import DeclarativeBase, Session


def insert_rows(session: Session, model: type[DeclarativeBase], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (column name → value, the same names in every row) into ``model``."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(model), rows)
        return
    table = model.__table__
    names = list(rows[0])
    json_columns = {name for name in names if isinstance(table.c[name].type, JSON)}
    columns = ", ".join(f'"{name}"' for name in names)
    connection = session.connection().connection.driver_connection
    assert connection is not None  # noqa: S101 - a live connection inside a transaction
    with (
        connection.cursor() as cursor,
        cursor.copy(
            f'COPY "{table.name}" ({columns}) FROM STDIN'  # type: ignore[attr-defined]
        ) as copy,
    ):
        for row in rows:
            copy.write_row(
                [Jsonb(row[name]) if name in json_columns else row[name] for name in names]
            )
