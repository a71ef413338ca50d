"""The one projection every outbound path uses: a record cut down to a profile's fields.

Defence in depth: a field outside ``DISCLOSABLE_FIELDS`` (the public-order ground, the
legal-basis text, an address) is dropped even if a profile named it, which the loader
refuses anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from policies.model import DISCLOSABLE_FIELDS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

_DISCLOSABLE = frozenset(DISCLOSABLE_FIELDS)


def project(record: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The record's values for the profile's fields, known ones only, in profile order."""
    return {
        name: record[name]
        for name in fields
        if name in _DISCLOSABLE and record.get(name) is not None
    }
