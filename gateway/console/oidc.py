"""The console as an OpenID Connect client: authorization code with PKCE (S256).

authlib builds the authorization request and exchanges the code (with the client secret,
``client_secret_basic``, or a private key, ``private_key_jwt``); joserfc verifies the ID
token against the provider's JWKS named by its discovery document: signature, ``iss``,
``aud``, ``azp``, ``exp``, ``iat`` and the ``nonce`` of this login attempt. Each refusal
is a ``LoginRefused`` with a code the audit event records.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, KeySet

if TYPE_CHECKING:
    from gateway.settings import Settings

DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_TTL_SECONDS = 3600
ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
HTTP_TIMEOUT_SECONDS = 10
# A private key without "alg" signs the client assertion with its kind's usual algorithm.
DEFAULT_ALGORITHMS = {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}
MAX_ID_TOKEN_AGE_SECONDS = 600  # an ID token issued longer ago is not this login's


class LoginRefused(Exception):
    """The provider's answer is not a valid login: ``code`` names the rule it breaks."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Provider:
    """The provider's discovery document and keys, fetched once and kept a while."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    fetched_at: float
    keys: KeySet | None = None
    keys_fetched_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


_providers: dict[str, Provider] = {}
_providers_lock = threading.Lock()


def provider(issuer: str) -> Provider:
    """The provider of ``issuer``, from its discovery document (cached for an hour)."""
    with _providers_lock:
        known = _providers.get(issuer)
        if known is not None and time.monotonic() - known.fetched_at < DISCOVERY_TTL_SECONDS:
            return known
    try:
        response = httpx.get(issuer.rstrip("/") + DISCOVERY_PATH, timeout=HTTP_TIMEOUT_SECONDS)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise LoginRefused("provider-unavailable", f"no discovery document: {error}") from error
    if document.get("issuer") != issuer:
        raise LoginRefused("provider-misconfigured", "the discovery document names another issuer")
    if "S256" not in document.get("code_challenge_methods_supported", ["S256"]):
        raise LoginRefused("provider-misconfigured", "the provider does not support PKCE S256")
    found = Provider(
        issuer=issuer,
        authorization_endpoint=str(document["authorization_endpoint"]),
        token_endpoint=str(document["token_endpoint"]),
        jwks_uri=str(document["jwks_uri"]),
        fetched_at=time.monotonic(),
    )
    with _providers_lock:
        _providers[issuer] = found
    return found


def _key_set(found: Provider, *, refresh: bool) -> KeySet:
    with found.lock:
        if found.keys is None or refresh:
            try:
                response = httpx.get(found.jwks_uri, timeout=HTTP_TIMEOUT_SECONDS)
                response.raise_for_status()
                found.keys = KeySet.import_key_set(response.json())
            except (httpx.HTTPError, ValueError, JoseError) as error:
                raise LoginRefused("provider-unavailable", f"no JWKS: {error}") from error
            found.keys_fetched_at = time.monotonic()
        return found.keys


def _client(settings: Settings, found: Provider) -> OAuth2Client:
    redirect_uri = settings.public_base_url + "/console/callback"
    if settings.console_oidc_private_key is not None:
        document = json.loads(settings.console_oidc_private_key.read_text())
        key = JWKRegistry.import_key(document)
        alg = document.get("alg") or DEFAULT_ALGORITHMS.get(str(document.get("kty")), "RS256")
        client = OAuth2Client(
            client_id=settings.console_oidc_client_id,
            client_secret=key,
            token_endpoint_auth_method="private_key_jwt",  # noqa: S106 - a method's name
            scope=settings.console_oidc_scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        client.register_client_auth_method(PrivateKeyJWT(found.token_endpoint, alg=alg))
        return client
    secret = settings.console_oidc_client_secret
    return OAuth2Client(
        client_id=settings.console_oidc_client_id,
        client_secret=secret.get_secret_value() if secret is not None else None,
        # A public client (PKCE alone) when the provider gave the console no secret.
        token_endpoint_auth_method="client_secret_basic" if secret is not None else "none",
        scope=settings.console_oidc_scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT_SECONDS,
    )


def authorization_url(settings: Settings, state: str, nonce: str, code_verifier: str) -> str:
    """Where the browser goes to log in: the provider's page, for this attempt."""
    found = provider(str(settings.console_oidc_issuer))
    with _client(settings, found) as client:
        url, _ = client.create_authorization_url(
            found.authorization_endpoint, state=state, nonce=nonce, code_verifier=code_verifier
        )
    return str(url)


def exchange(settings: Settings, code: str, code_verifier: str) -> str:
    """The ID token the provider gives for ``code`` (with this attempt's PKCE verifier)."""
    found = provider(str(settings.console_oidc_issuer))
    with _client(settings, found) as client:
        try:
            token = client.fetch_token(
                found.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
        except Exception as error:  # authlib raises its OAuthError, httpx its HTTPError
            raise LoginRefused("code-refused", f"the provider refused the code: {error}") from error
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise LoginRefused("no-id-token", "the provider's answer holds no ID token")
    return id_token


def verify_id_token(
    settings: Settings, id_token: str, nonce: str, *, now: float | None = None
) -> dict[str, Any]:
    """The ID token's claims, once signature, issuer, audience, times and nonce hold."""
    issuer = str(settings.console_oidc_issuer)
    client_id = str(settings.console_oidc_client_id)
    found = provider(issuer)
    try:
        decoded = jwt.decode(id_token, _key_set(found, refresh=False), ID_TOKEN_ALGORITHMS)
    except (ValueError, JoseError):
        # A key the provider rotated in since: its JWKS once more, then a refusal.
        try:
            decoded = jwt.decode(id_token, _key_set(found, refresh=True), ID_TOKEN_ALGORITHMS)
        except (ValueError, JoseError) as error:
            raise LoginRefused("bad-signature", f"the ID token does not verify: {error}") from error
    claims = dict(decoded.claims)
    _check_claims(claims, issuer, client_id, nonce, time.time() if now is None else now, settings)
    return claims


def _check_claims(
    claims: dict[str, Any],
    issuer: str,
    client_id: str,
    nonce: str,
    moment: float,
    settings: Settings,
) -> None:
    leeway = settings.clock_leeway_s
    if claims.get("iss") != issuer:
        raise LoginRefused("wrong-issuer", "the ID token is from another issuer")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    if client_id not in audiences:
        raise LoginRefused("wrong-audience", "the ID token is for another client")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise LoginRefused("wrong-azp", "the ID token was given to another party")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise LoginRefused("missing-times", "the ID token has no exp or iat")
    if exp < moment - leeway:
        raise LoginRefused("expired", "the ID token has expired")
    if iat > moment + leeway:
        raise LoginRefused("issued-in-future", "the ID token is issued in the future")
    if iat < moment - MAX_ID_TOKEN_AGE_SECONDS - leeway:
        raise LoginRefused("expired", "the ID token was issued too long ago")
    if claims.get("nonce") != nonce:
        raise LoginRefused("bad-nonce", "the ID token is not this login attempt's")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise LoginRefused("no-subject", "the ID token names no subject")
