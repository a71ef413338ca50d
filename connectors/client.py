"""A participant's client of the gateway, as an external system would write it.

Tokens come from authlib's own OAuth2 client with ``private_key_jwt``; when a DPoP key
is given, each request carries a fresh DPoP proof (RFC 9449) and the token is bound to
it. One ``httpx.Client`` per ``GatewayClient``, with explicit timeouts, reused.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import TYPE_CHECKING, Any, Self

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc import jwt

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from joserfc.jwk import ECKey, OKPKey, RSAKey

    PrivateKey = ECKey | OKPKey | RSAKey

ASSERTION_LIFETIME_S = 60
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
TOKEN_TIMEOUT_S = 10.0
IMPORT_CONTENT_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv"}


class GatewayClientError(Exception):
    """Base of this module's errors."""


class TokenRequestFailed(GatewayClientError):
    """The token endpoint said no (``error`` is the RFC 6749 code) or was unreachable."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"token request refused: {error}: {description}")
        self.error = error
        self.description = description


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """authlib's ``private_key_jwt``, with a one-minute assertion instead of an hour."""

    def sign(self, auth: Any, token_endpoint: str) -> Any:
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            claims=self.claims,
            header=self.headers,
            alg=self.alg,
            expires_in=ASSERTION_LIFETIME_S,
        )


def access_token_hash(access_token: str) -> str:
    """The ``ath`` claim of a DPoP proof (RFC 9449 section 4.2): the token's SHA-256, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def dpop_proof(key: PrivateKey, alg: str, method: str, url: str, access_token: str | None) -> str:
    """A DPoP proof JWT for one request (RFC 9449 section 4)."""
    claims: dict[str, Any] = {
        "jti": uuid.uuid4().hex,
        "htm": method.upper(),
        "htu": url.split("?", 1)[0],
        "iat": int(time.time()),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=[alg])


class GatewayClient:
    """Obtains and renews tokens, and sends authenticated requests with purpose headers."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        private_key: PrivateKey,
        *,
        alg: str = "ES256",
        dpop_key: PrivateKey | None = None,
        dpop_alg: str = "ES256",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.token_endpoint = f"{self.base_url}/oauth2/token"
        self._dpop_key = dpop_key
        self._dpop_alg = dpop_alg
        self._oauth = OAuth2Client(
            client_id=client_id,
            client_secret=private_key,
            token_endpoint_auth_method=ShortLivedPrivateKeyJWT(self.token_endpoint, alg=alg),
            # authlib drives httpx or its successor httpx2, whichever is installed: a plain
            # number of seconds suits both.
            timeout=TOKEN_TIMEOUT_S,
        )
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._token: dict[str, Any] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._oauth.close()
        self._http.close()

    def fetch_token(self, scope: str | None = None) -> dict[str, Any]:
        headers = {}
        if self._dpop_key is not None:
            headers["DPoP"] = dpop_proof(
                self._dpop_key, self._dpop_alg, "POST", self.token_endpoint, None
            )
        extra = {"scope": scope} if scope else {}
        try:
            token = self._oauth.fetch_token(
                self.token_endpoint, grant_type="client_credentials", headers=headers, **extra
            )
        except httpx.HTTPError as error:
            raise TokenRequestFailed("unreachable", str(error)) from error
        except Exception as error:
            # authlib raises its OAuthError with the endpoint's error code and description.
            code = getattr(error, "error", None)
            if not isinstance(code, str):
                raise
            raise TokenRequestFailed(code, str(getattr(error, "description", ""))) from error
        self._token = dict(token)
        return self._token

    @property
    def access_token(self) -> str:
        if self._token is None or self._token.get("expires_at", 0) - 10 < time.time():
            self.fetch_token()
        assert self._token is not None  # noqa: S101 - fetch_token sets it
        return str(self._token["access_token"])

    def import_file(
        self,
        path: Path,
        *,
        file_format: str,
        purpose: str,
        dry_run: bool = False,
        on_bytes: Callable[[int], None] | None = None,
        chunk_size: int = 256 * 1024,
        encoding: str = "utf-8",
    ) -> httpx.Response:
        """Stream a backlog file to ``POST /v1/decision-imports``: 202, the import queued.

        ``wait_for_import`` follows it to the end.

        ``encoding`` other than UTF-8 goes as the Content-Type's charset. The gateway
        answers once the file is stored; storing a large file takes a while, so the read
        timeout is lifted for this one request.
        """

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as handle:
                while chunk := handle.read(chunk_size):
                    if on_bytes is not None:
                        on_bytes(len(chunk))
                    yield chunk

        content_type = IMPORT_CONTENT_TYPES[file_format]
        if encoding.lower() not in {"utf-8", "utf8"}:
            content_type += f"; charset={encoding}"
        return self.request(
            "POST",
            f"/v1/decision-imports?format={file_format}&dry_run={str(dry_run).lower()}",
            purpose=purpose,
            content=chunks(),
            headers={"Content-Type": content_type},
            timeout=httpx.Timeout(None, connect=10.0),
        )

    def import_status(self, import_id: str, *, purpose: str) -> dict[str, Any]:
        """An import's progress and counts (and the first line of its report)."""
        response = self.request("GET", f"/v1/decision-imports/{import_id}?limit=1", purpose=purpose)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def wait_for_import(
        self,
        import_id: str,
        *,
        purpose: str,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        poll_seconds: float = 0.5,
        timeout_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Poll an import until the worker is done with it (or it failed); its summary.

        ``on_progress`` gets each answer, ``lines_done`` of ``lines_total`` and the counts.
        """
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        while True:
            body = self.import_status(import_id, purpose=purpose)
            if on_progress is not None:
                on_progress(body)
            if body["status"] in {"done", "failed"}:
                return body
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"import {import_id} still {body['status']}")
            time.sleep(poll_seconds)

    def import_report(self, import_id: str, *, purpose: str) -> Iterator[dict[str, Any]]:
        """Every line of an import's report, page after page."""
        after = 0
        while True:
            response = self.request(
                "GET", f"/v1/decision-imports/{import_id}?after_line={after}", purpose=purpose
            )
            response.raise_for_status()
            body = response.json()
            yield from body["report"]
            if body["next_line"] is None:
                return
            after = body["next_line"]

    def request(
        self,
        method: str,
        path: str,
        *,
        purpose: str,
        agent_id: str | None = None,
        case_reference: str | None = None,
        on_behalf_of: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        token = self.access_token
        headers: dict[str, str] = dict(kwargs.pop("headers", {}) or {})
        headers["Purpose"] = purpose
        optional = {
            "Agent-Id": agent_id,
            "Case-Reference": case_reference,
            "On-Behalf-Of": on_behalf_of,
        }
        headers.update({name: value for name, value in optional.items() if value is not None})
        if self._dpop_key is not None:
            headers["Authorization"] = f"DPoP {token}"
            headers["DPoP"] = dpop_proof(
                self._dpop_key, self._dpop_alg, method, f"{self.base_url}{path}", token
            )
        else:
            headers["Authorization"] = f"Bearer {token}"
        return self._http.request(method, path, headers=headers, **kwargs)
