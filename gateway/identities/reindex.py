"""Blocking keys for identities stored without them (before name matching, or restored).

Walks the identities in id order, a chunk per transaction; an identity that is not
shredded and has no blocking key is opened and given its keys. Safe to run again, and
while the gateway serves (one run at a time): an identity with keys is left alone.
With ``every``, every unshredded identity's keys are computed again and replace the old
ones: once after an upgrade that changes how the keys are made (``matching.blocking_keys``),
each chunk in one transaction, so an identity is never left without keys.
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
    every: bool = False,
) -> int:
    """Give every identity lacking blocking keys its keys; the number of identities indexed.

    With ``every``, every unshredded identity is given new keys in place of its own.
    """
    indexed = 0
    after = ""
    while True:
        with sessions.begin() as session:
            find = repository.unshredded if every else repository.without_match_keys
            rows = find(session, after, chunk)
            if not rows:
                return indexed
            if every:
                repository.drop_match_keys(session, [row.id for row in rows])
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
