"""The pull mode over HTTP: list, download, verify, keep and acknowledge a fund's batches.

``pull`` takes every batch after the last verified one, in seq order, through a
``connectors.client.GatewayClient``; ``acknowledge`` posts the receipts not yet posted.
Errors and summaries name batches by id, seq and digest, never a record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from joserfc.jwk import ECKey, OKPKey

from connectors import wire
from connectors.fund.errors import BatchVerificationError
from connectors.fund.receipts import PrivateKey, decided_outcomes, sign_receipt
from connectors.fund.records import FORMATS, RecordFormat
from connectors.fund.state import BatchEntry, FundState, now

if TYPE_CHECKING:
    from pathlib import Path

    from connectors.client import GatewayClient

PURPOSE = "residence-regularity-check"
_HTTP_OK = 200
_HTTP_CREATED = 201


@dataclass(frozen=True)
class Failure:
    """Why a run stopped: a verification rule, or a refusal of the gateway (``http``)."""

    seq: int | None
    batch_id: str | None
    rule: str
    message: str


@dataclass
class PullSummary:
    pulled: list[BatchEntry] = field(default_factory=list)
    acknowledged: list[BatchEntry] = field(default_factory=list)
    last_seq: int = 0
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


class _Stop(Exception):
    """Ends a run with its failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _problem(response: Any) -> str:
    """The status and the problem's detail: what the gateway says, never a record."""
    try:
        body = response.json()
    except ValueError:
        return str(response.status_code)
    detail = body.get("detail") or body.get("title") if isinstance(body, dict) else None
    return f"{response.status_code} {detail}" if detail else str(response.status_code)


@dataclass
class _Run:
    """One pull or acknowledge run: the client, the locked state, what to do."""

    client: GatewayClient
    state: FundState
    purpose: str
    agent_id: str
    summary: PullSummary
    signing_key: PrivateKey | None = None
    kid: str | None = None
    alg: str | None = None

    def get(self, path: str) -> Any:
        return self.client.request("GET", path, purpose=self.purpose, agent_id=self.agent_id)

    def listing(self, page_size: int) -> Iterator[dict[str, Any]]:
        after_seq = self.state.last_seq
        while True:
            response = self.get(f"/v1/batches?after_seq={after_seq}&limit={page_size}")
            if response.status_code != _HTTP_OK:
                message = f"listing the batches: {_problem(response)}"
                raise _Stop(Failure(None, None, "http", message))
            body = response.json()
            yield from body["batches"]
            if body.get("next_after_seq") is None:
                return
            after_seq = int(body["next_after_seq"])

    def take(
        self,
        listed: Mapping[str, Any],
        jwks: Mapping[str, Any],
        fmt: RecordFormat,
        decryption_key: ECKey | OKPKey | None,
        decide: Callable[[dict[str, Any]], str] | None,
    ) -> None:
        """Download one batch, verify it, keep its records (and receipt), record it."""
        seq, batch_id = int(listed["seq"]), str(listed["id"])
        response = self.get(f"/v1/batches/{batch_id}")
        if response.status_code != _HTTP_OK:
            message = f"downloading batch {seq}: {_problem(response)}"
            raise _Stop(Failure(seq, batch_id, "http", message))
        content: bytes = response.content
        announced = {response.headers.get(wire.DIGEST_HEADER), listed.get("digest")} - {None}
        if announced != {wire.digest_of(content)}:
            message = "the bytes received do not have the digest the gateway announced"
            raise _Stop(Failure(seq, batch_id, "digest", message))
        try:
            batch = self.state.verify(content, jwks, decryption_key)
        except BatchVerificationError as error:
            raise _Stop(Failure(seq, batch_id, error.rule, error.message)) from error
        if batch.batch_id != batch_id:
            message = f"the batch listed as {batch_id} is {batch.batch_id}"
            raise _Stop(Failure(seq, batch_id, "batch-id", message))
        receipt = None
        if self.signing_key is not None:
            outcomes = decided_outcomes(batch, decide)
            receipt = sign_receipt(
                batch, outcomes, key=self.signing_key, kid=self.kid, alg=self.alg
            )
        self.summary.pulled.append(self.state.accept(batch, fmt, receipt))

    def post_receipts(self, outcome: str = wire.DEFAULT_OUTCOME) -> None:
        """Post the receipt of every batch not yet acknowledged, in seq order."""
        assert self.signing_key is not None  # noqa: S101 - the callers check it
        for entry in self.state.unacknowledged():
            receipt = self.state.receipt_for(
                entry, key=self.signing_key, kid=self.kid, alg=self.alg, outcome=outcome
            )
            response = self.client.request(
                "POST",
                f"/v1/batches/{entry.batch_id}/receipt",
                purpose=self.purpose,
                agent_id=self.agent_id,
                content=receipt,
                headers={"Content-Type": wire.JOSE_MEDIA_TYPE},
            )
            if response.status_code not in {_HTTP_OK, _HTTP_CREATED}:
                message = f"the receipt for batch {entry.seq}: {_problem(response)}"
                raise _Stop(Failure(entry.seq, entry.batch_id, "receipt-refused", message))
            entry.acknowledged_at = now()
            self.state.save()
            self.summary.acknowledged.append(entry)


