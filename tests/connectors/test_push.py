"""The push transport: one attempt is bounded in total, whatever the endpoint's pace."""

from __future__ import annotations

import time

from connectors import push
from gateway.keys import GatewayKeys
from tests.support.endpoints import Endpoints


def test_an_answer_trickled_byte_by_byte_is_cut_at_the_attempts_bound(
    gateway_keys: GatewayKeys,
) -> None:
    # A byte every 50 ms: no read ever waits near the 5 s step timeout, the answer takes 5 s.
    with (
        Endpoints(gateway_keys, trickle_every_s=0.05, trickle_for_s=5) as endpoints,
        push.Channel(attempt_s=0.5, timeout_s=5) as channel,
    ):
        started = time.monotonic()
        result = channel.push_batch(
            endpoints.url("slow", "fund-1"),
            batch_id="00000000-0000-7000-8000-000000000001",
            seq=1,
            digest="sha256:" + "0" * 64,
            content=b"batch",
        )
        took = time.monotonic() - started
    assert result.error == "timed out: no whole answer in 0.5 s"
    assert result.status_code is None
    assert not result.answered
    assert 0.5 <= took < 1.0, took
    assert 500 <= result.duration_ms < 1000
    assert endpoints.seqs("fund-1") == [1]


def test_a_refused_connection_is_an_error_not_an_exception() -> None:
    with push.Channel(attempt_s=2, timeout_s=1) as channel:
        result = channel.push_batch(
            "http://127.0.0.1:9/batches",  # discard: nothing listens on loopback
            batch_id="00000000-0000-7000-8000-000000000001",
            seq=1,
            digest="sha256:" + "0" * 64,
            content=b"batch",
        )
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("ConnectError")
