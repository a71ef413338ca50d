"""Key rotation: the next batch key is published before it signs; the fund never stalls.

The operator rotates the batch-signing key with a short lead time. The running server
publishes the new key at once, without a restart, while batches are still signed with
the old one; once the lead time has passed, batches are signed with the new key. The
fund fetched the JWKS once, right after the rotation, and verifies the batches signed
before and after it with that one copy.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from audit.actions import AuditAction
from demo.delivery import fund_pulls, seal_now
from demo.intake import _decision
from demo.stage import client, console
from gateway.auditlog.writer import record
from gateway.keys import GatewayKeys, KeyUse
from policies.loader import DEFAULT_POLICY, load_file

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from demo.stage import DemoParticipant, Outcome
    from gateway.settings import Settings

LEAD = timedelta(seconds=3)  # a day in production (GATEWAY_KEY_PUBLISH_AHEAD_SECONDS)


def _published(base_url: str, kid: str) -> dict[str, Any] | None:
    """The JWKS once it lists ``kid`` (the server re-reads the keyring on its own)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        jwks: dict[str, Any] = httpx.get(f"{base_url}/.well-known/jwks.json", timeout=10).json()
        if any(key.get("kid") == kid for key in jwks.get("keys", [])):
            return jwks
        time.sleep(0.2)
    return None


def _decide_and_seal(
    base_url: str,
    settings: Settings,
    sessions: sessionmaker[Session],
    prefecture: DemoParticipant,
    reference: str,
    number: int,
    outcome: Outcome,
) -> str:
    """pref-75 posts one decision (an even ``number``: a resident of 75); it is sealed.

    Returns the kid of the key that signed it: the one in force when the sealer read the
    keyring, as the worker reads it before each run.
    """
    with client(base_url, prefecture) as pref:
        posted = pref.request(
            "POST",
            "/v1/decisions",
            purpose="decision-transmission",
            json=_decision(reference, "renewal-refusal", number),
        )
    outcome.expect(
        f"pref-75 posts {reference}: {posted.status_code}",
        posted.status_code == httpx.codes.CREATED,
    )
    keys = GatewayKeys.load(settings.key_dir)  # what the worker does before each run
    signing, _ = keys.active(KeyUse.BATCH)
    seal_now(sessions, keys, load_file(DEFAULT_POLICY), outcome.expect)
    return signing.kid


def scene(
    base_url: str,
    settings: Settings,
    sessions: sessionmaker[Session],
    by_id: dict[str, DemoParticipant],
    workdir: Path,
    outcome: Outcome,
) -> None:
    console.rule("[bold]Key rotation: the next batch key is published before it signs")
    before = GatewayKeys.load(settings.key_dir).active(KeyUse.BATCH)[0].kid
    (entry,) = GatewayKeys.rotate(settings.key_dir, [KeyUse.BATCH], publish_ahead=LEAD)
    rotated_at = time.monotonic()
    with sessions.begin() as session:
        record(session, AuditAction.KEYS_ROTATED, object_ids=[entry.kid], detail={"via": "demo"})
    jwks = _published(base_url, entry.kid)
    outcome.expect(
        f"the running server publishes the next batch key {entry.kid} without a restart, "
        f"{LEAD.seconds} s before it signs (the old key {before} still signs)",
        jwks is not None,
    )
    if jwks is None:
        return
    prefecture, cpam = by_id["pref-75"], by_id["cpam-75"]
    old = _decide_and_seal(base_url, settings, sessions, prefecture, "PP-2026-0900", 900, outcome)
    time.sleep(max(0.0, LEAD.total_seconds() - (time.monotonic() - rotated_at)) + 0.2)
    new = _decide_and_seal(base_url, settings, sessions, prefecture, "PP-2026-0902", 902, outcome)
    outcome.expect(
        f"the batch sealed before the switch is signed with {old}, the one after with {new}",
        (old, new) == (before, entry.kid),
    )
    with client(base_url, cpam) as cpam_client:
        records = fund_pulls(
            cpam_client, jwks, cpam.id, cpam.key, f"{cpam.id}-1", cpam.alg, workdir, outcome.expect
        )
    references = {record["data"].get("reference") for record in records}
    outcome.expect(
        "cpam-75 verifies both batches with the one JWKS it fetched after the rotation",
        {"PP-2026-0900", "PP-2026-0902"} <= references,
    )
