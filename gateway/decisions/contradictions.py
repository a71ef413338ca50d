"""The stored decisions whose identity's NIR or NIA contradicts the person.

Intake refuses them now (or flags them, by policy), but identities stored before were
never checked. ``stored`` opens each identity that has a number, a version at a time,
and yields what it contradicts: the decision, the version, the prefecture, the rules and
the keyed audit pseudonym of the number; never a name, a date or the number itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.decisions import repository
from gateway.identities import consistency
from gateway.identities import service as identities
from gateway.identities.crypto import IdentityCryptoError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session

    from gateway.identities.service import IdentityKeys

CHUNK = 1_000


@dataclass(frozen=True)
class Contradicting:
    decision_id: str
    version: int
    prefecture_id: str
    pseudonym: str  # the keyed audit pseudonym of the NIR or NIA
    rules: tuple[str, ...]
    flagged: bool  # accepted and flagged at intake, rather than stored before the check

    def as_dict(self) -> dict[str, object]:
        return {
            "decision_id": self.decision_id,
            "version": self.version,
            "prefecture_id": self.prefecture_id,
            "pseudonym": self.pseudonym,
            "rules": list(self.rules),
            "flagged": self.flagged,
        }


def stored(session: Session, keys: IdentityKeys) -> Iterator[Contradicting]:
    """Every decision version whose identity's number contradicts it, by decision and version."""
    for decision_id, version, prefecture_id, row in repository.versions_with_numbers(
        session, CHUNK
    ):
        try:
            document = identities.open_document(keys, row).get("identity", {})
        except IdentityCryptoError:
            continue  # shredded since the query ran
        found = consistency.of_document(document)
        if not found:
            continue
        number = document["social_security_number"]["number"]
        (pseudonym,) = identities.pseudonyms_of(keys, None, number)
        yield Contradicting(
            decision_id,
            version,
            prefecture_id,
            pseudonym,
            tuple(dict.fromkeys(c.rule for c in found)),
            flagged=bool(row.nir_contradictions),
        )
