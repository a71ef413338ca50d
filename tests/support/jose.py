"""JOSE objects as participants make them: client assertions, DPoP proofs, signed receipts;
the gateway's batches and access tokens read back; and compact JWS put together by hand.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import rfc8785
from joserfc import jws, jwt
from joserfc.errors import SecurityWarning
from jwcrypto import jwk as cjwk  # type: ignore[import-untyped]
from jwcrypto import jws as cjws

from connectors import wire
from gateway.auth.assertions import ASSERTION_TYPE
from gateway.auth.dpop import access_token_hash
from gateway.keys import KeyUse

if TYPE_CHECKING:
    from joserfc.jwk import ECKey, OKPKey

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings
    from tests.support.actors import Client

JOSE = wire.JOSE_MEDIA_TYPE  # the media type of batches and receipts
_BATCH_REGISTRY = jws.JWSRegistry(algorithms=["EdDSA"])
_BATCH_REGISTRY.max_payload_length = 1024**3  # whole batches


def sign(header: dict[str, Any], payload: bytes, key: Any) -> str:
    """A compact JWS of ``payload``, as the participant's own stack would sign it.

    ``EdDSA`` (RFC 8037's name, which Java and .NET libraries write) is signed with
    jwcrypto, an implementation independent of the gateway's; any other with joserfc.
    """
    if header.get("alg") == "EdDSA":
        token = cjws.JWS(payload)
        token.add_signature(
            cjwk.JWK(**key.as_dict(private=True)), alg=None, protected=json.dumps(header)
        )
        signed: str = token.serialize(compact=True)
        return signed
    return jws.serialize_compact(header, payload, key, algorithms=[header["alg"]])


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
    head = {"alg": client.alg, "kid": client.kid, **(header or {})}
    signing_key = key if key is not None else client.key
    if head["alg"] == "EdDSA" and algorithms is None:
        return sign(head, json.dumps(body).encode(), signing_key)
    return jwt.encode(head, body, signing_key, algorithms=algorithms or [head["alg"]])


def possession_proof(
    audience: str,
    participant_id: str,
    key: Any,
    *,
    kid: str | None = None,
    typ: str = "key-possession+jwt",
    lifetime: int = 60,
    **claims: Any,
) -> str:
    """A participant's proof that it holds ``key``, the key it registers as its next one;
    ``audience``: the gateway's issuer (``settings.issuer``)."""
    now = int(time.time())
    body = {
        "iss": participant_id,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    header = {"alg": "ES256", "typ": typ, **({"kid": kid} if kid else {})}
    return sign(header, json.dumps(body).encode(), key)


def token_form(client_assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion,
        **extra,
    }


def dpop_proof(
    key: ECKey | OKPKey,
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
    if head["alg"] == "EdDSA":
        return sign(head, json.dumps(body).encode(), key)
    return jwt.encode(head, body, key, algorithms=[head["alg"]])


def access_token_claims(keys: GatewayKeys, token: str) -> jwt.Token:
    """An access token the gateway issued, verified with its token keys."""
    return jwt.decode(token, keys.verification_keys(KeyUse.TOKEN), algorithms=["ES256"])


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
    header = {"alg": fund.alg, "kid": fund.kid}
    return sign(header, json.dumps(claims).encode(), fund.key).encode()


# -- compact JWS by hand --------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def compact(header: dict[str, Any], payload: Any, signature: bytes = b"") -> str:
    """A compact JWS put together by hand, to send what no library would sign.

    A ``payload`` that is not bytes is JSON-encoded.
    """
    encoded = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return ".".join([b64url(json.dumps(header).encode()), b64url(encoded), b64url(signature)])


def segments(content: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    """A compact JWS's header, payload bytes and signature bytes."""
    header, payload, signature = content.decode("ascii").split(".")
    decoded: dict[str, Any] = json.loads(unb64url(header))
    return decoded, unb64url(payload), unb64url(signature)


def flip_signature(content: bytes) -> bytes:
    """The same JWS with one bit of its signature flipped."""
    header, payload, signature = segments(content)
    return compact(header, payload, bytes([signature[0] ^ 1]) + signature[1:]).encode("ascii")


def resign(
    keys: GatewayKeys,
    content: bytes,
    edit: Callable[[dict[str, Any]], None] = lambda _: None,
    *,
    header: dict[str, Any] | None = None,
    key: OKPKey | None = None,
) -> bytes:
    """The batch's payload edited, then signed again with the gateway's batch key."""
    _, payload, _ = segments(content)
    document = json.loads(payload)
    edit(document)
    entry, batch_key = keys.active(KeyUse.BATCH)
    head = {"alg": "EdDSA", "kid": entry.kid, "typ": wire.BATCH_TYPE, **(header or {})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        token = jws.serialize_compact(
            head, rfc8785.dumps(document), key or batch_key, algorithms=[head["alg"]]
        )
    return token.encode("ascii")
