"""One line of a subscription upload, and what the gateway answers about a fund's set."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gateway.identities.schemas import SocialSecurityNumberIn, agdref_field
from gateway.streaming import UploadFormat

CSV_COLUMNS = ("agdref_number", "ssn_number", "ssn_type", "valid_from", "valid_until")
REQUIRED_CSV_COLUMNS = ("valid_from",)


SubscriptionFormat = UploadFormat


class SubscriptionIn(BaseModel):
    """A person the fund holds a file on: at least one identifier, and the period."""

    model_config = ConfigDict(extra="forbid")

    agdref_number: str | None = Field(default=None, max_length=16)
    social_security_number: SocialSecurityNumberIn | None = None
    valid_from: date = Field(description="First day the fund holds the file.")
    valid_until: date | None = Field(
        default=None, description="Last day (inclusive); absent while the file is open."
    )

    @field_validator("agdref_number")
    @classmethod
    def _agdref(cls, value: str | None) -> str | None:
        return agdref_field(value, canonical=True)

    @model_validator(mode="after")
    def _coherent(self) -> SubscriptionIn:
        if self.agdref_number is None and self.social_security_number is None:
            raise PydanticCustomError(
                "identifier-required",
                "a subscription names an AGDREF number or a NIR/NIA",
            )
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise PydanticCustomError("period-reversed", "valid_until is before valid_from")
        return self


def csv_document(row: dict[str, str]) -> dict[str, Any]:
    """A CSV record in the shape of an NDJSON line."""

    def cell(name: str) -> str | None:
        value = row.get(name)
        return value.strip() or None if value is not None else None

    document: dict[str, Any] = {
        key: cell(key)
        for key in ("agdref_number", "valid_from", "valid_until")
        if cell(key) is not None
    }
    if cell("ssn_number") is not None or cell("ssn_type") is not None:
        document["social_security_number"] = {
            "number": cell("ssn_number"),
            "type": cell("ssn_type"),
        }
    return document


class SubscriptionSetOut(BaseModel):
    """A fund's current set: counts only, since the gateway keeps no identifier in clear."""

    model_config = ConfigDict(from_attributes=True)

    fund_id: str
    upload_id: str | None
    file_format: str | None
    lines: int
    people: int
    identifiers: int
    open_periods: int = Field(description="Subscriptions without an end date.")
    uploaded_at: datetime | None
