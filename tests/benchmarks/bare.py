"""The floor: a bare ASGI app keeping the same promises as the gateway, and nothing else.

``GET /v1/participants/me`` verifies the ES256 access token (joserfc), reads the
participant, inserts its audit event (and queues it for the Merkle log) and commits
durably before answering. ``POST /oauth2/token`` verifies the client assertion with the
participant's registered keys, records its ``jti`` once, signs an access token and
audits, in one transaction. No framework, no ORM, no checks beyond those: what the
promises cost on this machine, for the benchmarks to measure the gateway against.

Served by uvicorn (uvloop, httptools) from ``tests.benchmarks.requests`` and
``tests.benchmarks.tokens``; configured by ``BARE_DATABASE_URL`` (a psycopg URL),
``BARE_KEY_DIR`` and ``BARE_PUBLIC_BASE_URL`` (the gateway's, whose tokens it verifies).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import psycopg
from joserfc import jwt
from joserfc.errors import JoseError

from gateway.auth.jwks import verification_key_set
from gateway.keys import GatewayKeys, KeyUse
from gateway.storage.ids import new_id

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

POOL_SIZE = 10
READ = "SELECT id, kind, name, status, jwks FROM participants WHERE id = %s"
AUDIT = (
    "INSERT INTO audit_events (event_id, occurred_at, action, outcome, participant_id,"
    " participant_kind, acting_for, agent_id, purpose, request_id, object_ids,"
    " subject_pseudonyms, detail) VALUES (%s, %s, %s, 'success', %s, %s, %s, %s, %s, %s,"
    " %s, '[]', '{}')"
)
QUEUE = "INSERT INTO audit_log_queue (event_id, queued_at) VALUES (%s, %s)"
JTI = (
    "INSERT INTO used_jtis (namespace, issuer, jti, expires_at) VALUES ('assertion', %s, %s, %s)"
    " ON CONFLICT DO NOTHING RETURNING jti"
)


class Bare:
    def __init__(self) -> None:
        self.database_url = os.environ["BARE_DATABASE_URL"].replace(
            "postgresql+psycopg", "postgresql"
        )
        keys = GatewayKeys.load(Path(os.environ["BARE_KEY_DIR"]))
        self.verification = keys.verification_keys(KeyUse.TOKEN)
        self.entry, self.signing = keys.active(KeyUse.TOKEN)
        self.issuer = os.environ["BARE_PUBLIC_BASE_URL"]
        self.pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        headers = dict(scope["headers"])
        if scope["path"] == "/v1/participants/me":
            status, body = await self.me(headers)
        elif scope["path"] == "/oauth2/token":
            status, body = await self.token(await _body(receive))
        else:
            status, body = 404, {"status": 404}
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for _ in range(POOL_SIZE):
                    connection = await psycopg.AsyncConnection.connect(self.database_url)
                    self.pool.put_nowait(connection)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                while not self.pool.empty():
                    await self.pool.get_nowait().close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def me(self, headers: dict[bytes, bytes]) -> tuple[int, dict[str, Any]]:
        token = headers.get(b"authorization", b"").decode().partition(" ")[2]
        try:
            claims = jwt.decode(token, self.verification, algorithms=["ES256"]).claims
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.issuer},
                exp={"essential": True},
            ).validate(claims)
        except (JoseError, ValueError):
            return 401, {"status": 401}
        connection = await self.pool.get()
        try:
            async with connection.transaction():
                row = await (await connection.execute(READ, (claims["sub"],))).fetchone()
                if row is None or row[3] != "active":
                    return 401, {"status": 401}
                await self.audit(connection, "participant:read", row, headers)
        finally:
            self.pool.put_nowait(connection)
        return 200, {"id": row[0], "kind": row[1], "name": row[2], "status": row[3]}

    async def token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        assertion = form.get("client_assertion", "")
        now = int(time.time())
        connection = await self.pool.get()
        try:
            async with connection.transaction():
                try:
                    issuer = _unverified_issuer(assertion)
                except (ValueError, KeyError, IndexError):
                    return 400, {"error": "invalid_request"}
                row = await (await connection.execute(READ, (issuer,))).fetchone()
                if row is None:
                    return 401, {"error": "invalid_client"}
                try:
                    claims = jwt.decode(assertion, verification_key_set(row[4])).claims
                    jwt.JWTClaimsRegistry(
                        now=now,
                        iss={"essential": True, "value": row[0]},
                        sub={"essential": True, "value": row[0]},
                        aud={"essential": True, "value": f"{self.issuer}/oauth2/token"},
                        exp={"essential": True},
                        jti={"essential": True},
                    ).validate(claims)
                except JoseError:
                    return 401, {"error": "invalid_client"}
                expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
                cursor = await connection.execute(JTI, (row[0], claims["jti"], expires))
                if await cursor.fetchone() is None or row[3] != "active":
                    return 401, {"error": "invalid_client"}
                token = jwt.encode(
                    {"alg": "ES256", "typ": "at+jwt", "kid": self.entry.kid},
                    {
                        "iss": self.issuer,
                        "sub": row[0],
                        "aud": self.issuer,
                        "client_id": row[0],
                        "iat": now,
                        "exp": now + 600,
                        "jti": uuid.uuid4().hex,
                        "participant_kind": row[1],
                    },
                    self.signing,
                    algorithms=["ES256"],
                )
                await self.audit(connection, "token:issued", row, {})
        finally:
            self.pool.put_nowait(connection)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 600}

    @staticmethod
    async def audit(
        connection: psycopg.AsyncConnection[Any],
        action: str,
        row: Any,
        headers: dict[bytes, bytes],
    ) -> None:
        event_id, now = new_id(), datetime.now(UTC)
        purpose = headers.get(b"purpose", b"").decode() or None
        agent = headers.get(b"agent-id", b"").decode() or None
        await connection.execute(
            AUDIT,
            (
                event_id,
                now,
                action,
                row[0],
                row[1],
                row[0],
                agent,
                purpose,
                uuid.uuid4().hex,
                json.dumps([row[0]]),
            ),
        )
        await connection.execute(QUEUE, (event_id, now))


def _unverified_issuer(assertion: str) -> str:
    payload = assertion.split(".")[1]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return str(json.loads(decoded)["iss"])


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


app = Bare()
