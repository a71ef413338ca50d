"""``gateway audit verify``: an export checked offline, each failing checkpoint named with
its reason and exit status, and checkpoints the auditor kept earlier ruling out an export
rolled back, truncated or rewritten to an older state that is consistent with itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from joserfc.jwk import OKPKey

from audit import merkle
from audit.checkpoints import checkpoint_body, sign_note
from audit.events import event_bytes
from audit.verify import Failure
from gateway.cli.audit import VERIFY_EXIT
from gateway.keys import GatewayKeys, KeyUse

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.support.cli import Cli


@dataclass
class Log:
    """A gateway's log with three checkpoints (sizes 3, 5, 6), its export and public JWKS."""

    cli: Cli
    lines: list[dict[str, Any]]
    jwks: str

    def notes(self) -> dict[int, str]:
        return {
            int(item["note"].split("\n")[1]): item["note"]
            for item in self.lines
            if item["type"] == "checkpoint"
        }

    def root(self, size: int) -> str:
        return self.notes()[size].split("\n")[2]

    def write(self, name: str, lines: list[dict[str, Any]]) -> str:
        path = self.cli.files / name
        path.write_text("".join(json.dumps(item) + "\n" for item in lines))
        return str(path)

    def keep(self, name: str, note: str) -> str:
        """A checkpoint the auditor kept (``GET /v1/audit/checkpoint``), as a file."""
        path = self.cli.files / name
        path.write_text(note)
        return str(path)

    def verify(self, export: str, *options: str, code: int = 0) -> str:
        return self.cli.run("audit", "verify", export, "--jwks", self.jwks, *options, code=code)


@pytest.fixture
def log(cli: Cli, add: Callable[..., str]) -> Log:
    cli.run("keys", "init")
    add("p-1", "auditor", "--national")
    add("p-2", "auditor", "--national")
    assert "checkpoint of size 3" in cli.run("audit", "checkpoint")
    add("p-3", "auditor", "--national")
    add("p-4", "auditor", "--national")
    assert "checkpoint of size 5" in cli.run("audit", "checkpoint")
    add("p-5", "auditor", "--national")
    assert "checkpoint of size 6" in cli.run("audit", "checkpoint")
    export = cli.files / "log.ndjson"
    cli.run("audit", "export", str(export))
    jwks = cli.jwk_file("jwks", GatewayKeys.load(cli.key_dir).public_jwks())
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    return Log(cli, lines, jwks)


def _rolled_back(log: Log, size: int) -> list[dict[str, Any]]:
    """The export cut back to the log of ``size``: later events and checkpoints dropped,
    the proofs remade for that tree, as anyone can from the events themselves."""
    events = [item for item in log.lines if item["type"] == "event"][:size]
    leaves = [merkle.leaf_hash(event_bytes(item["event"])) for item in events]
    for index, item in enumerate(events):
        proof = merkle.inclusion_proof(leaves, index)
        item["proof"] = [base64.b64encode(h).decode() for h in proof]
    notes = [{"type": "checkpoint", "note": n} for s, n in log.notes().items() if s <= size]
    return [*events, *notes]


def _with_note(log: Log, size: int, note: str) -> list[dict[str, Any]]:
    """The export with the checkpoint of ``size`` replaced by ``note``."""
    old = log.notes()[size]
    return [{**item, "note": note} if item.get("note") == old else item for item in log.lines]


def _gateway_key(log: Log) -> OKPKey:
    key = GatewayKeys.load(log.cli.key_dir).active(KeyUse.CHECKPOINT)[1]
    assert isinstance(key, OKPKey)
    return key


def _origin(log: Log) -> str:
    return log.notes()[6].split("\n")[0]


OTHER_ROOT = base64.b64encode(hashlib.sha256(b"another history").digest()).decode()


def test_a_genuine_export_verifies_alone_and_against_the_checkpoints_kept_before(
    log: Log,
) -> None:
    export = log.write("genuine.ndjson", log.lines)
    assert "verified: 6 events, 3 signed checkpoints" in log.verify(export)
    kept = log.keep("kept-3.note", log.notes()[3])
    output = log.verify(
        export,
        "--trusted-checkpoint",
        kept,
        "--trusted-size",
        "6",
        "--trusted-root",
        log.root(6),
    )
    assert "extends the trusted checkpoint of size 3" in output
    assert "extends the trusted checkpoint of size 6" in output


