"""Appending many rows at once: binary COPY on PostgreSQL, executemany elsewhere.

The import and other hot paths write thousands of rows a second; a statement per row
(even pipelined) spends its time in round trips. ``COPY ... FROM STDIN`` sends them in
one stream, inside the caller's transaction; the binary format saves parsing on both
sides, each column dumped by the one dumper its declared type names. JSON values are
written by pydantic's serialiser, several times faster than the standard library's for
the short lists and objects these rows hold (PostgreSQL parses them into ``jsonb``
whatever their spacing).
"""

from __future__ import annotations

from functools import cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from psycopg.types.json import set_json_dumps
from pydantic_core import to_json
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    any_,
    bindparam,
    func,
    insert,
)
from sqlalchemy.dialects import postgresql

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator

    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session

# Most specific first: BigInteger and SmallInteger are Integers, Text is a String.
_COPY_TYPES: tuple[tuple[type, str], ...] = (
    (JSON, "jsonb"),
    (BigInteger, "int8"),
    (SmallInteger, "int2"),
    (Integer, "int4"),
    (Boolean, "bool"),
    (DateTime, "timestamptz"),
    (Date, "date"),
    (LargeBinary, "bytea"),
    (Text, "text"),
    (String, "text"),
)


@cache
def _copy_types(table: Table, names: tuple[str, ...]) -> list[str]:
    found = []
    for name in names:
        column_type = table.c[name].type
        implementation = getattr(column_type, "impl", column_type)  # TypeDecorator
        found.append(next(pg for kind, pg in _COPY_TYPES if isinstance(implementation, kind)))
    return found


def insert_rows(session: Session, model: type[DeclarativeBase], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (column name → value, the same names in every row) into ``model``."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(model), rows)
        return
    table: Table = model.__table__  # type: ignore[assignment]
    names = tuple(rows[0])
    columns = ", ".join(f'"{name}"' for name in names)
    connection = session.connection().connection.driver_connection
    assert connection is not None  # noqa: S101 - a live connection inside a transaction
    with connection.cursor() as cursor:
        set_json_dumps(to_json, context=cursor)
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types(_copy_types(table, names))
            if len(names) == 1:  # itemgetter of one name gives the value, not a tuple
                for row in rows:
                    copy.write_row((row[names[0]],))
                return
            values = itemgetter(*names)
            for row in rows:
                copy.write_row(values(row))


def one_of(
    session: Session,
    column: QueryableAttribute[str] | QueryableAttribute[str | None],
    values: Collection[str],
) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``: one parameter, not thousands.

    Thousands of placeholders cost more to build, send and plan than the rows they find.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(String)))
    return column.in_(list(values))


AMONG_CHUNK = 10_000  # values per list on SQLite, under its 32,766 bound parameters


def values_array(name: str | None, values: list[str] | None = None) -> Any:
    """An array of texts as one parameter (PostgreSQL).

    Named, to be given at execution; or anonymous, with its ``values``.
    """
    return bindparam(name, values, type_=postgresql.ARRAY(String))


def joined_to_array(statement: Any, column: Any, array: Any) -> Any:
    """``statement`` joined on ``column`` to the values of ``array`` as a set (PostgreSQL).

    ``JOIN unnest(...)``: the planner probes the index once per value.
    """
    wanted = func.unnest(array).table_valued("value").render_derived(name="wanted")
    return statement.join(wanted, column == wanted.c.value)


def among(
    session: Session,
    statement: Any,  # a Select of any columns
    column: QueryableAttribute[Any],
    values: Collection[str],
) -> Iterator[Any]:
    """``statement`` for the rows whose ``column`` is among ``values``, for thousands of values.

    On PostgreSQL one statement, the values one array parameter joined as a set
    (``JOIN unnest(:values)``): the planner then knows how many there are and probes the
    index for each, where ``= ANY(array)`` of thousands of values is estimated as a large
    share of the table and scanned whole. Elsewhere one statement per chunk of values.
    """
    if session.get_bind().dialect.name == "postgresql":
        yield joined_to_array(statement, column, values_array(None, list(values)))
        return
    ordered = sorted(values)
    for start in range(0, len(ordered), AMONG_CHUNK):
        yield statement.where(column.in_(ordered[start : start + AMONG_CHUNK]))
