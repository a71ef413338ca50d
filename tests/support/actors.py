"""The participants of the tests: registered with real keys, holding tokens, sending
requests as their own systems would (a prefecture, a fund, an auditor).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from joserfc.jwk import ECKey, OKPKey

from connectors import wire
from connectors.fund import VerifiedBatch, verify_batch
from gateway.batches import sealing
from gateway.identities.service import IdentityKeys
from gateway.imports.runner import run_pending_imports
from gateway.participants import service
from gateway.participants.models import ParticipantKind, ParticipantStatus, Regime
from gateway.participants.schemas import ParticipantSpec
from policies.loader import DEFAULT_POLICY, LoadedPolicy, load_file
from tests.support.factories import decision, identity
from tests.support.jose import JOSE, assertion, signed_receipt, token_form

if TYPE_CHECKING:
    import httpx2
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.batches.sealing import SealedBatch
    from gateway.keys import GatewayKeys
    from gateway.settings import Settings

BASE_URL = "http://testserver"
DECISIONS = "/v1/decisions"
IMPORTS = "/v1/decision-imports"
BATCHES = "/v1/batches"
SUBSCRIPTIONS = "/v1/subscriptions"
STATUS_CHECKS = "/v1/status-checks"
POLICY = load_file(DEFAULT_POLICY)
PURPOSE_BY_KIND = {
    "prefecture": "decision-transmission",
    "fund": "residence-regularity-check",
    "auditor": "anti-fraud-control",
    "operator": "administration",
}


@dataclass
class Client:
    """A registered participant and its private key, as its own system would hold it."""

    id: str
    kind: str
    key: ECKey | OKPKey
    kid: str
    departements: list[str] = field(default_factory=list)
    alg: str = "ES256"  # what its client assertions, DPoP proofs and receipts are signed with

    @property
    def purpose(self) -> str:
        return PURPOSE_BY_KIND[self.kind]


Register = Callable[..., Client]
"""The ``participant`` fixture: ``participant(kind, **options)`` registers one."""


def new_key() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


def register(
    session: Session,
    kind: str,
    *,
    departements: list[str] | None = None,
    regime: Regime | None = None,
    national: bool = False,
    acts_for: list[str] | None = None,
    require_dpop: bool = False,
    prefix: str | None = None,
    encryption_jwk: dict[str, Any] | None = None,
    push_endpoint: str | None = None,
    key: ECKey | OKPKey | None = None,
    alg: str = "ES256",
    registered_alg: str | None = None,
) -> Client:
    """Register a participant; ``key`` (a new P-256 key by default) signs with ``alg``, and
    its public JWK is registered with ``registered_alg`` as its ``alg`` member if given."""
    key = key or new_key()
    kid = uuid.uuid4().hex[:12]
    public = key.as_dict(private=False)
    public["kid"] = kid
    if registered_alg is not None:
        public["alg"] = registered_alg
    participant_id = f"{prefix or kind}-{uuid.uuid4().hex[:8]}"
    if departements is None:
        departements = [] if national or acts_for else ["75"]
    if kind == ParticipantKind.FUND and regime is None:
        regime = Regime.CPAM
    spec = ParticipantSpec(
        id=participant_id,
        kind=ParticipantKind(kind),
        name=f"Test {kind} {participant_id}",
        jwks={"keys": [public]},
        departements=departements,
        regime=regime,
        national=national,
        acts_for=acts_for or [],
        require_dpop=require_dpop,
        encryption_jwk=encryption_jwk,
        push_endpoint=push_endpoint,  # type: ignore[arg-type]  # validated into a URL
    )
    service.register(session, spec)
    session.flush()
    return Client(participant_id, kind, key, kid, departements, alg)


def set_status(
    sessions: sessionmaker[Session], participant_id: str, status: ParticipantStatus
) -> None:
    """What an operator does: suspend or reactivate a participant, committed."""
    with sessions.begin() as opened:
        service.set_status(opened, participant_id, status)


def api_headers(
    token: str,
    client: Client,
    *,
    agent_id: str | None = "agent-007",
    scheme: str = "Bearer",
    **extra: str,
) -> dict[str, str]:
    headers = {"Authorization": f"{scheme} {token}", "Purpose": client.purpose}
    if client.kind == ParticipantKind.FUND and agent_id is not None:
        headers["Agent-Id"] = agent_id
    headers.update(extra)
    return headers


def token_for(client: TestClient, settings: Settings, caller: Client, **form: str) -> str:
    """An access token for ``caller``; ``form`` adds token request parameters (a scope)."""
    response = client.post("/oauth2/token", data=token_form(assertion(settings, caller), **form))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def auditor_headers(
    client: TestClient,
    settings: Settings,
    participant: Register,
    purpose: str | None = None,
    **options: Any,
) -> dict[str, str]:
    """The request headers of a new auditor registered with ``options``."""
    caller = participant("auditor", **options)
    headers = api_headers(token_for(client, settings, caller), caller)
    if purpose is not None:
        headers["Purpose"] = purpose
    return headers


# -- a prefecture ---------------------------------------------------------------------


@dataclass
class Prefecture:
    """A prefecture's system talking to the gateway: its token and its requests."""

    http: TestClient
    caller: Client
    token: str
    on_behalf_of: str | None = None

    @property
    def id(self) -> str:
        return self.on_behalf_of or self.caller.id

    def headers(self, **extra: str) -> dict[str, str]:
        if self.on_behalf_of is not None:
            extra["On-Behalf-Of"] = self.on_behalf_of
        return api_headers(self.token, self.caller, **extra)

    def acting_for(self, principal: str) -> Prefecture:
        return Prefecture(self.http, self.caller, self.token, principal)

    def post(self, body: dict[str, Any]) -> httpx2.Response:
        return self.http.post(DECISIONS, json=body, headers=self.headers())

    def created(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def read(self, decision_id: str) -> httpx2.Response:
        return self.http.get(f"{DECISIONS}/{decision_id}", headers=self.headers())

    def list(self, **params: Any) -> httpx2.Response:
        return self.http.get(DECISIONS, params=params, headers=self.headers())

    def correct(self, decision_id: str, body: dict[str, Any]) -> httpx2.Response:
        return self.http.post(
            f"{DECISIONS}/{decision_id}/corrections", json=body, headers=self.headers()
        )

    def import_file(
        self, content: bytes, file_format: str | None = "ndjson", **params: Any
    ) -> httpx2.Response:
        query = {**({"format": file_format} if file_format else {}), **params}
        return self.http.post(IMPORTS, content=content, params=query, headers=self.headers())

    def report(self, import_id: str, **params: Any) -> httpx2.Response:
        return self.http.get(f"{IMPORTS}/{import_id}", params=params, headers=self.headers())

    def imported(
        self, content: bytes, sessions: sessionmaker[Session], keys: GatewayKeys, **params: Any
    ) -> dict[str, Any]:
        """Post a file (202, queued), run the worker's import job, and read the import."""
        response = self.import_file(content, **params)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "queued"
        run_imports(sessions, keys)
        read = self.report(response.json()["id"], limit=1)
        assert read.status_code == 200, read.text
        body: dict[str, Any] = read.json()
        assert body["status"] == "done", body
        return body


def run_imports(sessions: sessionmaker[Session], keys: GatewayKeys) -> int:
    """The worker's import job, in this process: every queued import processed."""
    return run_pending_imports(sessions, IdentityKeys.from_store(keys), POLICY)


def make_prefecture(
    client: TestClient, settings: Settings, participant: Register, **options: Any
) -> Prefecture:
    caller = participant("prefecture", **options)
    return Prefecture(client, caller, token_for(client, settings, caller))


def post_decision(
    prefecture: Prefecture, reference: str, kind: str = "first-permit-refusal", **fields: Any
) -> str:
    """Post a decision about ``identity()``'s person living in 93 (where the funds of the
    batch tests are); its id."""
    created = prefecture.created(
        decision(reference, kind=kind, identity=identity(residence_departement="93"), **fields)
    )
    decision_id: str = created["id"]
    return decision_id


# -- a fund ---------------------------------------------------------------------------


@dataclass
class Fund:
    """A fund's system talking to the gateway: its batches, receipts and subscriptions."""

    http: TestClient
    caller: Client
    token: str

    @property
    def id(self) -> str:
        return self.caller.id

    def headers(self, **extra: str) -> dict[str, str]:
        return api_headers(self.token, self.caller, **extra)

    def batches(self, after_seq: int = 0) -> list[dict[str, Any]]:
        response = self.http.get(BATCHES, params={"after_seq": after_seq}, headers=self.headers())
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["batches"]
        return found

    def download(self, batch_id: str) -> bytes:
        response = self.http.get(f"{BATCHES}/{batch_id}", headers=self.headers())
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == JOSE
        assert response.headers["digest-sha256"] == wire.digest_of(response.content)
        return response.content

    def receipt(self, batch_id: str, content: bytes) -> httpx2.Response:
        return self.http.post(
            f"{BATCHES}/{batch_id}/receipt",
            content=content,
            headers=self.headers(**{"Content-Type": JOSE}),
        )

    def receipt_for(
        self, keys: GatewayKeys, content: bytes, outcome: str = "rights-ended", **over: Any
    ) -> bytes:
        """The fund's signed receipt for the batch ``content``; see ``signed_receipt``."""
        return signed_receipt(self.caller, content, keys, outcome, **over)

    def subscribe(self, content: bytes, file_format: str | None = "ndjson") -> httpx2.Response:
        """Replace the fund's set of people with the file ``content``."""
        params = {"format": file_format} if file_format else {}
        return self.http.put(SUBSCRIPTIONS, content=content, params=params, headers=self.headers())

    def subscriptions(self) -> dict[str, Any]:
        response = self.http.get(SUBSCRIPTIONS, headers=self.headers())
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


def make_fund(http: TestClient, settings: Settings, participant: Register, **options: Any) -> Fund:
    caller = participant("fund", **options)
    return Fund(http, caller, token_for(http, settings, caller))


def ask(
    client: TestClient, headers: dict[str, str], *people: dict[str, Any]
) -> list[dict[str, Any]]:
    """Status checks of ``people`` with a fund's ``headers``: the answers, in order."""
    response = client.post(
        STATUS_CHECKS,
        json={"checks": [{"identity": person} for person in people]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    answers: list[dict[str, Any]] = response.json()["answers"]
    return answers


# -- the gateway's worker --------------------------------------------------------------


def seal(
    sessions: sessionmaker[Session],
    keys: GatewayKeys,
    *,
    loaded: LoadedPolicy = POLICY,
    **options: Any,
) -> list[SealedBatch]:
    """What the worker does: pending disclosures into signed batches, under ``loaded``."""
    return sealing.seal(sessions, keys, IdentityKeys.from_store(keys), loaded, **options)


# -- a prefecture, a fund and the gateway sealing between them -------------------------


@dataclass
class World:
    """A prefecture posting decisions, a fund in département 75, and the gateway sealing."""

    http: TestClient
    settings: Settings
    sessions: sessionmaker[Session]
    keys: GatewayKeys
    participant: Register
    prefecture: Prefecture
    fund: Client
    token: str

    def another_fund(self, **options: Any) -> World:
        """The same world with another CPAM fund in 75, registered with ``options``."""
        caller = self.participant("fund", regime=Regime.CPAM, departements=["75"], **options)
        return replace(self, fund=caller, token=token_for(self.http, self.settings, caller))

    @property
    def driver(self) -> Fund:
        """The fund's system, for its requests."""
        return Fund(self.http, self.fund, self.token)

    def headers(self) -> dict[str, str]:
        return self.driver.headers()

    def post(self, count: int = 1, **fields: Any) -> list[dict[str, Any]]:
        return [
            self.prefecture.created(decision(f"F-{uuid.uuid4().hex[:12]}", **fields))
            for _ in range(count)
        ]

    def seal(self, max_records: int = 5000) -> list[SealedBatch]:
        return seal(self.sessions, self.keys, max_records=max_records, fund_ids=[self.fund.id])

    def batch(self, records: int = 3) -> tuple[SealedBatch, bytes]:
        """Post ``records`` decisions, seal them into one batch and download it."""
        self.post(records)
        (sealed,) = self.seal()
        return sealed, self.download(sealed.id)

    def listing(self, after_seq: int = 0) -> list[dict[str, Any]]:
        return self.driver.batches(after_seq)

    def download(self, batch_id: str) -> bytes:
        return self.driver.download(batch_id)

    def jwks(self) -> dict[str, Any]:
        response = self.http.get("/.well-known/jwks.json")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def post_receipt(self, batch_id: str, receipt: bytes) -> httpx2.Response:
        return self.driver.receipt(batch_id, receipt)

    def verify(self, content: bytes, **options: Any) -> VerifiedBatch:
        arguments: dict[str, Any] = {"jwks": self.jwks(), "fund_id": self.fund.id, **options}
        return verify_batch(content, **arguments)
