"""Posting one batch to a fund's push endpoint, and reading what came back.

Transport only: what the answer means (a valid receipt, or not) is the gateway's to
decide. Every failure (refused connection, timeout, TLS, an unexpected status) comes
back as a ``PushResult`` with a short error, never as an exception.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from connectors import wire

if TYPE_CHECKING:
    from pathlib import Path

MAX_ANSWER_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class PushResult:
    status_code: int | None
    body: bytes
    error: str | None
    duration_ms: int

    @property
    def answered(self) -> bool:
        return self.status_code == httpx.codes.OK and self.error is None


def client(
    *,
    timeout_s: float,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An HTTP client for pushes: the timeout, and a client certificate for mutual TLS."""
    tls: ssl.SSLContext | bool = True
    if client_cert is not None:
        tls = ssl.create_default_context()
        tls.load_cert_chain(client_cert, client_key)
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s),
        verify=tls,
        transport=transport,
        follow_redirects=False,
    )


def push_batch(
    http: httpx.Client,
    endpoint: str,
    *,
    batch_id: str,
    seq: int,
    digest: str,
    content: bytes,
) -> PushResult:
    """POST the batch's exact bytes; the fund's answer, or why there is none."""
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    headers = {
        "Content-Type": wire.JOSE_MEDIA_TYPE,
        "Accept": wire.JOSE_MEDIA_TYPE,
        wire.BATCH_ID_HEADER: batch_id,
        wire.BATCH_SEQ_HEADER: str(seq),
        wire.DIGEST_HEADER: digest,
    }
    try:
        with http.stream("POST", endpoint, content=content, headers=headers) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    return PushResult(response.status_code, b"", "answer too large", elapsed())
    except httpx.TimeoutException:
        return PushResult(None, b"", "timed out", elapsed())
    except httpx.HTTPError as error:
        return PushResult(None, b"", f"{type(error).__name__}: {str(error)[:200]}", elapsed())
    if response.status_code != httpx.codes.OK:
        return PushResult(
            response.status_code, body, f"answered HTTP {response.status_code}", elapsed()
        )
    return PushResult(response.status_code, body, None, elapsed())
