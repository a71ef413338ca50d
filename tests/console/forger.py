"""A provider whose answers the test writes: discovery, JWKS and a token endpoint that
gives, for each code it issued, the ID token the test signed (with the provider's key or
another), checking the client's secret and the PKCE verifier, each code usable once.

For what a real provider never sends: an ID token for another audience, from another
issuer, expired, with another nonce, signed by a stranger's key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

if TYPE_CHECKING:
    from collections.abc import Iterator

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Grant:
    challenge: str
    claims: dict[str, Any]
    key: RSAKey


@dataclass
class Forger:
    """The provider's state: its key, the codes it issued, what each exchange gives."""

    client_id: str
    client_secret: str
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, private=True))
    issuer: str = ""
    grants: dict[str, Grant] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    client_key: ECKey | None = None  # the client's public key, for private_key_jwt

    def __post_init__(self) -> None:
        self.key = RSAKey.import_key(self.key.as_dict(private=True), {"kid": "forger-1"})

    def claims(self, nonce: str, subject: str, /, **changes: Any) -> dict[str, Any]:
        """Claims as a provider would give them, ``changes`` applied (None removes one)."""
        now = int(time.time())
        found: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        }
        for name, value in changes.items():
            if value is None:
                found.pop(name, None)
            else:
                found[name] = value
        return found

    def issue(self, challenge: str, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        """A code whose exchange gives an ID token of ``claims`` signed by ``key``."""
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.grants[code] = Grant(challenge, claims, key or self.key)
        return code

    def authenticated(self, form: dict[str, str], authorization: str | None) -> bool:
        """The client, by its secret (HTTP Basic) or by a JWT its key signed."""
        if form.get("client_assertion_type") == JWT_BEARER and self.client_key is not None:
            try:
                claims = jwt.decode(form.get("client_assertion", ""), self.client_key).claims
            except (ValueError, JoseError):
                return False
            return (
                claims.get("iss") == claims.get("sub") == self.client_id
                and claims.get("aud") in (f"{self.issuer}/token", [f"{self.issuer}/token"])
                and int(claims.get("exp", 0)) > time.time()
            )
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return authorization == f"Basic {expected}"

    def exchange(self, form: dict[str, str], authorization: str | None) -> tuple[int, Any]:
        if not self.authenticated(form, authorization):
            return 401, {"error": "invalid_client"}
        code = form.get("code", "")
        with self.lock:
            grant = self.grants.get(code)
            if grant is None or code in self.used:
                return 400, {"error": "invalid_grant"}
            self.used.add(code)
        verifier = form.get("code_verifier", "").encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if digest.decode() != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        header = {"alg": "RS256", "kid": grant.key.kid or "forger-1"}
        token = jwt.encode(header, grant.claims, grant.key)
        return 200, {"access_token": "opaque", "token_type": "Bearer", "id_token": token}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }


def _handler(forger: Forger) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            del args

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                self._answer(200, forger.discovery())
            elif self.path == "/jwks":
                self._answer(200, {"keys": [forger.key.as_dict(private=False)]})
            else:
                self._answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if self.path != "/token":
                self._answer(404, {"error": "not_found"})
                return
            self._answer(*forger.exchange(form, self.headers.get("Authorization")))

    return Handler


def serve_forger(forger: Forger) -> Iterator[Forger]:
    """Serve ``forger`` on a loopback port while the generator is open."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(forger))
    forger.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield forger
    finally:
        server.shutdown()
        server.server_close()
