"""Test helpers: participants with real keys, client assertions, DPoP proofs, headers."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from joserfc import jws, jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey

from gateway.auth.assertions import ASSERTION_TYPE
from gateway.auth.dpop import access_token_hash
from gateway.keys import KeyUse
from gateway.participants import service
from gateway.participants.models import ParticipantKind, Regime
from gateway.participants.schemas import ParticipantSpec

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings

_BATCH_REGISTRY = jws.JWSRegistry(algorithms=["EdDSA"])
_BATCH_REGISTRY.max_payload_length = 1024**3  # whole batches
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
    key: ECKey
    kid: str
    departements: list[str] = field(default_factory=list)

    @property
    def purpose(self) -> str:
        return PURPOSE_BY_KIND[self.kind]


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
) -> Client:
    key = new_key()
    kid = uuid.uuid4().hex[:12]
    public = key.as_dict(private=False)
    public["kid"] = kid
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
    return Client(participant_id, kind, key, kid, departements)


def assertion(
    settings: Settings,
    client: Client,
    *,
    key: Any = None,
    header: dict[str, Any] | None = None,
    now: int | None = None,
    lifetime: int = 60,
    drop: tuple[str, ...] = (),
    algorithms: list[str] | None = None,
    **claims: Any,
) -> str:
    """A client assertion; every part can be overridden to make a bad one."""
    issued = int(time.time()) if now is None else now
    body: dict[str, Any] = {
        "iss": client.id,
        "sub": client.id,
        "aud": settings.token_endpoint,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
    }
    body.update(claims)
    for name in drop:
        body.pop(name, None)
    head = {"alg": "ES256", "kid": client.kid, **(header or {})}
    signing_key = key if key is not None else client.key
    return jwt.encode(head, body, signing_key, algorithms=algorithms or [head["alg"]])


def token_form(client_assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion,
        **extra,
    }


def dpop_proof(
    key: ECKey,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    now: int | None = None,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    body: dict[str, Any] = {
        "jti": uuid.uuid4().hex,
        "htm": method,
        "htu": url,
        "iat": int(time.time()) if now is None else now,
    }
    if access_token is not None:
        body["ath"] = access_token_hash(access_token)
    body.update(claims)
    head = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False), **(header or {})}
    return jwt.encode(head, body, key, algorithms=[head["alg"]])


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


def batch_payload(content: bytes, keys: GatewayKeys) -> dict[str, Any]:
    """The verified payload of a signed batch, with the gateway's batch keys."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # EdDSA: see gateway.batches.sealing
        token = jws.deserialize_compact(
            content.decode(),
            keys.verification_keys(KeyUse.BATCH),
            registry=_BATCH_REGISTRY,
        )
    decoded: dict[str, Any] = json.loads(token.payload)
    return decoded


def signed_receipt(
    fund: Client,
    content: bytes,
    keys: GatewayKeys,
    outcome: str = "rights-ended",
    **over: Any,
) -> bytes:
    """The fund's receipt for a batch: one outcome for every record; ``over`` replaces claims."""
    payload = batch_payload(content, keys)
    claims = {
        "batch_id": payload["batch_id"],
        "fund_id": payload["fund_id"],
        "seq": payload["seq"],
        "batch_digest": "sha256:" + hashlib.sha256(content).hexdigest(),
        "received_at": datetime.now(UTC).isoformat(),
        "outcomes": [{"record_id": r["record_id"], "outcome": outcome} for r in payload["records"]],
        **over,
    }
    header = {"alg": "ES256", "kid": fund.kid}
    return jws.serialize_compact(header, json.dumps(claims).encode(), fund.key).encode()