def test_an_export_rolled_back_to_an_older_consistent_state_fails_only_against_a_trusted_one(
    log: Log,
) -> None:
    older = log.write("older.ndjson", _rolled_back(log, 5))
    assert "verified: 5 events, 2 signed checkpoints" in log.verify(older)  # self-consistent

    latest = log.keep("kept-6.note", log.notes()[6])
    rolled_back = VERIFY_EXIT[Failure.ROLLED_BACK]
    output = log.verify(older, "--trusted-checkpoint", latest, code=rolled_back)
    assert "FAILED (rolled-back): the export is rolled back or truncated" in output
    assert (
        f"its last checkpoint, of size 5, is older than the trusted checkpoint in {latest}"
        in output
    )
    assert f"{latest}, of size 6" in output
    output = log.verify(
        older, "--trusted-size", "6", "--trusted-root", log.root(6), code=rolled_back
    )
    assert "older than the trusted checkpoint, of size 6" in output
    # Trusting an older state still passes: the export extends it.
    assert "verified" in log.verify(older, "--trusted-size", "3", "--trusted-root", log.root(3))


def test_a_checkpoint_with_its_root_changed_is_named_with_its_reason(log: Log) -> None:
    note = log.notes()[5]
    origin, size, _root, *rest = note.split("\n")
    changed = "\n".join([origin, size, OTHER_ROOT, *rest])
    export = log.write("altered.ndjson", _with_note(log, 5, changed))
    output = log.verify(export, code=VERIFY_EXIT[Failure.BAD_SIGNATURE])
    assert "FAILED (bad-signature): the checkpoint of size 5 does not verify" in output
    assert "bad signature" in output

    stranger = OKPKey.generate_key("Ed25519", private=True)
    forged = sign_note(checkpoint_body(origin, 5, base64.b64decode(OTHER_ROOT)), origin, stranger)
    export = log.write("forged.ndjson", _with_note(log, 5, forged))
    output = log.verify(export, code=VERIFY_EXIT[Failure.UNKNOWN_KEY])
    assert "FAILED (unknown-key): the checkpoint of size 5 does not verify" in output
    assert "unknown key" in output

    # Signed by the gateway's own key, over a root that is not the events': a gateway
    # showing the auditor another history than the one it logged.
    lying = sign_note(
        checkpoint_body(origin, 5, base64.b64decode(OTHER_ROOT)), origin, _gateway_key(log)
    )
    export = log.write("lying.ndjson", _with_note(log, 5, lying))
    output = log.verify(export, code=VERIFY_EXIT[Failure.ROOT_MISMATCH])
    assert "FAILED (root-mismatch): the checkpoint of size 5 does not match the events" in output
    assert "FAILED (inconsistent): the checkpoint of size 6 is not consistent with" in output


def test_a_trusted_root_the_export_does_not_have_fails_naming_it(log: Log) -> None:
    export = log.write("genuine.ndjson", log.lines)
    inconsistent = VERIFY_EXIT[Failure.INCONSISTENT]
    output = log.verify(
        export, "--trusted-size", "3", "--trusted-root", OTHER_ROOT, code=inconsistent
    )
    assert (
        "FAILED (inconsistent): the checkpoint of size 6 is not consistent with the trusted "
        "checkpoint, of size 3: the export's first 3 events have another root"
    ) in output
    # A checkpoint the gateway signed for the auditor earlier, of another history: a fork.
    origin = _origin(log)
    fork = log.keep(
        "fork.note",
        sign_note(
            checkpoint_body(origin, 4, base64.b64decode(OTHER_ROOT)), origin, _gateway_key(log)
        ),
    )
    output = log.verify(export, "--trusted-checkpoint", fork, code=inconsistent)
    assert f"not consistent with the trusted checkpoint in {fork}, of size 4" in output


def test_trusted_values_that_cannot_be_used_are_refused(log: Log) -> None:
    export = log.write("genuine.ndjson", log.lines)
    assert "together" in log.verify(export, "--trusted-size", "3", code=2)
    assert "together" in log.verify(export, "--trusted-root", log.root(3), code=2)
    assert "not base64" in log.verify(
        export, "--trusted-size", "3", "--trusted-root", "not base64!", code=2
    )
    short = base64.b64encode(b"\x00" * 31).decode()
    assert "31 bytes" in log.verify(export, "--trusted-size", "3", "--trusted-root", short, code=2)
    stranger = OKPKey.generate_key("Ed25519", private=True)
    origin = _origin(log)
    unknown = log.keep(
        "unknown.note", sign_note(checkpoint_body(origin, 3, b"\x00" * 32), origin, stranger)
    )
    output = log.verify(export, "--trusted-checkpoint", unknown, code=2)
    assert f"cannot use the trusted checkpoint {unknown}" in output
    assert "unknown key" in output
    assert "cannot use" in log.verify(
        export, "--trusted-checkpoint", str(log.cli.files / "none.note"), code=2
    )


def test_every_failure_has_its_exit_status() -> None:
    assert set(VERIFY_EXIT) == {str(failure) for failure in Failure}
    assert 0 not in VERIFY_EXIT.values()
    assert 2 not in VERIFY_EXIT.values()  # files that cannot be read or used
