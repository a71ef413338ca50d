"""Access tokens verified once per server process: the cache never changes a verdict.

Whatever a token becomes (any character replaced), the cached answer is the one a fresh
verification gives; an expired token is refused though its signature was checked before;
a token is checked anew under another keyring.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from gateway.auth import tokens
from gateway.keys import GatewayKeys
from gateway.settings import Environment

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.settings import Settings

TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


def issued(keys: GatewayKeys, config: Settings, now: int) -> str:
    return tokens.issue(
        keys, config, participant_id="fund-1", kind="fund", scopes=["batches:read"], now=now
    )


def verdict(
    keys: GatewayKeys, config: Settings, token: str, now: int, verified: tokens.VerifiedTokens
) -> dict[str, object] | str:
    try:
        return tokens.verify(keys, config, token, now=now, verified=verified)
    except tokens.InvalidAccessToken as error:
        return str(error)


@examples(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_cached_verdict_is_the_fresh_one_whatever_the_token_becomes(
    gateway_keys: GatewayKeys, settings: Settings, data: st.DataObject
) -> None:
    now = int(time.time())
    token = issued(gateway_keys, settings, now)
    warm = tokens.VerifiedTokens()
    assert verdict(gateway_keys, settings, token, now, warm) == verdict(
        gateway_keys, settings, token, now, tokens.VerifiedTokens()
    )
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(TOKEN_ALPHABET))
    altered = token[:position] + replacement + token[position + 1 :]
    for attempt in (altered, token):
        fresh = verdict(gateway_keys, settings, attempt, now, tokens.VerifiedTokens())
        assert verdict(gateway_keys, settings, attempt, now, warm) == fresh


def test_an_expired_token_is_refused_though_its_signature_was_checked(
    gateway_keys: GatewayKeys, settings: Settings
) -> None:
    now = int(time.time())
    token = issued(gateway_keys, settings, now)
    verified = tokens.VerifiedTokens()
    tokens.verify(gateway_keys, settings, token, now=now, verified=verified)
    later = now + settings.access_token_lifetime_s + settings.clock_leeway_s + 1
    with pytest.raises(tokens.InvalidAccessToken, match="expired"):
        tokens.verify(gateway_keys, settings, token, now=later, verified=verified)


def test_another_keyring_checks_the_token_anew(
    gateway_keys: GatewayKeys, settings: Settings, tmp_path: Path
) -> None:
    now = int(time.time())
    token = issued(gateway_keys, settings, now)
    verified = tokens.VerifiedTokens()
    tokens.verify(gateway_keys, settings, token, now=now, verified=verified)
    other = GatewayKeys.init(tmp_path / "other", Environment.DEVELOPMENT)
    with pytest.raises(tokens.InvalidAccessToken, match="not signed by this gateway"):
        tokens.verify(other, settings, token, now=now, verified=verified)


def test_the_most_recent_tokens_are_held_up_to_the_limit(
    gateway_keys: GatewayKeys, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens.VerifiedTokens, "MAX_TOKENS", 3)
    now = int(time.time())
    verified = tokens.VerifiedTokens()
    given_tokens = [issued(gateway_keys, settings, now) for _ in range(4)]
    for token in given_tokens:
        tokens.verify(gateway_keys, settings, token, now=now, verified=verified)
    assert verified.get(gateway_keys, given_tokens[0]) is None
    assert all(verified.get(gateway_keys, token) is not None for token in given_tokens[1:])
