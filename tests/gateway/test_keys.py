"""The gateway's key directory: layout, modes, rotation, and the production checks."""

from __future__ import annotations

import base64
import json
import stat
import time
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from joserfc import jws
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.auth import tokens
from gateway.cli.main import app as cli_app
from gateway.identities.crypto import IdentityCryptoError, Tampered, UnknownKey
from gateway.keys import KEYRING, SECRETS, GatewayKeys, KeyStoreError, KeyUse
from gateway.settings import Environment, Settings

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

BASE_URL = "http://testserver"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _settings(key_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url="sqlite://", key_dir=key_dir, public_base_url=BASE_URL, **overrides
    )


def _kid(token: str) -> str:
    kid = jws.extract_compact(token.encode()).headers()["kid"]
    assert isinstance(kid, str)
    return kid


@pytest.fixture
def dev_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    GatewayKeys.init(directory, Environment.DEVELOPMENT)
    return directory


@pytest.fixture
def prod_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "prod-keys"
    GatewayKeys.init(directory, Environment.PRODUCTION)
    return directory


# -- layout ----------------------------------------------------------------------------


def test_init_layout_and_modes(dev_dir: Path) -> None:
    keys = GatewayKeys.load(dev_dir)
    keyring = json.loads((dev_dir / KEYRING).read_text())
    assert keyring["environment"] == "development"
    assert [k["kid"] for k in keyring["keys"]] == [e.kid for e in keys.entries]
    assert {k["use"] for k in keyring["keys"]} == {str(use) for use in KeyUse}
    assert all("d" not in k for k in keyring["keys"])

    assert _mode(dev_dir) == 0o700
    assert _mode(dev_dir / "private") == 0o700
    assert _mode(dev_dir / "secrets") == 0o700
    private_files = sorted(p.name for p in (dev_dir / "private").iterdir())
    assert private_files == sorted(f"{e.kid}.json" for e in keys.entries)
    for entry in keys.entries:
        path = dev_dir / "private" / f"{entry.kid}.json"
        assert _mode(path) == 0o600
        private = json.loads(path.read_text())
        assert private["kid"] == entry.kid
        assert "d" in private
    for name in SECRETS:
        path = dev_dir / "secrets" / f"{name}.key"
        assert _mode(path) == 0o600
        assert len(keys.secret(name)) >= 32


def test_init_makes_one_active_key_per_use_with_the_right_algorithm(dev_dir: Path) -> None:
    keys = GatewayKeys.load(dev_dir)
    assert keys.environment == Environment.DEVELOPMENT
    assert sorted(str(e.use) for e in keys.entries) == sorted(str(u) for u in KeyUse)
    algorithms = {e.use: e.alg for e in keys.entries}
    assert algorithms == {
        KeyUse.TOKEN: "ES256",
        KeyUse.BATCH: "EdDSA",
        KeyUse.CHECKPOINT: "EdDSA",
    }
    for use in KeyUse:
        entry, _ = keys.active(use)
        assert entry.kid.startswith(f"{use}-")


def test_public_jwks_has_no_private_parts(dev_dir: Path) -> None:
    jwks = GatewayKeys.load(dev_dir).public_jwks()
    assert len(jwks["keys"]) == len(KeyUse)
    for key in jwks["keys"]:
        assert "d" not in key
        assert key["use"] == "sig"
        assert key["gateway_use"] in {str(u) for u in KeyUse}


def test_init_refuses_an_existing_directory(dev_dir: Path) -> None:
    before = (dev_dir / KEYRING).read_text()
    with pytest.raises(KeyStoreError, match="already exist"):
        GatewayKeys.init(dev_dir, Environment.PRODUCTION)
    assert (dev_dir / KEYRING).read_text() == before


def test_two_directories_have_different_keys_and_secrets(tmp_path: Path) -> None:
    first = GatewayKeys.init(tmp_path / "a", Environment.DEVELOPMENT)
    second = GatewayKeys.init(tmp_path / "b", Environment.DEVELOPMENT)
    assert first.secret("pseudonym") != second.secret("pseudonym")
    assert {e.kid for e in first.entries}.isdisjoint(e.kid for e in second.entries)


# -- loading ---------------------------------------------------------------------------


def test_load_a_missing_directory_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="gateway keys init"):
        GatewayKeys.load(tmp_path / "nowhere")


def test_load_refuses_a_missing_secret(dev_dir: Path) -> None:
    (dev_dir / "secrets" / "pseudonym.key").unlink()
    with pytest.raises(KeyStoreError, match="pseudonym"):
        GatewayKeys.load(dev_dir)


