"""A batch's records written to files, NDJSON or CSV; unknown fields kept in extra columns."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from connectors import fund
from connectors.fund import DATA_COLUMNS, RECORD_COLUMNS, write_records
from tests.support.actors import World
from tests.support.factories import days_ago


def test_records_files_in_ndjson_and_csv(world: World, tmp_path: Path) -> None:
    created = world.post(2)
    world.seal()
    annulled = world.prefecture.correct(
        created[0]["id"],
        {"kind": "annulment", "reference": "TA-1", "correction_date": days_ago(2)},
    )
    assert annulled.status_code == 201, annulled.text
    (sealed,) = world.seal()
    batch = world.verify(world.download(sealed.id))
    (record,) = batch.records
    assert record["type"] == "rectification"
    first = world.verify(world.download(world.listing()[0]["id"]))
    records = [*first.records, record]

    write_records(tmp_path / "r.ndjson", records, "ndjson")
    lines = (tmp_path / "r.ndjson").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records

    write_records(tmp_path / "r.csv", records, "csv")
    text = (tmp_path / "r.csv").read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == RECORD_COLUMNS + DATA_COLUMNS
    rows = list(reader)
    assert [row["record_id"] for row in rows] == [r["record_id"] for r in records]
    plain, rectification = rows[0], rows[2]
    data = records[0]["data"]
    assert plain["first_names"] == "Aïssatou|Ben; Ali"
    assert plain["birth_name"] == "N'Diaye"
    assert plain["usage_name"] == 'O"Brien'
    assert plain["ssn_number"] == data["social_security_number"]["number"]
    assert plain["ssn_type"] == "nia"
    assert plain["version"] == "1"
    assert (plain["correction_kind"], plain["correction_date"]) == ("", "")
    assert plain["residence_departement"] == ""  # not in the CPAM profile
    assert rectification["type"] == "rectification"
    assert rectification["status"] == "annulled"
    assert rectification["version"] == "2"
    assert rectification["correction_kind"] == "annulment"
    assert rectification["correction_date"] == days_ago(2)
    assert fund.read_record_ids(tmp_path / "r.csv", "csv") == [r["record_id"] for r in records]
    assert fund.read_record_ids(tmp_path / "r.ndjson", "ndjson") == [
        r["record_id"] for r in records
    ]


def test_a_records_file_keeps_unknown_fields_in_extra_columns(tmp_path: Path) -> None:
    record = {
        "record_id": "r1",
        "type": "decision",
        "decision_id": "d1",
        "version": 1,
        "status": "active",
        "data": {"reference": "R-1", "zz_new": ["a", "b"], "aa_new": True},
    }
    write_records(tmp_path / "r.csv", [record], "csv")
    (row,) = csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text(encoding="utf-8")))
    assert list(row)[-2:] == ["aa_new", "zz_new"]
    assert (row["aa_new"], row["zz_new"], row["reference"]) == ("true", "a|b", "R-1")
    with pytest.raises(ValueError, match="unknown records format"):
        write_records(tmp_path / "r.xml", [record], "xml")  # type: ignore[arg-type]
