"""A key rotation under load: two servers, a signer, a fund; nothing restarted, nothing refused.

Two ``gateway serve`` processes share one database and one key directory; a signer loads
the keys afresh for each run, as the worker does; a fund verifies every batch against the
JWKS it caches as the gateway's headers allow. The batch key is rotated in the middle:
the new key is published ahead of its first signature, so the fund's cache always holds
the key of the batch it verifies.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
import pytest

from connectors.client import GatewayClient
from connectors.fund import verify_batch
from connectors.fund.jwks import JwksCache
from gateway.keys import GatewayKeys, KeyUse
from gateway.participants.models import Regime
from gateway.settings import Environment
from tests.support.actors import register, seal
from tests.support.database import sessions_on
from tests.support.factories import decision
from tests.support.processes import gateway_process

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

AHEAD_S = 4  # publish-ahead: the servers' JWKS max-age is a quarter of it at most
ENV = {
    "GATEWAY_KEY_RELOAD_SECONDS": "0.2",
    "GATEWAY_KEY_PUBLISH_AHEAD_SECONDS": str(AHEAD_S),
    "GATEWAY_JWKS_MAX_AGE_SECONDS": "1",
}


def test_a_fund_verifies_every_batch_across_a_rotation_without_a_restart(
    migrated_database_url: str, tmp_path: Path
) -> None:
    key_dir = tmp_path / "keys"
    GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    with sessions_on(migrated_database_url) as sessions, sessions.begin() as session:
        prefecture = register(session, "prefecture", departements=["75"])
        fund = register(session, "fund", departements=["75"], regime=Regime.CPAM)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    with (
        gateway_process(migrated_database_url, key_dir, log_path=log_a, env=ENV) as (url_a, _),
        gateway_process(migrated_database_url, key_dir, log_path=log_b, env=ENV) as (url_b, _),
        GatewayClient(url_a, prefecture.id, prefecture.key) as posting,
        GatewayClient(url_b, fund.id, fund.key) as pulling,
        JwksCache(f"{url_a}/.well-known/jwks.json") as jwks,
    ):
        headers = httpx.get(f"{url_b}/.well-known/jwks.json").headers
        assert headers["Cache-Control"] == "public, max-age=1"
        assert headers["ETag"]
        old_kid = GatewayKeys.load(key_dir).active(KeyUse.BATCH)[0].kid
        new_kid = None
        last_digest: str | None = None
        kids: list[str] = []
        seq = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            posted = posting.request(
                "POST",
                "/v1/decisions",
                purpose=prefecture.purpose,
                json=decision(f"ROT-{seq + 1}"),
            )
            assert posted.status_code == 201, posted.text
            with sessions_on(migrated_database_url) as signing:
                (sealed,) = seal(signing, GatewayKeys.load(key_dir))  # as the worker: afresh
            seq += 1
            content = pulling.request(
                "GET", f"/v1/batches/{sealed.id}", purpose=fund.purpose, agent_id="agent-1"
            ).content
            verified = verify_batch(
                content,
                jwks=jwks.get(),
                fund_id=fund.id,
                expected_seq=seq,
                previous_digest=last_digest,
            )
            last_digest = verified.digest
            kids.append(verified.kid)
            if seq == 2:
                (added,) = GatewayKeys.rotate(
                    key_dir, [KeyUse.BATCH], publish_ahead=timedelta(seconds=AHEAD_S)
                )
                new_kid = added.kid
                time.sleep(0.5)  # past the servers' reload interval
                for url in (url_a, url_b):  # published by both, signing with neither
                    published = httpx.get(f"{url}/.well-known/jwks.json").json()["keys"]
                    assert new_kid in {key["kid"] for key in published}
            if new_kid is not None and kids[-1] == new_kid and kids.count(new_kid) >= 2:
                break
            time.sleep(0.4)
        assert kids[0] == old_kid
        assert new_kid in kids, kids
        # Old first, then new: never back, and no batch the fund could not verify.
        switch = kids.index(new_kid)
        assert set(kids[:switch]) == {old_kid}
        assert set(kids[switch:]) == {new_kid}
        # The fund asked the gateway about once a second, not once per batch.
        assert jwks.fetches < len(kids) + 2
