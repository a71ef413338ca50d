"""The fund's side of batches, on batches the gateway really sealed: verification and each
tampering it catches, decryption, receipts the gateway accepts, records files, the state
file, an independent check with another JOSE library and the RFC 6962 definition, the
``gateway fund`` commands, and pulling over HTTP from a gateway in its own process.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey
from jwcrypto import jwk as cjwk  # type: ignore[import-untyped]
from jwcrypto import jws as cjws
from sqlalchemy import select, update

from connectors import fund, wire
from connectors.fund import (
    DATA_COLUMNS,
    RECORD_COLUMNS,
    BatchRef,
    BatchVerificationError,
    FundState,
    FundStateError,
    sign_receipt,
    write_records,
)
from gateway.batches.models import Batch, RecordOutcome
from gateway.batches.storage import open_content, seal_content
from tests.support.actors import World
from tests.support.cli import invoke as run
from tests.support.factories import NAMES, days_ago, decision, identity
from tests.support.jose import b64url, compact, flip_signature, resign, segments, unb64url
from tests.support.merkle import reference_mth
from tests.support.processes import ServedFund


def rule_of(content: bytes, world: World, **options: Any) -> str:
    with pytest.raises(BatchVerificationError) as refused:
        world.verify(content, **options)
    for name in NAMES:
        assert name not in str(refused.value)  # errors never carry personal data
    return refused.value.rule


# -- verification ---------------------------------------------------------------------


def test_a_downloaded_batch_verifies_and_its_receipt_is_recorded_once(world: World) -> None:
    sealed, content = world.batch(3)
    batch = world.verify(content, expected_seq=1, previous_digest=None)

    assert (batch.batch_id, batch.seq, batch.fund_id) == (sealed.id, 1, world.fund.id)
    assert batch.digest == sealed.digest == wire.digest_of(content)
    assert batch.previous_digest is None
    assert batch.encrypted is False
    assert len(batch.records) == batch.payload["record_count"] == 3
    assert {record["type"] for record in batch.records} == {"decision"}
    assert all(name not in repr(batch) for name in NAMES)

    receipt = sign_receipt(batch, "noted", key=world.fund.key, kid=world.fund.kid)
    first = world.post_receipt(batch.batch_id, receipt)
    assert first.status_code == 201, first.text
    assert first.json()["outcomes"] == {"noted": 3}
    again = world.post_receipt(batch.batch_id, receipt)
    assert again.status_code == 200, again.text
    assert again.json()["already_recorded"] is True
    other = sign_receipt(batch, "rights-ended", key=world.fund.key, kid=world.fund.kid)
    assert world.post_receipt(batch.batch_id, other).status_code == 409
    assert [b["state"] for b in world.listing()] == ["acknowledged"]


def test_a_receipt_says_what_the_spec_says_with_one_outcome_per_record(world: World) -> None:
    _, content = world.batch(3)
    batch = world.verify(content)
    first, *others = batch.record_ids
    when = datetime(2026, 11, 27, 22, 45, tzinfo=UTC)
    receipt = sign_receipt(
        batch,
        {first: "rights-ended"},
        default="not-an-affiliate",
        key=world.fund.key,
        kid=world.fund.kid,
        received_at=when,
    )
    header, payload, _ = segments(receipt)
    assert header == {"alg": "ES256", "kid": world.fund.kid}
    assert json.loads(payload) == {
        "batch_id": batch.batch_id,
        "fund_id": world.fund.id,
        "seq": 1,
        "batch_digest": batch.digest,
        "received_at": "2026-11-27T22:45:00Z",
        "outcomes": [
            {"record_id": first, "outcome": "rights-ended"},
            *({"record_id": other, "outcome": "not-an-affiliate"} for other in others),
        ],
    }
    response = world.post_receipt(batch.batch_id, receipt)
    assert response.status_code == 201, response.text
    assert response.json()["outcomes"] == {"rights-ended": 1, "not-an-affiliate": 2}


@pytest.mark.parametrize(
    ("outcomes", "options", "message"),
    [
        ("done", {}, "unknown outcomes"),
        ({"not-a-record": "noted"}, {"default": "noted"}, "not in the batch"),
        ({}, {}, "have no outcome"),
        ("noted", {"alg": "none"}, "not accepted"),
        ("noted", {"alg": "HS256"}, "not accepted"),
        ("noted", {"received_at": datetime(2026, 1, 1)}, "time zone"),  # noqa: DTZ001
    ],
)
def test_a_receipt_that_the_gateway_would_refuse_is_not_signed(
    outcomes: Any, options: dict[str, Any], message: str
) -> None:
    ref = BatchRef("b", "caf-13", 1, "sha256:00", ["r1", "r2"])
    key = ECKey.generate_key("P-256", private=True)
    with pytest.raises(ValueError, match=message):
        sign_receipt(ref, outcomes, key=key, **options)


def edit_unsigned(content: bytes) -> bytes:
    """The payload changed and encoded again, the signature left as it was."""
    _, payload, _ = segments(content)
    document = json.loads(payload)
    document["records"][0]["data"]["birth_name"] = "Someone Else"
    original = content.decode().split(".")
    return ".".join([original[0], b64url(rfc8785.dumps(document)), original[2]]).encode()


def drop_record(document: dict[str, Any]) -> None:
    document["records"].pop(1)


def drop_record_and_count(document: dict[str, Any]) -> None:
    document["records"].pop(1)
    document["record_count"] -= 1


def swap_records(document: dict[str, Any]) -> None:
    records = document["records"]
    records[0], records[1] = records[1], records[0]


def edit_record(document: dict[str, Any]) -> None:
    document["records"][0]["status"] = "annulled"


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (drop_record, "record-count"),
        (lambda d: d.update(record_count=d["record_count"] + 1), "record-count"),
        (drop_record_and_count, "merkle-root"),
        (swap_records, "merkle-root"),
        (edit_record, "merkle-root"),
        (lambda d: d.update(merkle_root="00" * 32), "merkle-root"),
        (lambda d: d.update(fund_id="caf-13"), "fund-id"),
        (lambda d: d.update(previous_digest="sha256:" + "0" * 64), "chain"),
        (lambda d: d.update(seq=2), "seq-gap"),
        (lambda d: d.update(seq="1"), "malformed"),
        (lambda d: d.pop("merkle_root"), "malformed"),
        (lambda d: d.update(batch_id="../../etc/x"), "malformed"),
        (lambda d: d["records"].append(d["records"][0]), "malformed"),
    ],
    ids=[
        "record-removed",
        "record-count-wrong",
        "record-removed-and-count-fixed",
        "records-reordered",
        "record-edited",
        "root-replaced",
        "another-fund",
        "chain-from-nowhere",
        "seq-skipped",
        "seq-a-string",
        "root-missing",
        "batch-id-a-path",
        "record-twice",
    ],
)
def test_a_batch_signed_by_the_gateway_but_inconsistent_is_refused(
    world: World, edit: Callable[[dict[str, Any]], None], rule: str
) -> None:
    _, content = world.batch(3)
    tampered = resign(world.keys, content, edit)
    world.verify(resign(world.keys, content), expected_seq=1)  # re-signing alone changes nothing
    assert rule_of(tampered, world, expected_seq=1) == rule


def test_each_forgery_is_refused_naming_the_rule(world: World) -> None:
    _, content = world.batch(2)
    header, payload, signature = segments(content)
    jwks = world.jwks()
    token_kid = next(k["kid"] for k in jwks["keys"] if k["gateway_use"] == "token")
    stranger = OKPKey.generate_key("Ed25519", private=True)

    assert rule_of(flip_signature(content), world) == "signature"
    assert rule_of(edit_unsigned(content), world) == "signature"
    assert rule_of(compact({**header, "alg": "none"}, payload, b"").encode(), world) == "algorithm"
    # HMAC keyed with the public key: the classic algorithm confusion.
    public = unb64url(next(k["x"] for k in jwks["keys"] if k["kid"] == header["kid"]))
    hmac = jws.serialize_compact({**header, "alg": "HS256"}, payload, OctKey.import_key(public))
    assert rule_of(hmac.encode(), world) == "algorithm"
    assert (
        rule_of(compact({**header, "alg": "ES256"}, payload, signature).encode(), world)
        == "algorithm"
    )
    assert rule_of(resign(world.keys, content, header={"typ": "JWT"}), world) == "typ"
    assert rule_of(resign(world.keys, content, header={"kid": "batch-x"}), world) == "unknown-kid"
    assert rule_of(resign(world.keys, content, header={"kid": token_kid}), world) == "unknown-kid"
    assert rule_of(resign(world.keys, content, key=stranger), world) == "signature"
    assert rule_of(content, world, fund_id="caf-13") == "fund-id"
    assert rule_of(content, world, jwks={"keys": []}) == "unknown-kid"
    assert rule_of(b"\xff" + content, world) == "malformed"
    assert rule_of(b"not.a.batch.at.all.really", world) == "malformed"
    assert rule_of(content.replace(b".", b"", 1), world) == "malformed"


def test_a_batch_signed_with_the_rfc_9864_name_of_the_algorithm_verifies(world: World) -> None:
    _, content = world.batch(1)
    renamed = resign(world.keys, content, header={"alg": "Ed25519"})
    assert world.verify(renamed, expected_seq=1).record_ids == world.verify(content).record_ids


def test_batches_chain_by_digest_and_seq(world: World) -> None:
    first, one = world.batch(2)
    second, two = world.batch(1)
    assert second.seq == 2

    verified = world.verify(one, expected_seq=1)
    after = world.verify(two, expected_seq=2, previous_digest=verified.digest)
    assert after.previous_digest == first.digest == verified.digest

    assert rule_of(two, world, expected_seq=1) == "seq-gap"
    assert rule_of(one, world, expected_seq=2, previous_digest=first.digest) == "seq-replay"
    assert rule_of(two, world, expected_seq=2, previous_digest=second.digest) == "chain"
    assert rule_of(two, world, previous_digest="sha256:" + "0" * 64) == "chain"
    # A batch 1 naming a predecessor, and a batch 2 naming none, break the chain.
    assert rule_of(resign(world.keys, two, lambda d: d.update(seq=1)), world) == "chain"
    no_previous = resign(world.keys, two, lambda d: d.update(previous_digest=None))
    assert rule_of(no_previous, world) == "chain"
    with pytest.raises(ValueError, match="digest is needed"):
        world.verify(two, expected_seq=2)


def p256() -> ECKey | OKPKey:
    return ECKey.generate_key("P-256", private=True)


def x25519() -> ECKey | OKPKey:
    return OKPKey.generate_key("X25519", private=True)


@pytest.mark.parametrize("new_key", [p256, x25519], ids=["P-256", "X25519"])
def test_an_encrypted_batch_is_decrypted_with_the_funds_key_and_then_verified(
    world: World, new_key: Callable[[], ECKey | OKPKey]
) -> None:
    private = new_key()
    world = world.another_fund(encryption_jwk=private.as_dict(private=False))
    # Enough records that the JWE is larger than joserfc's default 64 KB ciphertext limit.
    lines = [
        json.dumps(decision(f"BIG-{n}", identity=identity(agdref_number=f"75{n:08d}")))
        for n in range(150)
    ]
    imported = world.prefecture.import_file(("\n".join(lines) + "\n").encode())
    assert imported.status_code == 201, imported.text
    assert imported.json()["accepted"] == 150
    (sealed,) = world.seal()
    content = world.download(sealed.id)
    assert content.count(b".") == 4
    assert len(content.split(b".")[3]) > 65536

    assert rule_of(content, world) == "decrypt"
    assert rule_of(content, world, decryption_key=new_key()) == "decrypt"
    batch = world.verify(content, expected_seq=1, decryption_key=private)
    assert batch.encrypted is True
    assert batch.digest == sealed.digest == wire.digest_of(content)
    assert len(batch.records) == 150
    assert len({r["data"]["agdref_number"] for r in batch.records}) == 150
    receipt = sign_receipt(batch, key=world.fund.key, kid=world.fund.kid)
    assert world.post_receipt(batch.batch_id, receipt).status_code == 201


def test_an_independent_library_and_the_rfc_6962_definition_agree(world: World) -> None:
    _, content = world.batch(5)
    # jwcrypto, against the JWKS as published.
    keys = cjwk.JWKSet.from_json(json.dumps(world.jwks()))
    token = cjws.JWS()
    token.deserialize(content.decode("ascii"))
    header = token.jose_header
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "gateway-batch+json"
    published = next(k for k in world.jwks()["keys"] if k["kid"] == header["kid"])
    assert published["gateway_use"] == "batch"
    token.verify(keys.get_key(header["kid"]), alg="EdDSA")
    payload: bytes = token.payload
    document = json.loads(payload)

    # The payload is RFC 8785 canonical JSON, names with quotes and accents included.
    assert rfc8785.dumps(document) == payload
    records = document["records"]
    assert len(records) == document["record_count"] == 5
    leaves = [rfc8785.dumps(record) for record in records]
    assert reference_mth(leaves).hex() == document["merkle_root"]
    assert reference_mth(leaves[:4]).hex() != document["merkle_root"]
    assert document["previous_digest"] is None
    assert hashlib.sha256(content).hexdigest() == world.listing()[0]["digest"].split(":")[1]
    assert world.verify(content).payload == document


# -- records and state ----------------------------------------------------------------


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


def test_the_state_file_is_never_left_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = FundState(tmp_path, "caf-13", 1, "sha256:aa")
    state.save()
    before = (tmp_path / fund.STATE_FILE).read_bytes()

    def crash(*_: Any) -> Path:
        raise OSError("disk gone")

    monkeypatch.setattr(Path, "replace", crash)
    state.last_seq, state.last_digest = 2, "sha256:bb"
    with pytest.raises(OSError, match="disk gone"):
        state.save()
    monkeypatch.undo()
    assert (tmp_path / fund.STATE_FILE).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [fund.STATE_FILE]
    loaded = FundState.load(tmp_path, "caf-13")
    assert (loaded.last_seq, loaded.last_digest) == (1, "sha256:aa")
    assert (tmp_path / fund.STATE_FILE).stat().st_mode & 0o077 == 0

    with pytest.raises(FundStateError, match="caf-13"):
        FundState.load(tmp_path, "cpam-75")
    (tmp_path / fund.STATE_FILE).write_text("{")
    with pytest.raises(FundStateError, match="not a fund state file"):
        FundState.load(tmp_path, "caf-13")


def test_the_state_takes_batches_in_order_and_keeps_their_receipts(
    world: World, tmp_path: Path
) -> None:
    _, one = world.batch(2)
    _, two = world.batch(1)
    with FundState.locked(tmp_path, world.fund.id) as state:
        first = state.verify(one, world.jwks())
        with pytest.raises(FundStateError, match="not the next"):
            state.accept(world.verify(two), "ndjson")
        entry = state.accept(first, "csv")
        receipt = state.receipt_for(entry, key=world.fund.key, kid=world.fund.kid)
        assert state.receipt_for(entry, key=world.fund.key) == receipt  # signed once
        second = state.verify(two, world.jwks())
        state.accept(second, "ndjson")
    loaded = FundState.load(tmp_path, world.fund.id)
    assert (loaded.last_seq, loaded.last_digest) == (2, second.digest)
    assert [e.seq for e in loaded.unacknowledged()] == [1, 2]
    assert loaded.batches[1].receipt_file is not None
    assert loaded.path(loaded.batches[1].receipt_file).read_bytes() == receipt
    assert loaded.find(first.digest) == loaded.batches[1]
    assert world.post_receipt(first.batch_id, receipt).status_code == 201
    state_text = (tmp_path / fund.STATE_FILE).read_text(encoding="utf-8")
    assert all(name not in state_text for name in NAMES)


# -- the command line -----------------------------------------------------------------


def test_gateway_fund_verify_checks_a_saved_batch_offline(world: World, tmp_path: Path) -> None:
    first, one = world.batch(2)
    _, two = world.batch(1)
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(world.jwks()))
    files = {name: tmp_path / f"{name}.jose" for name in ("one", "two", "bad")}
    files["one"].write_bytes(one)
    files["two"].write_bytes(two)
    files["bad"].write_bytes(flip_signature(two))
    common = ("fund", "verify", "--jwks", str(jwks_file), "--fund-id", world.fund.id)

    shown = run(*common, str(files["one"]), "--seq", "1")
    assert first.id in shown
    assert first.digest in shown
    assert "verified: signature, fund id, record count, Merkle root, seq, chain" in shown
    assert all(name not in shown for name in NAMES)
    chained = run(*common, str(files["two"]), "--seq", "2", "--previous-digest", first.digest)
    assert "chain" in chained
    refused = run(*common, str(files["bad"]), code=1)
    assert "refused: signature" in refused
    assert "seq-gap" in run(*common, str(files["two"]), "--seq", "1", code=1)
    assert "--previous-digest" in run(*common, str(files["two"]), "--seq", "2", code=2)
    wrong = ("fund", "verify", "--jwks", str(jwks_file), "--fund-id", "caf-13")
    assert "fund-id" in run(*wrong, str(files["one"]), code=1)


# -- pulling over HTTP ----------------------------------------------------------------


def test_pull_and_ack_over_http_from_the_command_line(served: ServedFund, tmp_path: Path) -> None:
    served.post(3)
    assert [b.seq for b in served.seal(max_records=2)] == [1, 2]
    state_dir = tmp_path / "state"
    common = (
        *("--url", served.base_url, "--client-id", served.fund.id),
        *("--key", str(served.key_file), "--state-dir", str(state_dir), "--agent-id", "a-1"),
    )

    shown = run("fund", "pull", *common, "--format", "csv")
    assert "2 batches pulled" in shown
    assert "last verified seq: 2" in shown
    assert all(name not in shown for name in NAMES)
    state = FundState.load(state_dir, served.fund.id)
    assert state.last_seq == 2
    files = [state.path(state.batches[seq].records_file) for seq in (1, 2)]
    assert [len(fund.read_record_ids(path, "csv")) for path in files] == [2, 1]
    written = [path.stat().st_mtime_ns for path in files]
    assert [e.acknowledged_at for e in state.unacknowledged()] == [None, None]
    states = served.rows(select(Batch.seq, Batch.state).order_by(Batch.seq))
    assert [tuple(row) for row in states] == [(1, "delivered"), (2, "delivered")]

    again = run("fund", "pull", *common, "--format", "csv")
    assert "0 batches pulled" in again
    assert [path.stat().st_mtime_ns for path in files] == written

    acked = run("fund", "ack", *common)
    assert "2 batches acknowledged" in acked
    states = served.rows(select(Batch.seq, Batch.state).order_by(Batch.seq))
    assert [tuple(row) for row in states] == [(1, "acknowledged"), (2, "acknowledged")]
    assert "0 batches acknowledged" in run("fund", "ack", *common)
    assert FundState.load(state_dir, served.fund.id).unacknowledged() == []


def test_pull_stops_at_a_tampered_batch_and_resumes_from_it(
    served: ServedFund, tmp_path: Path
) -> None:
    served.post(3)
    assert [b.seq for b in served.seal(max_records=1)] == [1, 2, 3]
    jwks = served.jwks()
    state_dir = tmp_path / "state"
    (row,) = served.rows(select(Batch).where(Batch.seq == 2))
    cipher = served.keys.identity_cipher()
    original = open_content(cipher, row.Batch)
    tampered = flip_signature(original)
    served.execute(
        update(Batch)
        .where(Batch.seq == 2)
        .values(**seal_content(cipher, row.Batch.id, tampered), digest=wire.digest_of(tampered))
    )

    def options() -> dict[str, Any]:
        return {
            "jwks": jwks,
            "fund_id": served.fund.id,
            "agent_id": "a-1",
            "ack": True,
            "signing_key": served.fund.key,
            "kid": served.fund.kid,
        }

    with served.client() as client:
        stopped = fund.pull(client, state_dir, **options())
    assert stopped.failure is not None
    assert (stopped.failure.seq, stopped.failure.rule) == (2, "signature")
    assert [e.seq for e in stopped.pulled] == [1]
    assert stopped.last_seq == 1
    assert [e.seq for e in stopped.acknowledged] == [1]  # what was verified is acknowledged
    assert sorted(p.name[:8] for p in (state_dir / "records").iterdir()) == ["00000001"]

    served.execute(
        update(Batch)
        .where(Batch.seq == 2)
        .values(**seal_content(cipher, row.Batch.id, original), digest=wire.digest_of(original))
    )
    with served.client() as client:
        resumed = fund.pull(client, state_dir, decide=lambda _: "rights-ended", **options())
        assert resumed.ok, resumed.failure
        assert [e.seq for e in resumed.pulled] == [2, 3]
        assert [e.seq for e in resumed.acknowledged] == [2, 3]
        assert resumed.last_seq == 3
        idle = fund.pull(client, state_dir, **options())
    assert (idle.pulled, idle.acknowledged, idle.last_seq) == ([], [], 3)
    outcomes = served.rows(
        select(Batch.seq, RecordOutcome.outcome)
        .join(RecordOutcome, RecordOutcome.batch_id == Batch.id)
        .order_by(Batch.seq)
    )
    assert [tuple(row) for row in outcomes] == [
        (1, "noted"),
        (2, "rights-ended"),
        (3, "rights-ended"),
    ]
    states = served.rows(select(Batch.state))
    assert {row.state for row in states} == {"acknowledged"}


def test_fund_check_sends_a_file_of_affiliates_and_writes_the_answers(
    served: ServedFund, tmp_path: Path
) -> None:
    served.post(1)  # a decision about the person with AGDREF number 7512345678
    affiliates = tmp_path / "affiliates.csv"
    affiliates.write_text(
        "member;agdref_number;birth_name\n"
        "M-1;7512345678;N'Diaye\n"
        "M-2;7599999999;Martin\n"
        "M-3;12AB;Broken\n"
    )
    answers = tmp_path / "answers.csv"
    shown = run(
        "fund",
        "check",
        str(affiliates),
        *("--url", served.base_url, "--client-id", served.fund.id),
        *("--key", str(served.key_file), "--agent-id", "sweep-1", "--output", str(answers)),
    )
    assert "3 checked" in shown
    assert "1 malformed" in shown
    rows = list(csv.DictReader(io.StringIO(answers.read_text())))
    assert [row["member"] for row in rows] == ["M-1", "M-2", "M-3"]  # the input, kept
    assert [row["result"] for row in rows] == ["adverse_decision", "none_known", ""]
    assert rows[0]["decision_reference"] == "H-1"
    assert rows[0]["match"] == "exact"
    assert "agdref_number: agdref-format" in rows[2]["errors"]
