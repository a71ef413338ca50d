"""The purposes the code itself names; which kind may state which comes from the policy.

Every data request names one (``Purpose`` header); anything not listed for the caller's
kind in the policy in force (``policies/default.yaml``, ``purposes``) is refused and the
refusal audited.
"""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    DECISION_TRANSMISSION = "decision-transmission"
    RESIDENCE_CHECK = "residence-regularity-check"
    ANTI_FRAUD_CONTROL = "anti-fraud-control"
    DATA_SUBJECT_REQUEST = "data-subject-request"
    ADMINISTRATION = "administration"
