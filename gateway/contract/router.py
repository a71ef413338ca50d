"""The contract's own routes, without a token.

The JSON Schemas of what is signed, and the pages of the problem types.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from gateway.contract.problems import as_json, problem_type, render_html
from gateway.errors import NotFound
from gateway.state import app_state

router = APIRouter(tags=["contract"])
SCHEMA_JSON = "application/schema+json"
SLUG = r"^[a-z0-9-]{1,64}$"


class SchemaName(StrEnum):
    BATCH_PAYLOAD = "batch-payload.json"
    RECEIPT = "receipt.json"


@cache
def json_schema(name: SchemaName) -> dict[str, Any]:
    """The JSON Schema shipped in the package under ``name``."""
    text = resources.files("gateway.contract").joinpath("schemas", str(name)).read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@router.get(
    "/schemas/{name}",
    name="contract:schema",
    response_class=JSONResponse,
    responses={200: {"content": {SCHEMA_JSON: {"schema": {"type": "object"}}}}},
)
def get_schema(
    request: Request, name: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}\.json$")]
) -> Response:
    """A JSON Schema (draft 2020-12) of a signed document: the batch payload, the receipt."""
    try:
        chosen = SchemaName(name)
    except ValueError:
        raise NotFound(f"no schema {name!r}; there are: {', '.join(SchemaName)}") from None
    base = app_state(request).settings.public_base_url
    document = {"$id": f"{base}/schemas/{chosen}", **json_schema(chosen)}
    return JSONResponse(document, media_type=SCHEMA_JSON)


@router.get(
    "/problems/{slug}",
    name="contract:problem",
    response_class=HTMLResponse,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
def get_problem(request: Request, slug: Annotated[str, Path(pattern=SLUG)]) -> Response:
    """What a problem type means: its status, when it happens, what to do.

    An HTML page; JSON when the request accepts JSON and not HTML.
    """
    entry = problem_type(slug)
    if entry is None:
        raise NotFound(f"no problem type {slug!r}")
    accept = request.headers.get("accept", "")
    if "json" in accept and "html" not in accept:
        return JSONResponse(as_json(entry))
    return HTMLResponse(render_html(entry))