def pull(
    client: GatewayClient,
    state_dir: Path,
    *,
    jwks: Mapping[str, Any],
    fund_id: str,
    agent_id: str,
    purpose: str = PURPOSE,
    fmt: RecordFormat = "ndjson",
    decryption_key: ECKey | OKPKey | None = None,
    ack: bool = False,
    signing_key: PrivateKey | None = None,
    kid: str | None = None,
    alg: str | None = None,
    decide: Callable[[dict[str, Any]], str] | None = None,
    page_size: int = 100,
) -> PullSummary:
    """Download, verify and keep every batch after the last verified one, in seq order.

    Each batch's records go to ``records/`` in ``state_dir``, then the state records
    it. A failed check stops the run at that batch, which is reported and neither kept
    nor acknowledged; the batches after it wait. With ``ack``, each batch gets a
    receipt (``decide(record)`` gives each record's outcome; ``noted`` by default),
    kept in ``receipts/``; then the receipt of every verified batch not yet
    acknowledged is posted, those before a failure included. Running it again
    downloads, writes and acknowledges nothing twice.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown records format {fmt!r}: ndjson or csv")
    if ack and signing_key is None:
        raise ValueError("acknowledging needs the fund's signing key")
    summary = PullSummary()
    with FundState.locked(state_dir, fund_id) as state:
        run = _Run(client, state, purpose, agent_id, summary)
        if ack:
            run.signing_key, run.kid, run.alg = signing_key, kid, alg
        try:
            for listed in run.listing(page_size):
                run.take(listed, jwks, fmt, decryption_key, decide)
        except _Stop as stop:
            summary.failure = stop.failure
        if ack:
            # The batches verified before a failure are acknowledged all the same.
            try:
                run.post_receipts()
            except _Stop as stop:
                summary.failure = summary.failure or stop.failure
        summary.last_seq = state.last_seq
    return summary


def acknowledge(
    client: GatewayClient,
    state_dir: Path,
    *,
    fund_id: str,
    agent_id: str,
    signing_key: PrivateKey,
    kid: str | None = None,
    alg: str | None = None,
    outcome: str = wire.DEFAULT_OUTCOME,
    purpose: str = PURPOSE,
) -> PullSummary:
    """Post a receipt for every verified batch not yet acknowledged, in seq order.

    A receipt signed before (kept in ``receipts/``) is sent again as it is, so that a
    run interrupted after signing sends the same receipt; the others get ``outcome``
    for every record.
    """
    if outcome not in wire.OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; one of: {', '.join(sorted(wire.OUTCOMES))}")
    summary = PullSummary()
    with FundState.locked(state_dir, fund_id) as state:
        run = _Run(client, state, purpose, agent_id, summary, signing_key, kid, alg)
        try:
            run.post_receipts(outcome)
        except _Stop as stop:
            summary.failure = stop.failure
        summary.last_seq = state.last_seq
    return summary
