"""The identity a prefecture sends, validated field by field.

Names are kept exactly as sent (apostrophes, quotes, non-Latin scripts); identifiers
are normalised (``nir``, ``agdref``); every refusal names the field and the rule
(``PydanticCustomError`` types are the rule names).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gateway.identities.agdref import parse_agdref
from gateway.identities.dates import PartialDate
from gateway.identities.errors import IdentityFieldError
from gateway.identities.names import validate_name
from gateway.identities.nir import NumberType, parse_social_security_number
from gateway.identities.places import validate_nationality, validate_place_of_birth
from gateway.territory import normalise_departement

MAX_FIRST_NAMES = 10


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"


def _rule(error: IdentityFieldError) -> PydanticCustomError:
    return PydanticCustomError(error.rule, str(error))


def departement_field(value: str | None) -> str | None:
    """A département code field: normalised, or refused with rule departement-unknown."""
    if value is None:
        return None
    try:
        return normalise_departement(value)
    except ValueError as error:
        raise PydanticCustomError("departement-unknown", str(error)) from error


def agdref_field(value: str | None, *, canonical: bool = False) -> str | None:
    """An AGDREF number field: as given (or its 10-digit form), else rule agdref-format."""
    if value is None:
        return None
    try:
        parsed = parse_agdref(value)
    except IdentityFieldError as error:
        raise _rule(error) from error
    return parsed.canonical if canonical else parsed.given


def _name(value: str) -> str:
    try:
        return validate_name(value)
    except IdentityFieldError as error:
        raise _rule(error) from error


Name = Annotated[str, Field(max_length=400)]


class SocialSecurityNumberIn(BaseModel):
    """A NIR, a NIA (same shape; becomes the NIR once certified) or an old NNP."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(max_length=32)
    type: NumberType

    @model_validator(mode="after")
    def _check(self) -> SocialSecurityNumberIn:
        try:
            parsed = parse_social_security_number(self.number, self.type)
        except IdentityFieldError as error:
            raise _rule(error) from error
        self.number = parsed.number
        return self


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agdref_number: str | None = Field(
        default=None, max_length=16, description="10 digits; 9 accepted and flagged."
    )
    social_security_number: SocialSecurityNumberIn | None = None
    birth_name: Name | None = None
    usage_name: Name | None = None
    first_names: list[Name] = Field(default_factory=list, max_length=MAX_FIRST_NAMES)
    sex: Sex | None = None
    birth_date: str | None = Field(
        default=None,
        max_length=10,
        description="YYYY-MM-DD, YYYY-MM or YYYY; 00 or XX for unknown parts. Never filled in.",
    )
    place_of_birth: str | None = Field(default=None, max_length=5, description="INSEE COG code")
    nationality: str | None = Field(default=None, max_length=5, description="COG country code")
    residence_departement: str | None = Field(default=None, max_length=3)

    @field_validator("agdref_number")
    @classmethod
    def _agdref(cls, value: str | None) -> str | None:
        return agdref_field(value)

    @field_validator("birth_name", "usage_name")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _name(value)

    @field_validator("first_names")
    @classmethod
    def _first_names(cls, values: list[str]) -> list[str]:
        return [_name(value) for value in values]

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parsed = PartialDate.parse(value)
        except IdentityFieldError as error:
            raise _rule(error) from error
        if parsed.is_after(date.today()):  # noqa: DTZ011 - civil dates, not instants
            raise PydanticCustomError("date-in-future", "the birth date is in the future")
        return parsed.iso()

    @field_validator("place_of_birth")
    @classmethod
    def _place(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_place_of_birth(value)
        except IdentityFieldError as error:
            raise _rule(error) from error

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_nationality(value)
        except IdentityFieldError as error:
            raise _rule(error) from error

    @field_validator("residence_departement")
    @classmethod
    def _residence(cls, value: str | None) -> str | None:
        return departement_field(value)

    @model_validator(mode="after")
    def _enough_to_match(self) -> IdentityIn:
        """At least one strong identifier or, failing both, names + birth year + sex + place."""
        if self.agdref_number or self.social_security_number:
            return self
        year = PartialDate.parse(self.birth_date).year if self.birth_date else None
        if self.birth_name and self.first_names and year and self.sex and self.place_of_birth:
            return self
        raise PydanticCustomError(
            "identity-insufficient",
            "give an AGDREF number or a NIR/NIA, or else birth name, first names, birth year, "
            "sex and place of birth",
        )

    def document(self) -> dict[str, Any]:
        """The identity as stored (sealed): exactly the validated fields."""
        return self.model_dump(mode="json", exclude_none=True)


class IdentityOut(IdentityIn):
    """An identity as returned to the prefecture that sent it."""

    agdref_possible_lost_leading_zero: bool = False
    nir_contradictions: list[str] = Field(
        default_factory=list,
        description="The rules (nir-sex-mismatch, nir-birth-year-mismatch, "
        "nir-birth-month-mismatch, nir-birth-place-mismatch) the NIR or NIA breaks against "
        "this identity, where the policy accepted it flagged rather than refused it.",
    )
