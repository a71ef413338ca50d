"""The gateway's JWKS as a fund keeps it: fetched, cached as the gateway says, revalidated.

The gateway publishes a new signing key well before it signs anything with it, and
answers its JWKS with ``Cache-Control: public, max-age=N`` (N well under that lead) and
an ``ETag``. A fund that honours them has every key before the first batch signed with
it, and asks the gateway no more than once per max-age (a 304 when nothing changed).
A failed refresh keeps the last key set: retired keys stay in it anyway.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Self

import httpx

if TYPE_CHECKING:
    from collections.abc import Callable

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)
_NOT_MODIFIED = 304


def _max_age(cache_control: str | None, cap: float) -> float:
    if not cache_control or "no-store" in cache_control or "no-cache" in cache_control:
        return 0.0
    found = _MAX_AGE.search(cache_control)
    return min(float(found.group(1)), cap) if found else 0.0


class JwksCache:
    """``get()`` answers the cached JWKS while fresh, and fetches it again once stale."""

    def __init__(
        self,
        url: str,
        *,
        http: httpx.Client | None = None,
        max_age_cap: float = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.http = http or httpx.Client(timeout=10.0)
        self.max_age_cap = max_age_cap
        self.fetches = 0  # requests made, 304s included
        self._clock = clock
        self._document: dict[str, Any] | None = None
        self._etag: str | None = None
        self._fresh_until = 0.0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def get(self) -> dict[str, Any]:
        if self._document is not None and self._clock() < self._fresh_until:
            return self._document
        try:
            return self._fetch()
        except (httpx.HTTPError, ValueError):
            if self._document is None:
                raise
            return self._document  # the last key set is still good for what it holds

    def _fetch(self) -> dict[str, Any]:
        headers = {"If-None-Match": self._etag} if self._etag and self._document else {}
        response = self.http.get(self.url, headers=headers)
        self.fetches += 1
        fresh_for = _max_age(response.headers.get("Cache-Control"), self.max_age_cap)
        if response.status_code == _NOT_MODIFIED and self._document is not None:
            self._fresh_until = self._clock() + fresh_for
            return self._document
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError(  # noqa: TRY004 - a malformed document, as a JSON decode error is
                "the gateway's JWKS is not a JSON object with a list of keys"
            )
        self._document = document
        self._etag = response.headers.get("ETag")
        self._fresh_until = self._clock() + fresh_for
        return document
