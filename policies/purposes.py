"""The closed list of purposes each kind of participant may state, with its legal basis.

Every data request names one (``Purpose`` header); anything not listed for the caller's
kind is refused and the refusal audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Purpose(StrEnum):
    DECISION_TRANSMISSION = "decision-transmission"
    RESIDENCE_CHECK = "residence-regularity-check"
    ANTI_FRAUD_CONTROL = "anti-fraud-control"
    DATA_SUBJECT_REQUEST = "data-subject-request"
    ADMINISTRATION = "administration"


@dataclass(frozen=True)
class PurposeRule:
    purpose: Purpose
    legal_basis: str


PURPOSES_BY_KIND: dict[str, tuple[PurposeRule, ...]] = {
    "prefecture": (
        PurposeRule(
            Purpose.DECISION_TRANSMISSION,
            "Art. L. 114-10-2 CSS; protocol of 29 December 2021; instruction of 28 October 2024",
        ),
    ),
    "fund": (
        PurposeRule(
            Purpose.RESIDENCE_CHECK,
            "Art. L. 114-10-2 CSS (checking regular residence); art. R. 146-12 CESEDA",
        ),
    ),
    "auditor": (
        PurposeRule(
            Purpose.ANTI_FRAUD_CONTROL,
            "CODAF: decree 2008-371 of 18 April 2008; art. L. 114-16-1 ff. CSS",
        ),
        PurposeRule(Purpose.DATA_SUBJECT_REQUEST, "GDPR art. 15: the person's right of access"),
    ),
    "operator": (PurposeRule(Purpose.ADMINISTRATION, "GDPR art. 32: security of processing"),),
}


def allowed_purposes(kind: str) -> frozenset[Purpose]:
    return frozenset(rule.purpose for rule in PURPOSES_BY_KIND.get(kind, ()))
