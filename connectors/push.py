"""Posting batches to a fund's push endpoint, and reading what came back.

Transport only: what the answer means (a valid receipt, or not) is the gateway's to
decide. Every failure (refused connection, timeout, TLS, an unexpected status) comes
back as a ``PushResult`` with a short error, never as an exception.

One attempt is bounded in total: connecting, sending the batch and reading the whole
answer end within ``attempt_s`` seconds, however the endpoint paces its bytes (an
answer trickled a byte at a time never holds an attempt longer). ``timeout_s`` still
bounds each step (connecting, each write, each read) on its own.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

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


def tls_context(client_cert: Path | None = None, client_key: Path | None = None) -> ssl.SSLContext:
    """What verifies endpoints: the default trust, and a client certificate if given.

    Made once and shared by every channel: loading the trusted roots takes a good part of
    a second. The certificate is for mutual TLS.
    """
    context = httpx.create_ssl_context()
    if client_cert is not None:
        context.load_cert_chain(client_cert, client_key)
    return context


class Channel:
    """Pushes from one thread: an event loop and an HTTP client of its own.

    Kept across the batches pushed to a fund in a row (one connection, kept alive). Not
    shared between threads; close it (or use it as a context manager) when done.
    """

    def __init__(
        self,
        *,
        attempt_s: float,
        timeout_s: float,
        tls: ssl.SSLContext | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.attempt_s = attempt_s
        self._runner = asyncio.Runner()
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(min(timeout_s, attempt_s)),
            verify=tls or tls_context(),
            transport=transport,
            follow_redirects=False,
        )

    def push_batch(
        self, endpoint: str, *, batch_id: str, seq: int, digest: str, content: bytes
    ) -> PushResult:
        """POST the batch's exact bytes; the fund's answer, or why there is none.

        Within ``attempt_s`` seconds in all, however the endpoint paces its bytes.
        """
        return self._runner.run(
            _push(
                self._http,
                endpoint,
                self.attempt_s,
                batch_id=batch_id,
                seq=seq,
                digest=digest,
                content=content,
            )
        )

    def close(self) -> None:
        try:
            self._runner.run(self._http.aclose())
        finally:
            self._runner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


async def _push(
    http: httpx.AsyncClient,
    endpoint: str,
    attempt_s: float,
    *,
    batch_id: str,
    seq: int,
    digest: str,
    content: bytes,
) -> PushResult:
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
        # The deadline cancels whatever is under way (connecting, sending, reading), and
        # the cancelled request's connection is closed, never reused.
        async with asyncio.timeout(attempt_s):
            async with http.stream("POST", endpoint, content=content, headers=headers) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        return PushResult(response.status_code, b"", "answer too large", elapsed())
    except TimeoutError:
        return PushResult(None, b"", f"timed out: no whole answer in {attempt_s:g} s", elapsed())
    except httpx.TimeoutException:
        return PushResult(None, b"", "timed out", elapsed())
    except httpx.HTTPError as error:
        return PushResult(None, b"", f"{type(error).__name__}: {str(error)[:200]}", elapsed())
    if response.status_code != httpx.codes.OK:
        return PushResult(
            response.status_code, bytes(body), f"answered HTTP {response.status_code}", elapsed()
        )
    return PushResult(response.status_code, bytes(body), None, elapsed())
