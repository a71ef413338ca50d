"""Row identifiers: UUIDv7 (RFC 9562), time-ordered.

Random (v4) identifiers scatter every insert across the whole primary-key index, which
stops fitting in memory as tables grow into the millions (a backlog import); v7 ids
start with the millisecond, so new rows land at the end of the index like a sequence,
while staying unguessable and mergeable across replicas.
"""

from __future__ import annotations

import os
import time

_VERSION = 0x7 << 76
_VARIANT = 0x2 << 62
_VERSION_MASK = ~(0xF << 76)
_VARIANT_MASK = ~(0x3 << 62)


def new_id() -> str:
    """A UUIDv7 as its 36-character string: 48 bits of Unix milliseconds, 74 random."""
    milliseconds = time.time_ns() // 1_000_000
    value = (milliseconds << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & _VERSION_MASK & _VARIANT_MASK) | _VERSION | _VARIANT
    # As str(uuid.UUID(int=value)) writes it, without building the object (a hot path).
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
