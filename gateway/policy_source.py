"""The policy in force, re-read when its file changes; a broken file never replaces it.

The service checks the file's modification time and size at most every
``policy_reload_seconds``. A changed file that loads becomes the policy for the next
requests (and its version goes on every disclosure it decides); a changed file that does
not load is logged with every problem and its line, ``/readyz`` says so, and the last
valid policy stays in force. At start-up there is no last valid policy: a broken file
stops the service from starting.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from policies.loader import PolicyError, load_file

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from policies.loader import LoadedPolicy

log = logging.getLogger("gateway.policy")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)  # noqa: PTH116 - one call for both values
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


class PolicySource:
    def __init__(
        self,
        path: Path,
        check_every: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.check_every = check_every
        self._clock = clock
        self._stamp = _stamp(path)
        self._loaded = load_file(path)  # raises PolicyError: refuse to start
        self._next_check = clock() + check_every
        self._lock = threading.Lock()
        self.last_error: PolicyError | None = None

    def current(self) -> LoadedPolicy:
        """The policy in force, after a cheap check of the file when one is due."""
        if self.check_every > 0 and self._clock() >= self._next_check:
            self.refresh()
        return self._loaded

    def refresh(self) -> bool:
        """Re-read the file if it changed; True if another policy is now in force."""
        if not self._lock.acquire(blocking=False):
            return False  # another thread is on it
        try:
            self._next_check = self._clock() + self.check_every
            stamp = _stamp(self.path)
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            try:
                loaded = load_file(self.path)
            except PolicyError as error:
                self.last_error = error
                log.error(  # noqa: TRY400 - the problems are the message, not a traceback
                    "policy file refused; the last valid policy stays in force",
                    extra={
                        "file": str(self.path),
                        "kept": self._loaded.version,
                        "problems": [str(problem) for problem in error.problems],
                    },
                )
                return False
            self.last_error = None
            if loaded.version == self._loaded.version:
                return False
            log.info(
                "policy reloaded",
                extra={"previous": self._loaded.version, "version": loaded.version},
            )
            self._loaded = loaded
            return True
        finally:
            self._lock.release()