def test_load_refuses_a_short_secret(dev_dir: Path) -> None:
    (dev_dir / "secrets" / "pseudonym.key").write_bytes(b"c2hvcnQ=")
    with pytest.raises(KeyStoreError, match="shorter than 32 bytes"):
        GatewayKeys.load(dev_dir)


def test_load_refuses_a_keyring_without_an_active_key(dev_dir: Path) -> None:
    path = dev_dir / KEYRING
    document = json.loads(path.read_text())
    for key in document["keys"]:
        if key["use"] == "batch":
            key["active"] = False
    path.write_text(json.dumps(document))
    with pytest.raises(KeyStoreError, match="no active batch key"):
        GatewayKeys.load(dev_dir)


def test_create_app_without_keys_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="gateway keys init"):
        create_app(_settings(tmp_path / "nowhere"))


# -- rotation --------------------------------------------------------------------------


def test_rotation_keeps_old_tokens_verifiable(dev_dir: Path) -> None:
    settings = _settings(dev_dir)
    now = int(time.time())
    before = GatewayKeys.load(dev_dir)
    old_kid = before.active(KeyUse.TOKEN)[0].kid
    old_token = tokens.issue(
        before, settings, participant_id="cpam-13", kind="fund", scopes=["a"], now=now
    )
    assert _kid(old_token) == old_kid

    added = GatewayKeys.rotate(dev_dir, [KeyUse.TOKEN])
    assert [e.use for e in added] == [KeyUse.TOKEN]
    after = GatewayKeys.load(dev_dir)
    new_kid = after.active(KeyUse.TOKEN)[0].kid
    assert new_kid == added[0].kid != old_kid

    claims = tokens.verify(after, settings, old_token, now=now)
    assert claims["sub"] == "cpam-13"
    new_token = tokens.issue(
        after, settings, participant_id="cpam-13", kind="fund", scopes=["a"], now=now
    )
    assert _kid(new_token) == new_kid
    assert tokens.verify(after, settings, new_token, now=now)["sub"] == "cpam-13"
    # The keys loaded before the rotation do not know the new key.
    with pytest.raises(tokens.InvalidAccessToken):
        tokens.verify(before, settings, new_token, now=now)

    retired = [e for e in after.entries if e.kid == old_kid]
    assert len(retired) == 1
    assert not retired[0].active
    assert {k.kid for k in after.verification_keys(KeyUse.TOKEN).keys} == {old_kid, new_kid}
    assert (dev_dir / "private" / f"{old_kid}.json").exists()


def test_rotation_of_every_use(dev_dir: Path) -> None:
    before = GatewayKeys.load(dev_dir)
    added = GatewayKeys.rotate(dev_dir)
    after = GatewayKeys.load(dev_dir)
    assert sorted(str(e.use) for e in added) == sorted(str(u) for u in KeyUse)
    assert len(after.entries) == 2 * len(before.entries)
    for use in KeyUse:
        assert after.active(use)[0].kid != before.active(use)[0].kid
        assert len(after.verification_keys(use).keys) == 2
    assert after.secret("pseudonym") == before.secret("pseudonym")
    for entry in added:
        assert _mode(dev_dir / "private" / f"{entry.kid}.json") == 0o600


def test_rotation_without_keys_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="gateway keys init"):
        GatewayKeys.rotate(tmp_path / "nowhere")


# -- production checks -----------------------------------------------------------------


def test_check_production_refuses_development_keys(dev_dir: Path) -> None:
    with pytest.raises(KeyStoreError, match="made for development"):
        GatewayKeys.load(dev_dir).check_production(dev_dir)


def test_check_production_accepts_production_keys(prod_dir: Path) -> None:
    keys = GatewayKeys.load(prod_dir)
    assert keys.environment == Environment.PRODUCTION
    keys.check_production(prod_dir)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
@pytest.mark.parametrize("folder", ["private", "secrets"])
def test_check_production_refuses_files_others_can_read(
    prod_dir: Path, folder: str, mode: int
) -> None:
    path = next((prod_dir / folder).iterdir())
    path.chmod(mode)
    with pytest.raises(KeyStoreError, match="chmod 600") as refused:
        GatewayKeys.load(prod_dir).check_production(prod_dir)
    assert str(path) in str(refused.value)


def test_create_app_in_production_refuses_development_keys(dev_dir: Path) -> None:
    settings = _settings(dev_dir, environment=Environment.PRODUCTION)
    with pytest.raises(KeyStoreError, match="production needs keys"):
        create_app(settings)
    with pytest.raises(KeyStoreError):
        create_app(settings, keys=GatewayKeys.load(dev_dir))


