"""A fund's reference receiver for push mode: each batch in, its signed receipt out.

``POST /batches`` takes the batch's exact bytes (headers ``Batch-Id``, ``Batch-Seq``,
``Digest-SHA256``), verifies them as ``connectors.fund.verify_batch`` does, as the next
batch after the last one in the fund's state directory, writes the records and answers
``200`` with the receipt (``application/jose``). The same batch sent again gets the
same receipt. A batch after a gap is answered ``409`` (the gateway retries; the missing
batch must come first); any other failed check ``422``, with a problem document naming
the rule. Serve it behind TLS with any ASGI server (``uvicorn``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from joserfc.jwk import ECKey, OKPKey
from starlette.concurrency import run_in_threadpool

from connectors import wire
from connectors.fund import (
    FORMATS,
    BatchVerificationError,
    FundState,
    PrivateKey,
    RecordFormat,
    decided_outcomes,
    sign_receipt,
)

PROBLEM_JSON = "application/problem+json"
MAX_PUSH_BYTES = 256 * 1024 * 1024
_TITLES = {409: "Out of order", 413: "Batch too large", 422: "Batch refused"}
_SLUGS = {409: "out-of-order", 413: "too-large", 422: "batch-refused"}


def problem(status: int, rule: str, message: str, field: str = "batch") -> Response:
    """An RFC 9457 problem document shaped like the gateway's own."""
    body = {
        "type": f"/problems/{_SLUGS.get(status, 'batch-refused')}",
        "title": _TITLES.get(status, "Refused"),
        "status": status,
        "detail": message,
        "errors": [{"field": field, "rule": rule, "message": message}],
    }
    return Response(json.dumps(body), status_code=status, media_type=PROBLEM_JSON)


@dataclass
class Receiver:
    """What the app does with one pushed batch; usable without HTTP."""

    state_dir: Path
    jwks: Mapping[str, Any]
    fund_id: str
    signing_key: PrivateKey
    kid: str | None = None
    alg: str | None = None
    decryption_key: ECKey | OKPKey | None = None
    fmt: RecordFormat = "ndjson"
    decide: Callable[[dict[str, Any]], str] | None = None

    def receive(self, content: bytes, headers: Mapping[str, str]) -> Response:
        """The answer to one push; ``headers`` by lower-case name."""
        announced = headers.get(wire.DIGEST_HEADER.lower())
        if announced is not None and announced != wire.digest_of(content):
            return problem(422, "digest", "the body does not have the digest announced")
        with FundState.locked(self.state_dir, self.fund_id) as state:
            known = state.find(wire.digest_of(content))
            if known is not None:
                # These exact bytes were verified and kept: answer the same receipt again.
                receipt = state.receipt_for(known, key=self.signing_key, kid=self.kid, alg=self.alg)
                return Response(receipt, media_type=wire.JOSE_MEDIA_TYPE)
            try:
                batch = state.verify(content, self.jwks, self.decryption_key)
            except BatchVerificationError as error:
                return problem(409 if error.rule == "seq-gap" else 422, error.rule, error.message)
            for name, value in (
                (wire.BATCH_ID_HEADER.lower(), batch.batch_id),
                (wire.BATCH_SEQ_HEADER.lower(), str(batch.seq)),
            ):
                if headers.get(name, value) != value:
                    return problem(422, "headers", f"{name} is not the batch's", name)
            outcomes = decided_outcomes(batch, self.decide)
            receipt = sign_receipt(
                batch, outcomes, key=self.signing_key, kid=self.kid, alg=self.alg
            )
            state.accept(batch, self.fmt, receipt, acknowledged=True)
        return Response(receipt, media_type=wire.JOSE_MEDIA_TYPE)


def create_receiver_app(
    state_dir: Path,
    jwks: Mapping[str, Any],
    fund_id: str,
    signing_key: PrivateKey,
    kid: str | None = None,
    alg: str | None = None,
    decryption_key: ECKey | OKPKey | None = None,
    fmt: RecordFormat = "ndjson",
    *,
    decide: Callable[[dict[str, Any]], str] | None = None,
    max_bytes: int = MAX_PUSH_BYTES,
) -> FastAPI:
    """The receiver app of one fund: its state directory, the gateway's JWKS, its keys.

    ``decide(record)`` gives each record's outcome (``noted`` for all by default).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown records format {fmt!r}: ndjson or csv")
    receiver = Receiver(
        state_dir, jwks, fund_id, signing_key, kid, alg, decryption_key, fmt, decide
    )
    app = FastAPI(title=f"Batch receiver of {fund_id}", docs_url=None, redoc_url=None)

    @app.post(
        "/batches",
        responses={
            200: {"content": {wire.JOSE_MEDIA_TYPE: {"schema": {"type": "string"}}}},
            409: {"content": {PROBLEM_JSON: {}}},
            422: {"content": {PROBLEM_JSON: {}}},
        },
    )
    async def receive_batch(request: Request) -> Response:
        """One batch pushed by the gateway; the answer is the fund's signed receipt."""
        content = bytearray()
        async for chunk in request.stream():
            content.extend(chunk)
            if len(content) > max_bytes:
                return problem(413, "too-large", f"a batch is at most {max_bytes} bytes")
        return await run_in_threadpool(receiver.receive, bytes(content), request.headers)

    return app
