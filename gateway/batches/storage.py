"""Batch bytes at rest: encrypted like identities, and crypto-shredded with them.

A batch's bytes hold the identities it discloses. They are kept (to serve downloads,
pushes and retries, and to settle disputes) encrypted under a fresh data key wrapped by
the identity key-encryption key, bound to the batch id; the digest and Merkle root stay
in clear as evidence. Destroying the wrapped key (retention) makes the bytes unreadable
for good, while the digest still proves what was sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.errors import GatewayError
from gateway.identities.crypto import Sealed, Shredded

if TYPE_CHECKING:
    from gateway.batches.models import Batch
    from gateway.identities.crypto import IdentityCipher


class BatchPurged(GatewayError):
    status = 410
    slug = "batch-purged"
    title = "Batch purged"


def seal_content(cipher: IdentityCipher, batch_id: str, content: bytes) -> dict[str, Any]:
    """The column values that keep ``content`` encrypted."""
    sealed = cipher.encrypt(content, batch_id.encode())
    return {
        "content": sealed.ciphertext,
        "content_nonce": sealed.nonce,
        "content_key": sealed.wrapped_key,
        "content_kek_id": sealed.kek_id,
    }


def open_content(cipher: IdentityCipher, batch: Batch) -> bytes:
    """The batch's exact bytes; ``BatchPurged`` once retention destroyed its key."""
    sealed = Sealed(batch.content, batch.content_nonce, batch.content_key, batch.content_kek_id)
    try:
        return cipher.decrypt(sealed, batch.id.encode())
    except Shredded:
        raise BatchPurged(
            f"batch {batch.id} was purged after its retention; its digest {batch.digest} "
            "still proves what it held"
        ) from None
