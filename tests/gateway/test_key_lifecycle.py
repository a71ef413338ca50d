"""The key lifecycle: the next key published before it signs, retired keys kept for a
while, the keyring re-read by a running service, and the JWKS's cache headers."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from connectors.fund.jwks import JwksCache
from gateway.key_source import KeySource
from gateway.keys import KEYRING, GatewayKeys, KeyStatus, KeyStoreError, KeyUse
from gateway.settings import Environment
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fastapi.testclient import TestClient


@pytest.fixture
def own_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    GatewayKeys.init(directory, Environment.DEVELOPMENT)
    return directory


def test_the_next_key_is_published_before_it_signs(own_dir: Path) -> None:
    old = GatewayKeys.load(own_dir).active(KeyUse.BATCH)[0]
    (added,) = GatewayKeys.rotate(own_dir, [KeyUse.BATCH], publish_ahead=timedelta(hours=1))
    keys = GatewayKeys.load(own_dir)
    assert added.status == KeyStatus.PENDING
    assert keys.active(KeyUse.BATCH)[0].kid == old.kid  # still signing
    assert added.kid in {key["kid"] for key in keys.public_jwks()["keys"]}
    later = utcnow() + timedelta(hours=1, seconds=1)
    assert keys.active(KeyUse.BATCH, later)[0].kid == added.kid
    statuses = {e.kid: e.status for e in keys.entries_at(later)}
    assert statuses[old.kid] == KeyStatus.RETIRED
    assert statuses[added.kid] == KeyStatus.ACTIVE
    # The other uses are untouched; a pending key is not rotated over.
    assert (
        keys.active(KeyUse.TOKEN, later)[0].kid
        == GatewayKeys.load(own_dir).active(KeyUse.TOKEN)[0].kid
    )
    with pytest.raises(KeyStoreError, match="still waiting to sign"):
        GatewayKeys.rotate(own_dir, [KeyUse.BATCH], publish_ahead=timedelta(hours=1))


def test_retired_keys_stay_published_for_their_retention(own_dir: Path) -> None:
    old = GatewayKeys.load(own_dir).active(KeyUse.CHECKPOINT)[0]
    GatewayKeys.rotate(own_dir, [KeyUse.CHECKPOINT])
    keys = GatewayKeys.load(own_dir)
    soon, late = utcnow() + timedelta(days=29), utcnow() + timedelta(days=31)

    def published(**options: object) -> set[str]:
        return {key["kid"] for key in keys.public_jwks(**options)["keys"]}  # type: ignore[arg-type]

    assert old.kid in published(keep_retired=timedelta(days=30), now=soon)
    assert old.kid not in published(keep_retired=timedelta(days=30), now=late)
    assert old.kid in published(now=late)  # no retention: for ever
    # Whatever it signed still verifies for the gateway itself.
    assert old.kid in {k.kid for k in keys.verification_keys(KeyUse.CHECKPOINT).keys}


def test_a_keyring_written_before_activation_times_still_loads(own_dir: Path) -> None:
    GatewayKeys.rotate(own_dir, [KeyUse.TOKEN])
    path = own_dir / KEYRING
    document = json.loads(path.read_text())
    for key in document["keys"]:
        retired = key.pop("retires_at") is not None
        key.pop("activates_at")
        key["active"] = not retired
    path.write_text(json.dumps(document))
    keys = GatewayKeys.load(own_dir)
    assert sorted(str(e.status) for e in keys.entries if e.use == KeyUse.TOKEN) == [
        "active",
        "retired",
    ]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_running_service_rereads_a_changed_keyring(own_dir: Path) -> None:
    clock = _Clock()
    source = KeySource(own_dir, 5, clock=clock)
    first = source.current()
    identity = source.identity_keys()
    (added,) = GatewayKeys.rotate(own_dir, [KeyUse.BATCH], publish_ahead=timedelta(hours=1))
    assert source.current() is first  # not yet checked
    clock.now = 6
    assert added.kid in {e.kid for e in source.current().entries}
    assert source.identity_keys() is not identity  # built from the new key set
    assert source.identity_keys() is source.identity_keys()


def test_a_broken_keyring_keeps_the_last_keys(own_dir: Path) -> None:
    clock = _Clock()
    source = KeySource(own_dir, 1, clock=clock)
    kids = {e.kid for e in source.current().entries}
    (own_dir / KEYRING).write_text("{not json")
    clock.now = 2
    assert {e.kid for e in source.current().entries} == kids
    assert source.last_error is not None


def test_the_jwks_carries_cache_headers_and_an_etag(client: TestClient) -> None:
    first = client.get("/.well-known/jwks.json")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=300"
    etag = first.headers["ETag"]
    again = client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert not again.content
    other = client.get("/.well-known/jwks.json", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200
    assert other.json() == first.json()


def test_the_jwks_max_age_stays_well_under_the_publish_ahead_time(
    app_client: Callable[..., TestClient],
) -> None:
    short = app_client(key_publish_ahead_seconds=40, jwks_max_age_seconds=300)
    assert short.get("/.well-known/jwks.json").headers["Cache-Control"] == ("public, max-age=10")


def test_a_funds_jwks_cache_honours_max_age_and_revalidates(client: TestClient) -> None:
    clock = _Clock()
    url = "http://testserver/.well-known/jwks.json"
    http: Any = client  # an httpx client, on the test's app
    with JwksCache(url, http=http, clock=clock) as cache:
        document = cache.get()
        assert cache.get() is document
        assert cache.fetches == 1
        clock.now = 301
        assert cache.get() is document  # a 304: the same set
        assert cache.fetches == 2