def test_create_app_in_production_accepts_production_keys(prod_dir: Path) -> None:
    app = create_app(_settings(prod_dir, environment=Environment.PRODUCTION))
    assert app.state.gateway.keys.environment == Environment.PRODUCTION


def test_create_app_in_development_accepts_development_keys(dev_dir: Path) -> None:
    app = create_app(_settings(dev_dir))
    assert app.state.gateway.keys.environment == Environment.DEVELOPMENT


# -- gateway serve ---------------------------------------------------------------------


def _serve(key_dir: Path, environment: str, tmp_path: Path, **extra: str) -> tuple[int, str]:
    env = {
        "GATEWAY_KEY_DIR": str(key_dir),
        "GATEWAY_ENVIRONMENT": environment,
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
        **extra,
    }
    result = CliRunner().invoke(cli_app, ["serve", "--port", "8999"], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.usefixtures("restore_logging")
def test_serve_in_production_refuses_development_keys(
    dev_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_start(*_args: Any, **_kwargs: Any) -> None:
        pytest.fail("uvicorn.run was called with development keys in production")

    monkeypatch.setattr(uvicorn, "run", must_not_start)
    code, output = _serve(dev_dir, "production", tmp_path)
    assert code == 1
    assert "refusing to start" in output
    assert "made for development" in output


@pytest.mark.usefixtures("restore_logging")
def test_serve_refuses_a_missing_key_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_start(*_args: Any, **_kwargs: Any) -> None:
        pytest.fail("uvicorn.run was called without keys")

    monkeypatch.setattr(uvicorn, "run", must_not_start)
    code, output = _serve(tmp_path / "nowhere", "development", tmp_path)
    assert code == 1
    assert "gateway keys init" in output


@pytest.mark.usefixtures("restore_logging")
def test_serve_in_production_starts_with_production_keys(
    prod_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def record(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))

    monkeypatch.setattr(uvicorn, "run", record)
    # On SQLite, as a single-host site says it means to (tests/gateway/test_startup.py).
    code, output = _serve(prod_dir, "production", tmp_path, GATEWAY_ALLOW_SQLITE="true")
    assert code == 0, output
    assert len(calls) == 1
    args, kwargs = calls[0]
    assert args == ("gateway.app:create_app",)
    assert kwargs["factory"] is True
    assert kwargs["port"] == 8999
    assert kwargs["server_header"] is False


# -- blind-index secret and identity key-encryption keys -------------------------------


def _kek_path(key_dir: Path, kek_id: str) -> Path:
    return key_dir / "secrets" / f"identity-kek-{kek_id}.key"


def test_init_makes_a_blind_index_secret(dev_dir: Path, tmp_path: Path) -> None:
    assert "blind-index" in SECRETS
    path = dev_dir / "secrets" / "blind-index.key"
    assert _mode(path) == 0o600
    keys = GatewayKeys.load(dev_dir)
    assert len(keys.secret("blind-index")) == 32
    assert base64.b64decode(path.read_bytes()) == keys.secret("blind-index")
    assert keys.secret("blind-index") != keys.secret("pseudonym")
    other = GatewayKeys.init(tmp_path / "other", Environment.DEVELOPMENT)
    assert other.secret("blind-index") != keys.secret("blind-index")


def test_load_refuses_a_missing_blind_index_secret(dev_dir: Path) -> None:
    (dev_dir / "secrets" / "blind-index.key").unlink()
    with pytest.raises(KeyStoreError, match="blind-index"):
        GatewayKeys.load(dev_dir)


def test_load_refuses_a_short_blind_index_secret(dev_dir: Path) -> None:
    (dev_dir / "secrets" / "blind-index.key").write_bytes(b"c2hvcnQ=")
    with pytest.raises(KeyStoreError, match="'blind-index' is shorter than 32 bytes"):
        GatewayKeys.load(dev_dir)


def test_init_makes_one_active_identity_kek(dev_dir: Path) -> None:
    keys = GatewayKeys.load(dev_dir)
    keyring = json.loads((dev_dir / KEYRING).read_text())
    assert len(keyring["identity_keks"]) == 1
    listed = keyring["identity_keks"][0]
    assert set(listed) == {"id", "created_at", "active"}
    assert listed["active"] is True
    assert [e.id for e in keys.identity_keks] == [listed["id"]]
    assert keys.active_identity_kek().id == listed["id"]
    path = _kek_path(dev_dir, listed["id"])
    assert _mode(path) == 0o600
    value = base64.b64decode(path.read_bytes(), validate=True)
    assert len(value) == 32
    # The keyring holds metadata only.
    assert path.read_text() not in (dev_dir / KEYRING).read_text()
    assert keys.identity_cipher().active_kek_id == listed["id"]


def test_two_directories_have_different_identity_keks(tmp_path: Path) -> None:
    first = GatewayKeys.init(tmp_path / "a", Environment.DEVELOPMENT)
    second = GatewayKeys.init(tmp_path / "b", Environment.DEVELOPMENT)
    first_kek = first.active_identity_kek().id
    second_kek = second.active_identity_kek().id
    assert first_kek != second_kek
    assert (
        _kek_path(tmp_path / "a", first_kek).read_bytes()
        != _kek_path(tmp_path / "b", second_kek).read_bytes()
    )


def _edit_keyring(key_dir: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = key_dir / KEYRING
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def test_load_refuses_a_keyring_without_identity_keks(dev_dir: Path) -> None:
    _edit_keyring(dev_dir, lambda document: document.pop("identity_keks"))
    with pytest.raises(KeyStoreError, match="no active identity key-encryption key"):
        GatewayKeys.load(dev_dir)


def test_load_refuses_a_keyring_without_an_active_identity_kek(dev_dir: Path) -> None:
    def retire(document: dict[str, Any]) -> None:
        for kek in document["identity_keks"]:
            kek["active"] = False

    _edit_keyring(dev_dir, retire)
    with pytest.raises(KeyStoreError, match="no active identity key-encryption key"):
        GatewayKeys.load(dev_dir)


def test_load_refuses_a_missing_identity_kek(dev_dir: Path) -> None:
    GatewayKeys.rotate_identity_kek(dev_dir)
    retired = GatewayKeys.load(dev_dir).identity_keks[0]
    assert not retired.active
    _kek_path(dev_dir, retired.id).unlink()
    with pytest.raises(KeyStoreError, match=f"'{retired.id}' missing"):
        GatewayKeys.load(dev_dir)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (base64.b64encode(b"k" * 16), "is not 32 bytes"),
        (base64.b64encode(b"k" * 33), "is not 32 bytes"),
        (b"", "is not 32 bytes"),
        (b"not base64 at all!", "is not base64"),
    ],
)
def test_load_refuses_a_bad_identity_kek(dev_dir: Path, content: bytes, problem: str) -> None:
    kek_id = GatewayKeys.load(dev_dir).active_identity_kek().id
    _kek_path(dev_dir, kek_id).write_bytes(content)
    with pytest.raises(KeyStoreError, match=problem):
        GatewayKeys.load(dev_dir)


def test_load_accepts_an_identity_kek_with_a_trailing_newline(dev_dir: Path) -> None:
    keys = GatewayKeys.load(dev_dir)
    path = _kek_path(dev_dir, keys.active_identity_kek().id)
    sealed = keys.identity_cipher().encrypt(b"identity", b"row-1")
    path.write_bytes(path.read_bytes() + b"\n")
    assert GatewayKeys.load(dev_dir).identity_cipher().decrypt(sealed, b"row-1") == b"identity"


@pytest.mark.parametrize("kek_id", ["../../private/x", "a/b", "", "-x", "a" * 65])
def test_load_refuses_an_identity_kek_id_that_is_not_a_file_name(
    dev_dir: Path, kek_id: str
) -> None:
    def rename(document: dict[str, Any]) -> None:
        document["identity_keks"][0]["id"] = kek_id

    _edit_keyring(dev_dir, rename)
    with pytest.raises(KeyStoreError, match="bad identity key-encryption key id"):
        GatewayKeys.load(dev_dir)


def test_rotate_identity_kek_adds_an_active_kek_and_keeps_the_old(dev_dir: Path) -> None:
    before = GatewayKeys.load(dev_dir)
    old_id = before.active_identity_kek().id
    old_value = _kek_path(dev_dir, old_id).read_bytes()
    new_id = GatewayKeys.rotate_identity_kek(dev_dir)
    assert new_id != old_id
    after = GatewayKeys.load(dev_dir)
    assert [(e.id, e.active) for e in after.identity_keks] == [(old_id, False), (new_id, True)]
    assert after.active_identity_kek().id == new_id
    assert _kek_path(dev_dir, old_id).read_bytes() == old_value
    assert _mode(_kek_path(dev_dir, new_id)) == 0o600
    assert after.identity_cipher().kek_ids == frozenset({old_id, new_id})
    assert after.identity_cipher().active_kek_id == new_id
    # Nothing else changes.
    assert [e.as_dict() for e in after.entries] == [e.as_dict() for e in before.entries]
    for name in SECRETS:
        assert after.secret(name) == before.secret(name)
    keyring = json.loads((dev_dir / KEYRING).read_text())
    assert [kek["id"] for kek in keyring["identity_keks"]] == [old_id, new_id]
    assert [kek["active"] for kek in keyring["identity_keks"]] == [False, True]


def test_rotate_identity_kek_twice(dev_dir: Path) -> None:
    first = GatewayKeys.load(dev_dir).active_identity_kek().id
    second = GatewayKeys.rotate_identity_kek(dev_dir)
    third = GatewayKeys.rotate_identity_kek(dev_dir)
    keys = GatewayKeys.load(dev_dir)
    assert [(e.id, e.active) for e in keys.identity_keks] == [
        (first, False),
        (second, False),
        (third, True),
    ]


def test_rotate_identity_kek_without_keys_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="gateway keys init"):
        GatewayKeys.rotate_identity_kek(tmp_path / "nowhere")


