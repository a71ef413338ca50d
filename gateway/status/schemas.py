"""A status check and its minimal answer: nothing the fund did not already send."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.identities.matching import Level
from gateway.identities.schemas import IdentityIn

MAX_CHECKS = 10_000
NOTE = (
    "none_known means the gateway knows of no residence decision matching this identity; "
    "it does not prove that the person resides regularly. A weak match names no decision: "
    "it may be a namesake, so confirm with the AGDREF number or the NIR. A conflict names "
    "none either: the identifier sent is held by someone the identity sent contradicts."
)
ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,64}$"


class CheckIn(BaseModel):
    """One person to check; the agent and case may differ from the request's."""

    model_config = ConfigDict(extra="forbid")

    identity: IdentityIn
    agent_id: str | None = Field(default=None, pattern=ID_PATTERN)
    case_reference: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:/@-]{1,128}$")


class ChecksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checks: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_CHECKS)


class Result(StrEnum):
    ADVERSE_DECISION = "adverse_decision"
    CORRECTED = "corrected"
    NONE_KNOWN = "none_known"


class Adverse(BaseModel):
    """The decision's facts a fund applies its rules to: no name, no identifier."""

    kind_class: str
    reference: str
    notification_date: date | None
    effect_date: date | None


class CheckError(BaseModel):
    field: str
    rule: str
    message: str


class CheckOut(BaseModel):
    position: int
    result: Result | None = None
    match: Level | None = Field(
        default=None,
        description="exact (an identifier), strong, weak (perhaps a namesake), none, or "
        "conflict: an identifier sent belongs to a person the identity sent contradicts "
        "(sex, birth date, first names); no decision is named, the fund resolves it.",
    )
    decision: Adverse | None = None
    errors: list[CheckError] = Field(default_factory=list)


class ChecksOut(BaseModel):
    answers: list[CheckOut]
    note: str = Field(default=NOTE)
