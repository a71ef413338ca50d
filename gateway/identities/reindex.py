"""Blocking keys for identities stored without them (before name matching, or restored).

Walks the identities in id order, a chunk per transaction; an identity that is not
shredded and has no blocking key is opened and given its keys. Safe to run again, and
while the gateway serves (one run at a time): an identity with keys is left alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.identities import repository
from gateway.identities import service as identities
from gateway.identities.crypto import IdentityCryptoError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.identities.service import IdentityKeys

CHUNK = 2_000


def reindex(
    sessions: sessionmaker[Session],
    keys: IdentityKeys,
    *,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Give every identity lacking blocking keys its keys; the number of identities indexed."""
    indexed = 0
    after = ""
    while True:
        with sessions.begin() as session:
            rows = repository.without_match_keys(session, after, chunk)
            if not rows:
                return indexed
            new_keys = []
            for row in rows:
                try:
                    document = identities.open_document(keys, row)
                except IdentityCryptoError:
                    continue  # shredded meanwhile
                new_keys += identities.match_key_rows(keys, row.id, document.get("identity", {}))
            repository.add_match_keys(session, new_keys)
            indexed += len(rows)
            after = rows[-1].id
        if progress is not None:
            progress(len(rows))
