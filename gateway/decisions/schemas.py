"""Decisions and corrections as prefectures post them, and as they read them back.

Every rule a field breaks is reported with the field's path and a rule name (the type
of a ``PydanticCustomError``), which the problem document and the import report show.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gateway.decisions.models import (
    RESIDENCE_DECISIONS,
    CorrectionKind,
    DecisionKind,
    DecisionStatus,
    RemovalMeasure,
    WithdrawnDocument,
)
from gateway.identities.schemas import IdentityIn, IdentityOut, departement_field

REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9._/:#-]{0,63}$"
PERMIT_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,31}$"
# An effect date may lie ahead (a departure period), but not beyond this.
MAX_EFFECT_AHEAD = timedelta(days=366)


def today() -> date:
    return date.today()  # noqa: DTZ011 - decisions carry civil dates, not instants


def _plain_text(value: str | None) -> str | None:
    if value is None:
        return None
    if any(unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"} for char in value):
        raise PydanticCustomError("control-characters", "control characters are not allowed")
    return value.strip() or None


def _not_future(value: date | None, what: str) -> date | None:
    if value is not None and value > today():
        raise PydanticCustomError("date-in-future", f"the {what} is in the future")
    return value


class PermitIn(BaseModel):
    """The residence permit the decision concerns (or, for a supersession, the new one)."""

    model_config = ConfigDict(extra="forbid")

    category: Annotated[str | None, AfterValidator(_plain_text)] = Field(
        default=None, max_length=64
    )
    number: str | None = Field(default=None, pattern=PERMIT_NUMBER)
    expiry_date: date | None = None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(pattern=REFERENCE, description="The prefecture's own reference.")
    departement: str | None = Field(
        default=None,
        description="The prefecture's département that took it; defaults to its only one.",
    )
    kind: DecisionKind
    withdrawn_document: WithdrawnDocument | None = Field(
        default=None, description="For a withdrawal: a permit (default), a récépissé or an APS."
    )
    removal_measures: list[RemovalMeasure] = Field(
        default_factory=list, description="OQTF, IRTF or expulsion that came with it."
    )
    public_order: bool = Field(
        default=False, description="Public-order ground: raises priority, never disclosed."
    )
    decision_date: date
    notification_date: date | None = None
    effect_date: date | None = None
    permit: PermitIn | None = None
    legal_basis: str | None = Field(default=None, max_length=500)
    identity: IdentityIn

    @field_validator("departement")
    @classmethod
    def _departement(cls, value: str | None) -> str | None:
        return departement_field(value)

    @field_validator("legal_basis")
    @classmethod
    def _legal_basis(cls, value: str | None) -> str | None:
        return _plain_text(value)

    @field_validator("decision_date")
    @classmethod
    def _decision_date(cls, value: date) -> date:
        _not_future(value, "decision date")
        return value

    # Field validators rather than a model one, so that the refusal names the field.
    @field_validator("notification_date")
    @classmethod
    def _notification_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        decided = info.data.get("decision_date")  # absent if it broke a rule itself
        if value is not None and decided is not None and value < decided:
            raise PydanticCustomError(
                "notification-before-decision", "the notification date is before the decision"
            )
        return _not_future(value, "notification date")

    @field_validator("effect_date")
    @classmethod
    def _effect_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        decided = info.data.get("decision_date")
        if value is not None and decided is not None and value < decided:
            raise PydanticCustomError(
                "effect-before-decision", "the effect date is before the decision"
            )
        if value is not None and value > today() + MAX_EFFECT_AHEAD:
            raise PydanticCustomError("effect-too-far", "the effect date is more than a year ahead")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> DecisionIn:
        if self.withdrawn_document and self.kind != DecisionKind.PERMIT_WITHDRAWAL:
            raise PydanticCustomError(
                "withdrawn-document-without-withdrawal",
                "withdrawn_document only goes with a permit-withdrawal",
            )
        if self.removal_measures and self.kind not in RESIDENCE_DECISIONS:
            raise PydanticCustomError(
                "removal-measures-without-residence-decision",
                "removal_measures accompany a residence decision; post an OQTF alone as kind oqtf",
            )
        return self

    def digest_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: CorrectionKind
    reference: str = Field(pattern=REFERENCE, description="The prefecture's reference of the act.")
    correction_date: date = Field(
        description="When the annulment, withdrawal or new permit took effect."
    )
    new_permit: PermitIn | None = Field(default=None, description="For a supersession.")
    identity: IdentityIn | None = Field(
        default=None, description="For a data correction: the whole corrected identity."
    )
    decision_date: date | None = None
    notification_date: date | None = None
    effect_date: date | None = None

    @field_validator("correction_date")
    @classmethod
    def _correction_date(cls, value: date) -> date:
        _not_future(value, "correction date")
        return value

    @field_validator("decision_date", "notification_date")
    @classmethod
    def _corrected_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        return _not_future(value, str(info.field_name).replace("_", " "))

    @field_validator("effect_date")
    @classmethod
    def _corrected_effect(cls, value: date | None) -> date | None:
        if value is not None and value > today() + MAX_EFFECT_AHEAD:
            raise PydanticCustomError("effect-too-far", "the effect date is more than a year ahead")
        return value

    @model_validator(mode="after")
    def _by_kind(self) -> CorrectionIn:
        fixes = (self.identity, self.decision_date, self.notification_date, self.effect_date)
        if self.kind == CorrectionKind.DATA_CORRECTION:
            if all(fix is None for fix in fixes):
                raise PydanticCustomError(
                    "data-correction-empty", "a data correction carries the corrected data"
                )
        elif any(fix is not None for fix in fixes):
            raise PydanticCustomError(
                "data-in-status-correction", "only a data-correction changes identity or dates"
            )
        if self.kind == CorrectionKind.SUPERSEDED and self.new_permit is None:
            raise PydanticCustomError("new-permit-required", "a supersession names the new permit")
        if self.kind != CorrectionKind.SUPERSEDED and self.new_permit is not None:
            raise PydanticCustomError(
                "new-permit-without-supersession", "new_permit only goes with kind superseded"
            )
        return self


class PermitOut(BaseModel):
    category: str | None = None
    number: str | None = None
    expiry_date: date | None = None


class CorrectionOut(BaseModel):
    kind: CorrectionKind
    reference: str
    correction_date: date


class VersionOut(BaseModel):
    version: int
    status: DecisionStatus
    kind: DecisionKind
    withdrawn_document: WithdrawnDocument | None
    removal_measures: list[RemovalMeasure]
    public_order: bool
    decision_date: date
    notification_date: date | None
    effect_date: date | None
    permit: PermitOut | None
    legal_basis: str | None
    correction: CorrectionOut | None
    identity: IdentityOut | None = Field(description="None once the identity was purged.")
    created_at: datetime


class DisclosureOut(BaseModel):
    """One version of the decision owed to one fund, and where it stands."""

    fund_id: str
    version: int
    state: str
    correction: bool
    priority_class: str
    policy_version: str = Field(description="The policy that decided it: name@content hash.")
    created_at: datetime


class DecisionOut(BaseModel):
    id: str
    reference: str
    departement: str
    kind: DecisionKind
    status: DecisionStatus
    current_version: int
    created_at: datetime
    updated_at: datetime
    versions: list[VersionOut]
    disclosures: list[DisclosureOut] = Field(
        default_factory=list, description="Which funds are owed or received it, and when."
    )


class DecisionSummary(BaseModel):
    id: str
    reference: str
    departement: str
    kind: DecisionKind
    status: DecisionStatus
    current_version: int
    created_at: datetime
    updated_at: datetime


class DecisionPage(BaseModel):
    items: list[DecisionSummary]
    next_cursor: str | None = Field(description="Pass as `after` to get the next page.")
