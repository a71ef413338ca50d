"""The streamed readers of backlog files: what they read never depends on where the
chunks of the upload happen to break, and no input makes them raise (but a CSV header
that cannot be used)."""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import importers
from connectors.importers import (
    CSV_COLUMNS,
    MAX_LINE_BYTES,
    ImportFileError,
    LineError,
    RawRecord,
    csv_document,
    physical_lines,
    read_csv,
    read_ndjson,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    Reader = Callable[[Iterator[bytes]], Iterator[RawRecord]]

BOM = b"\xef\xbb\xbf"
SMALL_LIMIT = 8  # a line limit small enough for generated data to cross it


# -- strategies -----------------------------------------------------------------------

# Bytes that make line splitting interesting: ends of line, carriage returns, blanks,
# a BOM's bytes and bytes that are not UTF-8.
line_bytes = st.lists(
    st.sampled_from([b"\n", b"\r\n", b"\r", b" ", b"a", b"\xc3\xa9", b"\xff", BOM, BOM[:1]]),
    max_size=60,
).map(b"".join)


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at random places, empty chunks included."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def chunked(data: bytes) -> st.SearchStrategy[list[bytes]]:
    return chunkings(data)


def once(chunks: list[bytes]) -> Iterator[bytes]:
    """Chunks as an upload gives them: an iterator that can be read only once."""
    yield from chunks


def expected_lines(data: bytes, limit: int = MAX_LINE_BYTES) -> list[tuple[int, bytes]]:
    """The lines of ``data``, numbered, by a plain split; over-long ones as a marker."""
    *complete, last = data.split(b"\n")
    lines = [(n, line.removesuffix(b"\r")) for n, line in enumerate(complete, start=1)]
    if last.strip() or len(last.removesuffix(b"\r")) > limit:
        lines.append((len(complete) + 1, last.removesuffix(b"\r")))
    return [(n, b"<too long>" if len(line) > limit else line) for n, line in lines]


def marked(lines: Iterator[tuple[int, bytes]], limit: int) -> list[tuple[int, bytes]]:
    """Over-long lines as a marker: the reader may yield only their beginning."""
    return [(n, b"<too long>" if len(line) > limit else line) for n, line in lines]


# -- physical lines -------------------------------------------------------------------


@given(st.data(), line_bytes)
def test_lines_do_not_depend_on_where_the_chunks_break(data: st.DataObject, raw: bytes) -> None:
    chunks = data.draw(chunked(raw))
    whole = list(physical_lines([raw]))
    assert list(physical_lines(once(chunks))) == whole
    assert list(physical_lines(chunks)) == whole  # a list, iterable more than once
    assert whole == expected_lines(raw)


@given(st.data(), line_bytes)
def test_over_long_lines_are_cut_the_same_way_whatever_the_chunks(
    data: st.DataObject, raw: bytes
) -> None:
    chunks = data.draw(chunked(raw))
    with mock.patch.object(importers, "MAX_LINE_BYTES", SMALL_LIMIT):
        whole = marked(physical_lines([raw]), SMALL_LIMIT)
        assert marked(physical_lines(once(chunks)), SMALL_LIMIT) == whole
        assert marked(physical_lines(chunks), SMALL_LIMIT) == whole
    assert whole == expected_lines(raw, SMALL_LIMIT)


def test_a_line_over_the_limit_is_yielded_once_and_reading_goes_on() -> None:
    long_line = b"x" * (MAX_LINE_BYTES + 5000)
    data = b"a\r\nbb\n" + long_line + b"\r\ncc\ndd"
    for size in (1000, 4096, 65536, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        for source in (chunks, once(chunks)):
            lines = list(physical_lines(source))
            assert [n for n, _ in lines] == [1, 2, 3, 4, 5]
            assert [line for _, line in lines[:2]] == [b"a", b"bb"]
            assert len(lines[2][1]) > MAX_LINE_BYTES
            assert [line for _, line in lines[3:]] == [b"cc", b"dd"]


def test_a_line_of_exactly_the_limit_is_not_too_long_whatever_the_chunks() -> None:
    line = b"y" * MAX_LINE_BYTES
    data = line + b"\r\nz\n"
    for cut in range(MAX_LINE_BYTES - 1, MAX_LINE_BYTES + 3):
        assert list(physical_lines([data[:cut], data[cut:]])) == [(1, line), (2, b"z")]


# -- NDJSON ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
ndjson_lines = st.lists(
    st.one_of(
        st.dictionaries(st.sampled_from(["reference", "kind", "x"]), json_values, max_size=3),
        json_values,
        line_bytes,
        st.just(b""),
        st.just(b"{"),
    ),
    max_size=8,
)


def as_ndjson(items: list[Any], *, bom: bool, crlf: bool) -> bytes:
    end = b"\r\n" if crlf else b"\n"
    encoded = [item if isinstance(item, bytes) else json.dumps(item).encode() for item in items]
    return (BOM if bom else b"") + b"".join(line + end for line in encoded)


@settings(max_examples=150)
@given(st.data(), ndjson_lines, st.booleans(), st.booleans())
def test_ndjson_records_do_not_depend_on_the_chunks_and_carry_their_line(
    data: st.DataObject, items: list[Any], bom: bool, crlf: bool
) -> None:
    items = [item.replace(b"\n", b"") if isinstance(item, bytes) else item for item in items]
    content = as_ndjson(items, bom=bom, crlf=crlf)
    whole = list(read_ndjson([content]))
    assert list(read_ndjson(once(data.draw(chunked(content))))) == whole
    assert list(read_ndjson(data.draw(chunked(content)))) == whole

    by_line = {record.line: record for record in whole}
    for number, item in enumerate(items, start=1):
        record = by_line.pop(number, None)
        if isinstance(item, bytes):
            if not item.strip():
                assert record is None  # blank lines are skipped, but counted
            continue
        assert record is not None
        if isinstance(item, dict):
            assert record.document == item
            assert record.errors == []
            reference = item.get("reference")
            assert record.reference == (reference if isinstance(reference, str) else None)
        elif not isinstance(item, bytes):
            assert record.document is None
            assert record.errors == [LineError("line", "json", "not a JSON object")]
    assert by_line == {}


@given(st.data(), st.binary(max_size=300))
def test_ndjson_never_raises_on_arbitrary_bytes(data: st.DataObject, raw: bytes) -> None:
    records = list(read_ndjson(once(data.draw(chunked(raw)))))
    assert records == list(read_ndjson([raw]))
    numbers = [record.line for record in records]
    assert numbers == sorted(set(numbers))
    assert all(1 <= n <= raw.count(b"\n") + 1 for n in numbers)
    for record in records:
        assert (record.document is None) == bool(record.errors)
        assert all(error.field == "line" for error in record.errors)


def test_ndjson_reports_each_malformation_on_its_line() -> None:
    content = b"".join(
        [
            BOM + b'{"reference": "R-1"}\n',
            b"\n",
            b'{"reference": "R-3", \n',
            b"\xff\xfe{}\r\n",
            b"[1, 2]\n",
            b"[" * 5000 + b"\n",
            b"x" * (MAX_LINE_BYTES + 1) + b"\n",
            b'{"reference": 7}\n',
            b'  {"reference": "R-9", "kind": "oqtf"}  \r\n',
            b'{"reference": "R-10"',  # the last line, cut off
        ]
    )
    records = list(read_ndjson([content]))
    assert [(r.line, [e.rule for e in r.errors]) for r in records] == [
        (1, []),
        (3, ["json"]),
        (4, ["encoding"]),
        (5, ["json"]),
        (6, ["json"]),
        (7, ["too-long"]),
        (8, []),
        (9, []),
        (10, ["json"]),
    ]
    assert records[0] == RawRecord(1, {"reference": "R-1"}, [], "R-1")
    assert records[2].errors[0].message == "not UTF-8 (byte 1 of the line)"
    assert records[6] == RawRecord(8, {"reference": 7}, [], None)
    assert records[7].document == {"reference": "R-9", "kind": "oqtf"}


# -- CSV ------------------------------------------------------------------------------

HEADER = b"reference;kind;decision_date;birth_name;first_names\n"
csv_cells = st.text(
    alphabet=st.sampled_from(["a", "é", ";", ",", '"', " ", "\n", "\r", "|", "'"]), max_size=6
)


def as_csv(rows: list[list[str]], *, delimiter: str = ";", crlf: bool = False) -> bytes:
    def quoted(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"'

    end = "\r\n" if crlf else "\n"
    lines = [delimiter.join(quoted(cell) for cell in row) for row in rows]
    return "".join(line + end for line in lines).encode()


@settings(max_examples=150)
@given(
    st.data(),
    st.lists(st.lists(csv_cells, min_size=5, max_size=5), max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_csv_records_do_not_depend_on_the_chunks_and_carry_their_line(
    data: st.DataObject, rows: list[list[str]], bom: bool, crlf: bool
) -> None:
    content = (BOM if bom else b"") + HEADER + as_csv(rows, crlf=crlf)
    whole = list(read_csv([content]))
    assert list(read_csv(once(data.draw(chunked(content))))) == whole
    assert list(read_csv(data.draw(chunked(content)))) == whole

    # Each record starts on the line after the previous one's last (quoted cells may
    # hold ends of line); blank records are skipped.
    line = 2
    expected = []
    for row in rows:
        # An end of line is a physical line's: CRLF inside a quoted cell is read as LF.
        cells = [cell.replace("\r\n", "\n") for cell in row]
        if any(cell.strip() for cell in cells):
            expected.append((line, cells[0].strip() or None, cells[3].strip() or None))
        line += sum(cell.count("\n") for cell in row) + 1
    got = [
        (
            record.line,
            record.document and record.document["reference"],
            record.document and record.document["identity"].get("birth_name"),
        )
        for record in whole
    ]
    assert got == expected
    assert all(record.errors == [] for record in whole)


@settings(max_examples=150)
@given(st.data(), st.binary(max_size=300), st.sampled_from([b",", b";"]))
def test_csv_never_raises_on_arbitrary_bytes_after_a_valid_header(
    data: st.DataObject, raw: bytes, delimiter: bytes
) -> None:
    content = HEADER.replace(b";", delimiter) + raw
    records = list(read_csv(once(data.draw(chunked(content)))))
    assert records == list(read_csv([content]))
    numbers = [record.line for record in records]
    assert all(2 <= n <= content.count(b"\n") + 1 for n in numbers)
    for record in records:
        assert (record.document is None) == bool(record.errors)
        assert all(error.field == "line" for error in record.errors)


@given(st.data(), st.binary(max_size=60))
def test_csv_headers_are_read_or_refused_as_a_whole(data: st.DataObject, raw: bytes) -> None:
    chunks = data.draw(chunked(raw + b"\nR-1;oqtf;2024-01-01\n"))
    message = None
    try:
        list(read_csv(once(chunks)))
    except ImportFileError as error:
        message = str(error)
    if message is not None:
        # The message is stored: text PostgreSQL takes, without surrogates or NUL.
        assert message.encode("utf-8")
        assert "\x00" not in message


def test_csv_reports_each_malformation_on_its_line() -> None:
    content = b"".join(
        [
            BOM + b"Reference , KIND,decision_date\r\n",
            b"R-2,oqtf,2024-01-01\r\n",
            b"\r\n",
            b",,\r\n",
            b"R-5,oqtf\r\n",
            b"R-6,oqtf,2024-01-01,extra\r\n",
            "R-7,oqtf,2024-01-01\r\n".replace("R", "Ré").encode("latin-1"),
            b'R-8,"multi\r\nline",2024-01-01\r\n',
            b"R-10," + b"x" * MAX_LINE_BYTES + b",2024-01-01\r\n",
            b'R-11,"oqtf""x,2024-01-01\r\n',
        ]
    )
    records = list(read_csv([content]))
    assert [(r.line, [e.rule for e in r.errors], r.reference) for r in records] == [
        (2, [], "R-2"),
        (5, ["columns"], None),
        (6, ["columns"], None),
        (7, ["encoding"], None),
        (8, [], "R-8"),
        (10, ["too-long"], None),
        (11, ["csv"], None),
    ]
    assert records[4].document is not None
    # A quoted end of line is read as the physical lines' ends are: CRLF as LF.
    assert records[4].document["kind"] == "multi\nline"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"reference,kind\n", "missing column(s) decision_date"),
        (b"reference;kind;decision_date;name\n", "unknown column(s) name"),
        (b"reference,kind,kind,decision_date\n", "a column appears twice"),
        ("référence,kind,decision_date\n".encode("latin-1"), "the header line is not UTF-8"),
        (b"reference," + b"x" * MAX_LINE_BYTES + b"\n", "the header line is longer"),
        (b"reference,kind,decision_date,a\x00b\n", "unknown column(s) 'a\\x00b'"),
    ],
)
def test_a_csv_header_that_cannot_be_used_stops_the_file(content: bytes, message: str) -> None:
    with pytest.raises(ImportFileError) as refused:
        list(read_csv([content]))
    assert message in str(refused.value)


# -- CSV columns onto a decision ------------------------------------------------------


def test_csv_document_maps_every_column() -> None:
    row = {
        "reference": " PP-1 ",
        "departement": "2A",
        "kind": "permit-withdrawal",
        "withdrawn_document": "aps",
        "removal_measures": "oqtf| irtf ||",
        "public_order": "OUI",
        "decision_date": "2024-01-02",
        "notification_date": "2024-01-03",
        "effect_date": "2024-01-04",
        "permit_category": "salarié",
        "permit_number": "7500000001",
        "permit_expiry_date": "2026-05-31",
        "legal_basis": "L. 432-4; L. 412-5",
        "agdref_number": "0512345678",
        "ssn_number": "2 95 10 99 126 111 93",
        "ssn_type": "nia",
        "birth_name": "N'Diaye",
        "usage_name": 'O"Brien',
        "first_names": "Ben; Ali|محمد | Мухаммед",
        "sex": "F",
        "birth_date": "1985-XX-XX",
        "place_of_birth": "99341",
        "nationality": "99341",
        "residence_departement": "75",
    }
    assert set(row) == set(CSV_COLUMNS)
    assert csv_document(row) == {
        "reference": "PP-1",
        "departement": "2A",
        "kind": "permit-withdrawal",
        "withdrawn_document": "aps",
        "removal_measures": ["oqtf", "irtf"],
        "public_order": True,
        "decision_date": "2024-01-02",
        "notification_date": "2024-01-03",
        "effect_date": "2024-01-04",
        "permit": {"category": "salarié", "number": "7500000001", "expiry_date": "2026-05-31"},
        "legal_basis": "L. 432-4; L. 412-5",
        "identity": {
            "agdref_number": "0512345678",
            "social_security_number": {"number": "2 95 10 99 126 111 93", "type": "nia"},
            "birth_name": "N'Diaye",
            "usage_name": 'O"Brien',
            "first_names": ["Ben; Ali", "محمد", "Мухаммед"],
            "sex": "F",
            "birth_date": "1985-XX-XX",
            "place_of_birth": "99341",
            "nationality": "99341",
            "residence_departement": "75",
        },
    }


def test_csv_document_leaves_out_empty_and_absent_columns() -> None:
    document = csv_document(
        {"reference": "PP-1", "kind": "oqtf", "decision_date": "2024-01-02", "permit_number": " "}
    )
    assert document == {
        "reference": "PP-1",
        "kind": "oqtf",
        "decision_date": "2024-01-02",
        "public_order": False,
        "removal_measures": [],
        "identity": {"first_names": []},
    }
    assert csv_document({"reference": "", "kind": "", "decision_date": ""})["reference"] is None
    only_type = csv_document({"ssn_type": "nnp"})["identity"]["social_security_number"]
    assert only_type == {"number": None, "type": "nnp"}
    only_expiry = csv_document({"permit_expiry_date": "2026-01-01"})["permit"]
    assert only_expiry == {"expiry_date": "2026-01-01"}


@pytest.mark.parametrize(
    ("word", "value"),
    [
        *[(word, True) for word in ["true", "1", "oui", "yes", "o", "y", " OUI ", "True"]],
        *[(word, False) for word in ["false", "0", "non", "no", "n", "", "  ", "NON"]],
        ("peut-être", "peut-être"),
        ("2", "2"),
    ],
)
def test_public_order_words(word: str, value: bool | str) -> None:
    assert csv_document({"public_order": word})["public_order"] == value


def test_a_missing_public_order_column_is_false() -> None:
    assert csv_document({})["public_order"] is False


@pytest.mark.parametrize("reader", [read_ndjson, read_csv])
def test_readers_are_lazy(reader: Reader) -> None:
    """A record comes out before the rest of the upload is read."""
    sent: list[bytes] = []

    def upload() -> Iterator[bytes]:
        for chunk in (HEADER, b'"R-1";"oqtf";"2024-01-01";"";""\n', b'{"reference": "R-1"}\n'):
            sent.append(chunk)
            yield chunk
        pytest.fail("read past the first record")

    first = next(reader(upload()))
    assert first.line in {1, 2}
    assert len(sent) <= 3


def test_a_header_with_a_bare_carriage_return_fails_the_file_clearly() -> None:
    with pytest.raises(ImportFileError, match="malformed CSV header"):
        list(read_csv([b"\r\x00\nR-1;oqtf;2024-01-01\n"]))
