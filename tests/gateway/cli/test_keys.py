"""``gateway keys``: the keyring made, rotated and shown (never its private parts), each
change audited.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

import pytest

from gateway.keys import GatewayKeys, KeyUse
from tests.support.cli import Cli

if TYPE_CHECKING:
    from pathlib import Path


def test_keys_init_creates_the_keyring_and_is_audited(cli: Cli) -> None:
    output = cli.run("keys", "init")
    assert f"created development keys in {cli.key_dir}" in output
    keys = GatewayKeys.load(cli.key_dir)
    assert {entry.use for entry in keys.entries} == set(KeyUse)
    assert all(entry.active for entry in keys.entries)
    for entry in keys.entries:
        assert entry.kid in output  # the table of keys follows
    events = cli.events("keys:initialised")
    assert len(events) == 1
    assert sorted(events[0].object_ids) == sorted(e.kid for e in keys.entries)
    assert events[0].detail["via"] == "cli"
    assert events[0].outcome == "success"


def test_keys_init_refuses_a_second_time(cli: Cli) -> None:
    cli.run("keys", "init")
    before = (cli.key_dir / "keyring.json").read_text()
    output = cli.run("keys", "init", code=1)
    assert "keys already exist" in output
    assert "use rotate" in output
    assert (cli.key_dir / "keyring.json").read_text() == before
    assert len(cli.events("keys:initialised")) == 1


def test_keys_rotate_adds_active_keys_and_keeps_the_old_ones(cli: Cli) -> None:
    cli.run("keys", "init")
    old = GatewayKeys.load(cli.key_dir)
    output = cli.run("keys", "rotate", "--publish-ahead", "0")  # signing at once
    rotated = GatewayKeys.load(cli.key_dir)
    added = [e for e in rotated.entries if e.kid not in {o.kid for o in old.entries}]
    assert {e.use for e in added} == set(KeyUse)
    assert all(e.active for e in added)
    for use in KeyUse:
        new_entry, _ = rotated.active(use)
        old_entry, _ = old.active(use)
        assert new_entry.kid != old_entry.kid
        assert new_entry.kid in output
    published = {key["kid"] for key in rotated.public_jwks()["keys"]}
    assert published == {e.kid for e in old.entries} | {e.kid for e in added}
    retired = [e for e in rotated.entries if e.kid in {o.kid for o in old.entries}]
    assert not any(e.active for e in retired)
    events = cli.events("keys:rotated")
    assert len(events) == 1
    assert sorted(events[0].object_ids) == sorted(e.kid for e in added)
    assert events[0].detail["via"] == "cli"


def test_keys_rotate_one_use_changes_only_that_key(cli: Cli) -> None:
    cli.run("keys", "init")
    old = GatewayKeys.load(cli.key_dir)
    cli.run("keys", "rotate", "--use", "token", "--publish-ahead", "0")
    rotated = GatewayKeys.load(cli.key_dir)
    assert len(rotated.entries) == len(old.entries) + 1
    assert rotated.active(KeyUse.TOKEN)[0].kid != old.active(KeyUse.TOKEN)[0].kid
    for use in (KeyUse.BATCH, KeyUse.CHECKPOINT):
        assert rotated.active(use)[0].kid == old.active(use)[0].kid
    token_kids = {key["kid"] for key in rotated.public_jwks()["keys"]}
    assert old.active(KeyUse.TOKEN)[0].kid in token_kids
    assert rotated.active(KeyUse.TOKEN)[0].kid in token_kids
    events = cli.events("keys:rotated")
    assert [event.object_ids for event in events] == [[rotated.active(KeyUse.TOKEN)[0].kid]]


def test_keys_rotate_without_keys_fails(cli: Cli) -> None:
    output = cli.run("keys", "rotate", code=1)
    assert "gateway keys init" in output


def test_keys_show_lists_kids_never_private_parts(cli: Cli) -> None:
    cli.run("keys", "init")
    output = cli.run("keys", "show")
    keys = GatewayKeys.load(cli.key_dir)
    for entry in keys.entries:
        assert entry.kid in output
        private = json.loads((cli.key_dir / "private" / f"{entry.kid}.json").read_text())
        assert private["d"] not in output
    assert "development keys" in output


def test_keys_show_without_keys_fails(cli: Cli) -> None:
    assert "gateway keys init" in cli.run("keys", "show", code=1)


def test_keys_init_before_the_database_still_makes_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    unmigrated = Cli.installed(tmp_path, f"sqlite:///{tmp_path / 'none' / 'gateway.db'}")
    output = unmigrated.run("keys", "init")
    assert "not audited" in output
    assert GatewayKeys.load(unmigrated.key_dir).entries


def test_keys_init_makes_the_blind_index_secret_and_an_identity_kek(cli: Cli) -> None:
    cli.run("keys", "init")
    keys = GatewayKeys.load(cli.key_dir)
    assert len(keys.secret("blind-index")) == 32
    assert [kek.active for kek in keys.identity_keks] == [True]
    kek_id = keys.active_identity_kek().id
    assert (cli.key_dir / "secrets" / f"identity-kek-{kek_id}.key").exists()


def test_keys_rotate_identity_kek_adds_an_active_kek_and_is_audited(cli: Cli) -> None:
    cli.run("keys", "init")
    old = GatewayKeys.load(cli.key_dir)
    old_id = old.active_identity_kek().id
    sealed = old.identity_cipher().encrypt(b"Jeanne Dupont", b"row-1")
    output = cli.run("keys", "rotate-identity-kek")
    rotated = GatewayKeys.load(cli.key_dir)
    new_id = rotated.active_identity_kek().id
    assert new_id != old_id
    assert output == f"new identity key-encryption key: {new_id}"
    assert [(k.id, k.active) for k in rotated.identity_keks] == [(old_id, False), (new_id, True)]
    assert oct((cli.key_dir / "secrets" / f"identity-kek-{new_id}.key").stat().st_mode)[-3:] == (
        "600"
    )
    # The signing keys and the secrets are left alone; old records still open.
    assert [e.as_dict() for e in rotated.entries] == [e.as_dict() for e in old.entries]
    assert rotated.secret("blind-index") == old.secret("blind-index")
    assert rotated.identity_cipher().decrypt(sealed, b"row-1") == b"Jeanne Dupont"
    events = cli.events("keys:rotated")
    assert len(events) == 1
    assert events[0].object_ids == [new_id]
    assert events[0].detail["via"] == "cli"
    assert events[0].outcome == "success"


def test_keys_rotate_identity_kek_without_keys_fails(cli: Cli) -> None:
    output = cli.run("keys", "rotate-identity-kek", code=1)
    assert "gateway keys init" in output
    assert cli.events("keys:rotated") == []


def test_keys_show_lists_identity_kek_ids_never_their_values(cli: Cli) -> None:
    cli.run("keys", "init")
    cli.run("keys", "rotate-identity-kek")
    output = cli.run("keys", "show")
    keys = GatewayKeys.load(cli.key_dir)
    assert "identity key-encryption keys" in output
    assert len(keys.identity_keks) == 2
    for kek in keys.identity_keks:
        assert kek.id in output
        value = (cli.key_dir / "secrets" / f"identity-kek-{kek.id}.key").read_text()
        assert value not in output
        assert base64.b64decode(value).hex() not in output
    for name in ("pseudonym", "blind-index"):
        assert (cli.key_dir / "secrets" / f"{name}.key").read_text() not in output


def test_keys_rotate_publishes_the_next_key_before_it_signs(cli: Cli) -> None:
    cli.run("keys", "init")
    old = GatewayKeys.load(cli.key_dir)
    output = cli.run("keys", "rotate", "--use", "batch")  # the default: a day ahead
    rotated = GatewayKeys.load(cli.key_dir)
    (added,) = [e for e in rotated.entries if e.kid not in {o.kid for o in old.entries}]
    assert added.status == "pending"
    assert f"signing from {added.activates_at}" in output
    assert rotated.active(KeyUse.BATCH)[0].kid == old.active(KeyUse.BATCH)[0].kid
    assert added.kid in {key["kid"] for key in rotated.public_jwks()["keys"]}
    assert "pending" in cli.run("keys", "show")
    again = cli.run("keys", "rotate", "--use", "batch", code=1)
    assert "still waiting to sign" in again
    assert len(cli.events("keys:rotated")) == 1


def test_keys_check_fails_when_a_key_expires_soon(cli: Cli) -> None:
    cli.run("keys", "init")
    fine = cli.run("keys", "check", "--within-days", "30")
    assert "no signing key expires within 30 days" in fine
    due = cli.run("keys", "check", "--within-days", "400", code=1)
    assert "token key" in due
    assert "gateway keys rotate --use token" in due
    # A next key waiting for its turn is the answer: that use is no longer due.
    cli.run("keys", "rotate", "--use", "token")
    after = cli.run("keys", "check", "--within-days", "400", code=1)
    assert "token key" not in after
    assert "batch key" in after
