"""Verifying the batches the gateway really sealed, on the fund's side: signature, record
count, Merkle root, seq and chain; each tampering and forgery refused naming its rule;
decryption with the fund's key; and an independent check with another JOSE library and
the RFC 6962 definition.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import rfc8785
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey
from jwcrypto import jwk as cjwk  # type: ignore[import-untyped]
from jwcrypto import jws as cjws

from connectors import wire
from connectors.fund import BatchVerificationError, sign_receipt
from tests.support.actors import World
from tests.support.factories import NAMES, decision, identity
from tests.support.jose import b64url, compact, flip_signature, resign, segments, unb64url
from tests.support.merkle import reference_mth


def rule_of(content: bytes, world: World, **options: Any) -> str:
    with pytest.raises(BatchVerificationError) as refused:
        world.verify(content, **options)
    for name in NAMES:
        assert name not in str(refused.value)  # errors never carry personal data
    return refused.value.rule


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
    imported = world.prefecture.imported(
        ("\n".join(lines) + "\n").encode(), world.sessions, world.keys
    )
    assert imported["accepted"] == 150
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
