"""``gateway participants``: add (and every refusal), list, show, suspend and reactivate, on
SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import ECKey, OctKey, OKPKey
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.storage import migrate
from tests.support.cli import Cli

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from pathlib import Path


# -- participants add ------------------------------------------------------------------


def test_add_a_prefecture(cli: Cli, add: Callable[..., str]) -> None:
    assert add("pref-75", "prefecture", "-d", "75") == "registered prefecture pref-75"
    shown = cli.show("pref-75")
    assert shown["kind"] == "prefecture"
    assert shown["departements"] == ["75"]
    assert shown["status"] == "active"
    assert shown["regime"] is None
    assert shown["require_dpop"] is False
    assert shown["has_encryption_key"] is False
    assert len(shown["key_ids"]) == 1
    events = cli.events("participant:created")
    assert len(events) == 1
    assert events[0].object_ids == ["pref-75"]
    assert events[0].detail["via"] == "cli"
    assert events[0].detail["kind"] == "prefecture"
    assert events[0].detail["os_user"]


def test_add_a_fund_with_regime_and_territory(cli: Cli, add: Callable[..., str]) -> None:
    add("cpam-13", "fund", "--regime", "cpam", "-d", "13", "-d", "2a", "-d", "13")
    shown = cli.show("cpam-13")
    assert shown["kind"] == "fund"
    assert shown["regime"] == "cpam"
    assert shown["departements"] == ["13", "2A"]


def test_add_a_national_auditor(cli: Cli, add: Callable[..., str]) -> None:
    add("igas", "auditor", "--national")
    shown = cli.show("igas")
    assert shown["national"] is True
    assert shown["departements"] == []


def test_add_an_operator(cli: Cli, add: Callable[..., str]) -> None:
    add("ops-1", "operator")
    assert cli.show("ops-1")["kind"] == "operator"


def test_add_a_delegate_that_requires_dpop(cli: Cli, add: Callable[..., str]) -> None:
    add("cpam-13", "fund", "--regime", "cpam", "-d", "13")
    add("cpam-75", "fund", "--regime", "cpam", "-d", "75")
    add(
        "cnam-it",
        "fund",
        "--regime",
        "cpam",
        "--acts-for",
        "cpam-75",
        "--acts-for",
        "cpam-13",
        "--require-dpop",
    )
    shown = cli.show("cnam-it")
    assert shown["acts_for"] == ["cpam-13", "cpam-75"]
    assert shown["departements"] == []
    assert shown["require_dpop"] is True
    listed = cli.run("participants", "list")
    assert "cpam-13 cpam-75" in listed


@pytest.mark.parametrize("curve", ["X25519", "P-256"])
def test_add_a_fund_with_an_encryption_key(cli: Cli, add: Callable[..., str], curve: str) -> None:
    key: OKPKey | ECKey
    if curve == "X25519":
        key = OKPKey.generate_key("X25519", private=True)
    else:
        key = ECKey.generate_key("P-256", private=True)
    encryption = cli.jwk_file("enc", key.as_dict(private=False))
    add("caf-13", "fund", "--regime", "caf", "-d", "13", "--encryption-key", encryption)
    assert cli.show("caf-13")["has_encryption_key"] is True


def test_add_keeps_the_kid_of_a_jwks(cli: Cli) -> None:
    key = ECKey.generate_key("P-256", private=True)
    public = key.as_dict(private=False)
    public["kid"] = "prefecture-2025"
    jwks = cli.jwk_file("jwks", {"keys": [public]})
    cli.run(
        *("participants", "add", "pref-13", "--kind", "prefecture", "--name", "Marseille"),
        *("--jwk", jwks, "-d", "13"),
    )
    assert cli.show("pref-13")["key_ids"] == ["prefecture-2025"]


# -- participants add: refusals --------------------------------------------------------


def _refused(cli: Cli, *args: str) -> str:
    """Run a refused ``participants add`` and check that nothing was registered."""
    result = CliRunner().invoke(app, ["participants", "add", *args], env=cli.env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    participant_id = args[0]
    assert f"no participant '{participant_id}'" in cli.run(
        "participants", "show", participant_id, code=1
    )
    assert all(participant_id not in e.object_ids for e in cli.events("participant:created"))
    return " ".join(result.output.split())


def _base(jwk: str, participant_id: str = "pref-13") -> list[str]:
    return [participant_id, "--kind", "prefecture", "--name", "Marseille", "--jwk", jwk]


def test_refuses_a_private_jwk(cli: Cli) -> None:
    key = ECKey.generate_key("P-256", private=True)
    jwk = cli.jwk_file("private", key.as_dict(private=True))
    output = _refused(cli, *_base(jwk), "-d", "13")
    assert "private or symmetric key" in output
    assert "'d'" in output
    assert str(key.as_dict(private=True)["d"]) not in output


def test_refuses_a_symmetric_key(cli: Cli) -> None:
    jwk = cli.jwk_file("oct", OctKey.generate_key(256).as_dict(private=True))
    output = _refused(cli, *_base(jwk), "-d", "13")
    assert "private or symmetric key" in output


def test_refuses_an_hs256_key_without_secret(cli: Cli) -> None:
    jwk = cli.jwk_file("hs", {"kty": "oct", "alg": "HS256", "kid": "shared"})
    output = _refused(cli, *_base(jwk), "-d", "13")
    assert "unsupported key type 'oct'" in output


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
def test_refuses_a_1024_bit_rsa_key(cli: Cli) -> None:
    weak = rsa.generate_private_key(65537, 1024)  # noqa: S505 - the weak key is the point
    numbers = weak.public_key().public_numbers()
    jwk = cli.jwk_file("rsa", {"kty": "RSA", "n": _b64(numbers.n), "e": _b64(numbers.e)})
    output = _refused(cli, *_base(jwk), "-d", "13")
    assert "RSA keys need at least 2048 bits" in output


@pytest.mark.parametrize("code", ["20", "99", "00", "970"])
def test_refuses_a_bad_departement(cli: Cli, code: str) -> None:
    output = _refused(cli, *_base(cli.public_jwk("k")), "-d", code)
    assert f"'{code}' is not a département code" in output


def test_refuses_a_fund_without_regime(cli: Cli) -> None:
    jwk = cli.public_jwk("k")
    output = _refused(cli, "cpam-13", "--kind", "fund", "--name", "CPAM", "--jwk", jwk, "-d", "13")
    assert "a fund needs a regime" in output


def test_refuses_a_prefecture_without_departement(cli: Cli) -> None:
    output = _refused(cli, *_base(cli.public_jwk("k")))
    assert "a prefecture needs its département code(s)" in output


def test_refuses_a_duplicate_id(cli: Cli, add: Callable[..., str]) -> None:
    add("pref-13", "prefecture", "-d", "13")
    before = cli.show("pref-13")
    output = add("pref-13", "prefecture", "-d", "75", code=1)
    assert "participant 'pref-13' already exists" in output
    assert cli.show("pref-13") == before
    assert len(cli.events("participant:created")) == 1


def test_refuses_acts_for_an_unknown_participant(cli: Cli) -> None:
    jwk = cli.public_jwk("k")
    output = _refused(
        cli,
        *("cnam-it", "--kind", "fund", "--name", "CNAM", "--jwk", jwk, "--regime", "cpam"),
        *("--acts-for", "cpam-99"),
    )
    assert "'cpam-99' is not a registered fund" in output


def test_refuses_acts_for_a_participant_of_another_kind(add: Callable[..., str]) -> None:
    add("pref-13", "prefecture", "-d", "13")
    output = add("cnam-it", "fund", "--regime", "cpam", "--acts-for", "pref-13", code=1)
    assert "'pref-13' is not a registered fund" in output


@pytest.mark.parametrize("problem", ["missing", "directory", "not-json"])
def test_refuses_an_unreadable_file(cli: Cli, problem: str) -> None:
    path = cli.files / "key.json"
    if problem == "directory":
        path.mkdir()
    elif problem == "not-json":
        path.write_text("-----BEGIN PUBLIC KEY-----\n")
    output = _refused(cli, *_base(str(path)), "-d", "13")
    assert f"cannot read {path}" in output


def test_refuses_an_unreadable_encryption_key(cli: Cli) -> None:
    missing = str(cli.files / "missing.json")
    jwk = cli.public_jwk("k")
    output = _refused(
        cli,
        *("caf-13", "--kind", "fund", "--name", "CAF", "--jwk", jwk, "--regime", "caf"),
        *("-d", "13", "--encryption-key", missing),
    )
    assert f"cannot read {missing}" in output


def test_refuses_a_signing_key_as_encryption_key(cli: Cli) -> None:
    signing = OKPKey.generate_key("Ed25519", private=True).as_dict(private=False)
    jwk = cli.public_jwk("k")
    output = _refused(
        cli,
        *("caf-13", "--kind", "fund", "--name", "CAF", "--jwk", jwk, "--regime", "caf"),
        *("-d", "13", "--encryption-key", cli.jwk_file("ed", signing)),
    )
    assert "encryption keys must be EC (P-256/384/521) or X25519" in output


# -- participants list, show, suspend, reactivate --------------------------------------


def test_list_shows_every_participant(cli: Cli, add: Callable[..., str]) -> None:
    add("pref-75", "prefecture", "-d", "75")
    add("cpam-13", "fund", "--regime", "cpam", "-d", "13")
    add("igas", "auditor", "--national")
    listed = cli.run("participants", "list")
    for expected in ("pref-75", "cpam-13", "igas", "national", "cpam", "active"):
        assert expected in listed
    funds = cli.run("participants", "list", "--kind", "fund")
    assert "cpam-13" in funds
    assert "pref-75" not in funds
    assert "igas" not in funds


def test_show_prints_json_with_key_ids(cli: Cli) -> None:
    key = ECKey.generate_key("P-256", private=True)
    public = key.as_dict(private=False)
    jwk = cli.jwk_file("k", public)
    cli.run(
        *("participants", "add", "pref-75", "--kind", "prefecture", "--name", "Paris"),
        *("--jwk", jwk, "-d", "75"),
    )
    shown = cli.show("pref-75")
    assert shown["id"] == "pref-75"
    assert shown["name"] == "Paris"
    assert shown["key_ids"] == [key.thumbprint()]
    assert "jwks" not in shown


def test_show_an_unknown_participant_fails(cli: Cli) -> None:
    assert "no participant 'nobody'" in cli.run("participants", "show", "nobody", code=1)


def test_suspend_and_reactivate(cli: Cli, add: Callable[..., str]) -> None:
    add("cpam-13", "fund", "--regime", "cpam", "-d", "13")
    assert cli.run("participants", "suspend", "cpam-13") == "cpam-13 is suspended"
    assert cli.show("cpam-13")["status"] == "suspended"
    assert "suspended" in cli.run("participants", "list")
    assert cli.run("participants", "reactivate", "cpam-13") == "cpam-13 is active"
    assert cli.show("cpam-13")["status"] == "active"
    for action in ("participant:suspended", "participant:reactivated"):
        events = cli.events(action)
        assert len(events) == 1
        assert events[0].object_ids == ["cpam-13"]
        assert events[0].detail["via"] == "cli"


def test_suspend_an_unknown_participant_fails_without_audit(cli: Cli) -> None:
    assert "no participant 'nobody'" in cli.run("participants", "suspend", "nobody", code=1)
    assert cli.events("participant:suspended") == []


def test_the_last_active_operator_cannot_be_suspended(cli: Cli, add: Callable[..., str]) -> None:
    add("ops-1", "operator")
    add("ops-2", "operator")
    assert cli.run("participants", "suspend", "ops-1") == "ops-1 is suspended"
    refused = cli.run("participants", "suspend", "ops-2", code=1)
    assert "ops-2 is the last active operator" in refused
    assert cli.show("ops-2")["status"] == "active"
    assert [event.object_ids for event in cli.events("participant:suspended")] == [["ops-1"]]
    # Once another operator is active again, the rule no longer holds ops-2 back.
    assert cli.run("participants", "reactivate", "ops-1") == "ops-1 is active"
    assert cli.run("participants", "suspend", "ops-2") == "ops-2 is suspended"


# -- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def postgres_cli(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_database: Callable[[], Generator[str, None, None]],
) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)
    databases = postgres_database()
    url = next(databases)
    migrate.upgrade(url)
    yield Cli.installed(tmp_path, url)
    databases.close()


def test_add_and_list_on_postgresql(postgres_cli: Cli) -> None:
    cli = postgres_cli
    jwk = cli.public_jwk("k")
    cli.run(
        *("participants", "add", "cpam-13", "--kind", "fund", "--name", "CPAM 13"),
        *("--jwk", jwk, "--regime", "cpam", "-d", "13", "-d", "2B"),
    )
    listed = cli.run("participants", "list")
    assert "cpam-13" in listed
    assert "13 2B" in listed
    assert cli.show("cpam-13")["departements"] == ["13", "2B"]
    cli.run("participants", "suspend", "cpam-13")
    assert cli.show("cpam-13")["status"] == "suspended"
    events = cli.events("participant:created")
    assert [(e.object_ids, e.detail["via"]) for e in events] == [(["cpam-13"], "cli")]


def test_participants_keys_add_and_retire_are_audited(cli: Cli, add: Callable[..., str]) -> None:
    add("pref-75", "prefecture", "-d", "75")
    (old_kid,) = cli.show("pref-75")["key_ids"]
    next_key = ECKey.generate_key("P-256", private=True)
    jwk = cli.jwk_file("next", {**next_key.as_dict(private=False), "kid": "pref-75-next"})
    added = cli.run("participants", "keys", "add", "pref-75", "--jwk", jwk)
    assert "added key pref-75-next to pref-75" in added
    assert cli.show("pref-75")["key_ids"] == [old_kid, "pref-75-next"]
    assert "pref-75-next" in cli.run("participants", "keys", "list", "pref-75")
    assert "already" in cli.run("participants", "keys", "add", "pref-75", "--jwk", jwk, code=1)
    retired = cli.run("participants", "keys", "retire", "pref-75", old_kid)
    assert f"retired key {old_kid} of pref-75" in retired
    assert cli.show("pref-75")["key_ids"] == ["pref-75-next"]
    last = cli.run("participants", "keys", "retire", "pref-75", "pref-75-next", code=1)
    assert "register the next one first" in last
    (added_event,) = cli.events("credential:added")
    (retired_event,) = cli.events("credential:retired")
    assert added_event.object_ids == retired_event.object_ids == ["pref-75"]
    assert (added_event.detail["kid"], retired_event.detail["kid"]) == ("pref-75-next", old_kid)
    assert retired_event.detail["via"] == "cli"
