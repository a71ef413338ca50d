"""A request body read, chunk by chunk, from a worker thread (imports, subscriptions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio.from_thread

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


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