def test_rotating_signing_keys_keeps_the_identity_keks(dev_dir: Path) -> None:
    GatewayKeys.rotate_identity_kek(dev_dir)
    before = GatewayKeys.load(dev_dir)
    GatewayKeys.rotate(dev_dir)
    after = GatewayKeys.load(dev_dir)
    assert after.identity_keks == before.identity_keks
    sealed = before.identity_cipher().encrypt(b"identity", b"row-1")
    assert after.identity_cipher().decrypt(sealed, b"row-1") == b"identity"


def test_identity_cipher_survives_a_reload(dev_dir: Path) -> None:
    sealed = GatewayKeys.load(dev_dir).identity_cipher().encrypt(b"Jeanne Dupont", b"row-1")
    reloaded = GatewayKeys.load(dev_dir).identity_cipher()
    assert reloaded.decrypt(sealed, b"row-1") == b"Jeanne Dupont"
    with pytest.raises(Tampered):
        reloaded.decrypt(sealed, b"row-2")


def test_identity_cipher_across_a_rotation(dev_dir: Path) -> None:
    before = GatewayKeys.load(dev_dir).identity_cipher()
    old = before.encrypt(b"Jeanne Dupont", b"row-1")
    new_id = GatewayKeys.rotate_identity_kek(dev_dir)
    after = GatewayKeys.load(dev_dir).identity_cipher()
    # Old records still open; new ones are wrapped under the new KEK.
    assert after.decrypt(old, b"row-1") == b"Jeanne Dupont"
    new = after.encrypt(b"Jean Martin", b"row-2")
    assert new.kek_id == new_id
    # A cipher loaded before the rotation does not know the new KEK.
    with pytest.raises(UnknownKey):
        before.decrypt(new, b"row-2")
    rewrapped = after.rewrap(old)
    assert rewrapped.kek_id == new_id
    assert rewrapped.ciphertext == old.ciphertext
    assert GatewayKeys.load(dev_dir).identity_cipher().decrypt(rewrapped, b"row-1") == (
        b"Jeanne Dupont"
    )


