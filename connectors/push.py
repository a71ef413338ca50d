"""Posting batches to a fund's push endpoint, and reading what came back.

Transport only: what the answer means (a valid receipt, or not) is the gateway's to
decide. Every failure (refused connection, timeout, TLS, an unexpected status) comes
back as a ``PushResult`` with a short error, never as an exception.

One attempt is bounded in total: connecting, sending the batch and reading the whole
answer end within ``attempt_s`` seconds, however the endpoint paces its bytes (an
answer trickled a byte at a time never holds an attempt longer). ``timeout_s`` still
bounds each step (connecting, each write, each read) on its own.

Every push carries a W3C ``traceparent`` header, so that the fund can follow it in its
own systems and both sides can name it: the active span's when the gateway traces
(``opentelemetry``), else a freshly generated one (random ids, not sampled). The value
actually sent comes back in the ``PushResult``.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

import httpx
from opentelemetry import trace

from connectors import wire

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

MAX_ANSWER_BYTES = 16 * 1024 * 1024
TRACEPARENT_HEADER = "traceparent"


def format_traceparent(trace_id: int, span_id: int, flags: int) -> str:
    """A W3C ``traceparent`` (version 00): trace id, parent span id, flags, in hex."""
    return f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"


def outgoing_traceparent() -> str:
    """The active span's ``traceparent``; without one, fresh random ids, not sampled."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return format_traceparent(context.trace_id, context.span_id, context.trace_flags)
    trace_id = span_id = 0
    while not trace_id:  # an all-zero id is invalid
        trace_id = secrets.randbits(128)
    while not span_id:
        span_id = secrets.randbits(64)
    return format_traceparent(trace_id, span_id, 0)


@dataclass(frozen=True)
class PushResult:
    status_code: int | None
    body: bytes
    error: str | None
    duration_ms: int
    traceparent: str = ""  # the header the request carried (or would have carried)

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
        traced: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        """``traced`` wraps the transport in one that traces each request (a client span)."""
        self.attempt_s = attempt_s
        self._runner = asyncio.Runner()
        tls = tls or tls_context()
        if traced is not None:
            transport = traced(transport or httpx.AsyncHTTPTransport(verify=tls))
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(min(timeout_s, attempt_s)),
            verify=tls,
            transport=transport,
            follow_redirects=False,
        )

    def push_batch(
        self, endpoint: str, *, batch_id: str, seq: int, digest: str, content: bytes
    ) -> PushResult:
        """POST the batch's exact bytes; the fund's answer, or why there is none.

        Within ``attempt_s`` seconds in all, however the endpoint paces its bytes. The
        request carries a ``traceparent`` (``outgoing_traceparent``, in the caller's
        context), which a tracing transport replaces by its client span's.
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
        TRACEPARENT_HEADER: outgoing_traceparent(),
    }
    request = http.build_request("POST", endpoint, content=content, headers=headers)

    def result(status: int | None, body: bytes, error: str | None) -> PushResult:
        # What was sent: a tracing transport sets its own span's header on this request.
        sent = request.headers.get(TRACEPARENT_HEADER, headers[TRACEPARENT_HEADER])
        return PushResult(status, body, error, elapsed(), sent)

    try:
        # The deadline cancels whatever is under way (connecting, sending, reading), and
        # the cancelled request's connection is closed, never reused.
        async with asyncio.timeout(attempt_s):
            response = await http.send(request, stream=True)
            try:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        return result(response.status_code, b"", "answer too large")
            finally:
                await response.aclose()
    except TimeoutError:
        return result(None, b"", f"timed out: no whole answer in {attempt_s:g} s")
    except httpx.TimeoutException:
        return result(None, b"", "timed out")
    except httpx.HTTPError as error:
        return result(None, b"", f"{type(error).__name__}: {str(error)[:200]}")
    if response.status_code != httpx.codes.OK:
        return result(response.status_code, bytes(body), f"answered HTTP {response.status_code}")
    return result(response.status_code, bytes(body), None)
