"""The gateway's keys as the key directory holds them now, without a restart.

Every replica and worker reads the same key directory (a shared secret, mounted read-only
where it runs). The service checks the keyring's content (its SHA-256: a mounted secret
is replaced by swapping a symlink, which a modification time may not show) at most every
``key_reload_seconds``; a changed keyring that loads becomes the key set of the next
requests, one that does not load is logged and the last valid set kept. Which key signs
follows from the activation times in the keyring, so replicas agree on it at any moment
once they have read the same keyring.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import TYPE_CHECKING

from gateway.keys import KEYRING, GatewayKeys, KeyStoreError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from gateway.identities.service import IdentityKeys

log = logging.getLogger("gateway.keys")


def _stamp(key_dir: Path) -> str | None:
    try:
        return hashlib.sha256((key_dir / KEYRING).read_bytes()).hexdigest()
    except OSError:
        return None


class KeySource:
    """The current ``GatewayKeys`` (and identity keys built from them), re-read on change."""

    def __init__(
        self,
        key_dir: Path,
        check_every: float,
        *,
        keys: GatewayKeys | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key_dir = key_dir
        self.check_every = check_every
        self._clock = clock
        self._stamp = _stamp(key_dir)
        self._keys = keys or GatewayKeys.load(key_dir)  # raises: refuse to start
        self._identity_keys: tuple[GatewayKeys, IdentityKeys] | None = None
        self._next_check = clock() + check_every
        self._lock = threading.Lock()
        self.last_error: KeyStoreError | None = None

    @classmethod
    def fixed(cls, keys: GatewayKeys, key_dir: Path) -> KeySource:
        """Keys given by the caller (tests, tools): never re-read."""
        return cls(key_dir, 0, keys=keys)

    def current(self) -> GatewayKeys:
        """The keys in force, after a cheap check of the keyring when one is due."""
        if self.check_every > 0 and self._clock() >= self._next_check:
            self.refresh()
        return self._keys

    def identity_keys(self) -> IdentityKeys:
        """The identity keys of the current key set (every identity KEK loaded)."""
        # Imported here: gateway.identities builds on the key store, not the other way round.
        from gateway.identities.service import IdentityKeys  # noqa: PLC0415

        keys = self.current()
        built = self._identity_keys
        if built is None or built[0] is not keys:
            built = (keys, IdentityKeys.from_store(keys))
            self._identity_keys = built
        return built[1]

    def refresh(self) -> bool:
        """Re-read the keyring if it changed; True if another key set is now in force."""
        if not self._lock.acquire(blocking=False):
            return False  # another thread is on it
        try:
            self._next_check = self._clock() + self.check_every
            stamp = _stamp(self.key_dir)
            if stamp == self._stamp:
                return False
            try:
                loaded = GatewayKeys.load(self.key_dir)
            except (KeyStoreError, OSError, ValueError, KeyError) as error:
                self.last_error = KeyStoreError(str(error))
                log.error(  # noqa: TRY400 - the reason is the message, not a traceback
                    "keyring refused; the last valid keys stay in force",
                    extra={"key_dir": str(self.key_dir), "problem": str(error)},
                )
                return False
            self._stamp = stamp
            self.last_error = None
            log.info(
                "keys reloaded",
                extra={"kids": [entry.kid for entry in loaded.entries]},
            )
            self._keys = loaded
            return True
        finally:
            self._lock.release()