def test_another_key_directory_cannot_open_identities(dev_dir: Path, tmp_path: Path) -> None:
    sealed = GatewayKeys.load(dev_dir).identity_cipher().encrypt(b"identity", b"row-1")
    other = GatewayKeys.init(tmp_path / "other", Environment.DEVELOPMENT).identity_cipher()
    with pytest.raises(IdentityCryptoError):
        other.decrypt(sealed, b"row-1")


def test_check_production_accepts_rotated_identity_keks(prod_dir: Path) -> None:
    GatewayKeys.rotate_identity_kek(prod_dir)
    GatewayKeys.load(prod_dir).check_production(prod_dir)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
@pytest.mark.parametrize("which", ["blind-index", "identity-kek", "rotated-identity-kek"])
def test_check_production_refuses_identity_secrets_others_can_read(
    prod_dir: Path, which: str, mode: int
) -> None:
    if which == "blind-index":
        path = prod_dir / "secrets" / "blind-index.key"
    elif which == "identity-kek":
        path = _kek_path(prod_dir, GatewayKeys.load(prod_dir).active_identity_kek().id)
    else:
        path = _kek_path(prod_dir, GatewayKeys.rotate_identity_kek(prod_dir))
    path.chmod(mode)
    with pytest.raises(KeyStoreError, match="chmod 600") as refused:
        GatewayKeys.load(prod_dir).check_production(prod_dir)
    assert str(path) in str(refused.value)
