"""Blocking keys for identities stored without them, or made under an older scheme.

``reindex`` walks the identities in id order, a chunk per transaction; an identity that is
not shredded and has no blocking key is opened and given its keys. Safe to run again, and
while the gateway serves (one run at a time): an identity with keys is left alone. With
``every``, every unshredded identity is given new keys in place of its own.

``to_current_scheme`` is what the worker runs: when the stored keys were made under a
scheme other than the running release's ``matching.BLOCKING_SCHEME`` (an upgrade changed
how keys are made), it gives every identity new keys, a chunk per transaction, each chunk
recording the last identity done in the scheme's row with its keys, so a run stopped
anywhere resumes there and two workers take turns; the last chunk records the new scheme.
An identity is never left without keys: its old ones go in the transaction that adds the
new. Until the walk ends, identities not yet reached are found by the keys both schemes
make.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway.identities import repository
from gateway.identities import service as identities
from gateway.identities.crypto import IdentityCryptoError
from gateway.identities.matching import BLOCKING_SCHEME
from gateway.identities.models import MatchKeyScheme
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.identities.models import Identity
    from gateway.identities.service import IdentityKeys

CHUNK = 2_000
SCHEME_ROW = 1
log = logging.getLogger("gateway.identities.reindex")


def _give_keys(
    session: Session, keys: IdentityKeys, rows: Sequence[Identity], *, drop: bool
) -> None:
    """Give these identities their keys of the running scheme (in place of theirs: ``drop``)."""
    if drop:
        repository.drop_match_keys(session, [row.id for row in rows])
    new_keys = []
    for row in rows:
        try:
            document = identities.open_document(keys, row)
        except IdentityCryptoError:
            continue  # shredded meanwhile
        new_keys += identities.match_key_rows(keys, row.id, document.get("identity", {}))
    repository.add_match_keys(session, new_keys)


def reindex(
    sessions: sessionmaker[Session],
    keys: IdentityKeys,
    *,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
    every: bool = False,
) -> int:
    """Give every identity lacking blocking keys its keys; the number of identities indexed.

    With ``every``, every unshredded identity is given new keys in place of its own, and
    the scheme recorded as the running one.
    """
    if every:
        restart_scheme(sessions)
        return to_current_scheme(sessions, keys, chunk=chunk, progress=progress)
    indexed = 0
    after = ""
    while True:
        with sessions.begin() as session:
            rows = repository.without_match_keys(session, after, chunk)
            if not rows:
                return indexed
            _give_keys(session, keys, rows, drop=False)
            indexed += len(rows)
            after = rows[-1].id
        if progress is not None:
            progress(len(rows))


def _scheme_row(session: Session) -> MatchKeyScheme:
    """The scheme's row, locked until the transaction ends (made, as scheme 0, if missing)."""
    row = repository.scheme_row(session, SCHEME_ROW)
    if row is None:
        row = MatchKeyScheme(id=SCHEME_ROW, scheme=0, reindexed_after=None, updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def stored_scheme(session: Session) -> int:
    """The scheme the stored keys were all made under (0: unknown, an older release's)."""
    found = repository.stored_scheme(session, SCHEME_ROW)
    return 0 if found is None else found


def restart_scheme(sessions: sessionmaker[Session]) -> None:
    """Count every identity's keys as made otherwise: the next walk gives all of them new ones."""
    with sessions.begin() as session:
        row = _scheme_row(session)
        row.scheme, row.reindexed_after, row.updated_at = 0, None, utcnow()


def to_current_scheme(
    sessions: sessionmaker[Session],
    keys: IdentityKeys,
    *,
    chunk: int = CHUNK,
    chunks: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Bring the stored keys to ``BLOCKING_SCHEME``, at most ``chunks`` chunks; identities done."""
    indexed = 0
    done_chunks = 0
    while chunks is None or done_chunks < chunks:
        with sessions.begin() as session:
            state = _scheme_row(session)
            if state.scheme == BLOCKING_SCHEME:
                return indexed
            rows = repository.unshredded(session, state.reindexed_after or "", chunk)
            if not rows:
                log.info(
                    "blocking keys brought to the running scheme",
                    extra={"scheme": BLOCKING_SCHEME, "previous": state.scheme},
                )
                state.scheme, state.reindexed_after = BLOCKING_SCHEME, None
                state.updated_at = utcnow()
                return indexed
            _give_keys(session, keys, rows, drop=True)
            state.reindexed_after, state.updated_at = rows[-1].id, utcnow()
            indexed += len(rows)
        done_chunks += 1
        if progress is not None:
            progress(len(rows))
    return indexed
