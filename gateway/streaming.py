"""Uploaded files (imports, subscriptions): their format, and their body read chunk by chunk."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import anyio.from_thread

from connectors.importers import ENCODINGS
from gateway.errors import InvalidField

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from starlette.requests import Request


class UploadFormat(StrEnum):
    NDJSON = "ndjson"
    CSV = "csv"


CONTENT_TYPES = {
    "application/x-ndjson": UploadFormat.NDJSON,
    "application/ndjson": UploadFormat.NDJSON,
    "application/jsonl": UploadFormat.NDJSON,
    "text/csv": UploadFormat.CSV,
}
OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


def upload_format(request: Request, given: UploadFormat | None) -> UploadFormat:
    """The ``format`` query parameter, else the Content-Type; refused if neither says."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    chosen = given or CONTENT_TYPES.get(content_type)
    if chosen is None:
        raise InvalidField(
            "format",
            "required",
            "say format=ndjson or format=csv, or send the matching Content-Type",
        )
    return chosen


def upload_charset(request: Request) -> str:
    """The file's encoding, from the Content-Type's ``charset``: UTF-8 unless it says."""
    parameters = request.headers.get("content-type", "").split(";")[1:]
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            given = value.strip().strip('"').lower()
            if given not in ENCODINGS:
                raise InvalidField(
                    "charset",
                    "unsupported-charset",
                    f"charset may be one of {', '.join(sorted(set(ENCODINGS.values())))}",
                )
            return ENCODINGS[given]
    return "utf-8"


async def _next_chunk(stream: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await anext(stream)
    except StopAsyncIteration:
        return None


def blocking_chunks(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """The body as a blocking iterator; only valid in a thread started by anyio."""
    while (chunk := anyio.from_thread.run(_next_chunk, stream)) is not None:
        if chunk:
            yield chunk
