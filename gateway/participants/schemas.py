"""Pydantic shapes of participants, in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.auth.jwks import InvalidKeyError, normalise_encryption_jwk, normalise_signing_jwks
from gateway.participants.models import ParticipantKind, Regime
from gateway.territory import normalise_territory

PARTICIPANT_ID = r"^[a-z0-9][a-z0-9._-]{2,63}$"


class ParticipantSpec(BaseModel):
    """What registering a participant needs; used by the CLI and the admin API."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=PARTICIPANT_ID, description="The OAuth client id.")
    kind: ParticipantKind
    name: str = Field(min_length=2, max_length=200)
    jwks: dict[str, Any] = Field(description="Public signing keys: a JWKS or one JWK.")
    departements: list[str] = Field(default_factory=list)
    regime: Regime | None = None
    national: bool = False
    acts_for: list[str] = Field(default_factory=list)
    push_endpoint: AnyHttpUrl | None = None
    encryption_jwk: dict[str, Any] | None = None
    require_dpop: bool = False

    @field_validator("jwks")
    @classmethod
    def _jwks(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            return normalise_signing_jwks(value)
        except InvalidKeyError as error:
            raise ValueError(str(error)) from error

    @field_validator("encryption_jwk")
    @classmethod
    def _encryption(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            return normalise_encryption_jwk(value)
        except InvalidKeyError as error:
            raise ValueError(str(error)) from error

    @field_validator("departements")
    @classmethod
    def _departements(cls, value: list[str]) -> list[str]:
        return normalise_territory(value)

    @model_validator(mode="after")
    def _by_kind(self) -> ParticipantSpec:
        if self.kind == ParticipantKind.FUND and self.regime is None:
            raise ValueError("a fund needs a regime")
        if self.kind != ParticipantKind.FUND and self.regime is not None:
            raise ValueError("only funds have a regime")
        if self.kind == ParticipantKind.PREFECTURE and not self.departements:
            raise ValueError("a prefecture needs its département code(s)")
        if self.kind == ParticipantKind.FUND and not (
            self.departements or self.national or self.acts_for
        ):
            raise ValueError("a fund needs a territory, to be national, or funds it acts for")
        if self.national and self.departements:
            raise ValueError("a participant is either national or has a territory, not both")
        if self.kind == ParticipantKind.AUDITOR and not (self.national or self.departements):
            raise ValueError("an auditor is either national or has a territory")
        if self.national and self.kind not in {ParticipantKind.AUDITOR, ParticipantKind.FUND}:
            raise ValueError("only auditors and funds can be national")
        if self.push_endpoint is not None and self.kind != ParticipantKind.FUND:
            raise ValueError("only funds have a push endpoint")
        if self.id in self.acts_for:
            raise ValueError("a participant cannot act for itself")
        return self


class ParticipantKeyIn(BaseModel):
    """The next public signing key of a participant (one JWK; its kid, or its thumbprint)."""

    model_config = ConfigDict(extra="forbid")

    jwk: dict[str, Any] = Field(description="One public signing JWK.")
    proof: str | None = Field(
        default=None,
        max_length=8192,
        pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
        description="A JWT signed with the new key (header typ `key-possession+jwt`; claims "
        "iss: the participant's id, aud: the gateway's issuer, iat, exp at most 60 s ahead, "
        "jti used once): required when a participant adds its own key, optional for an "
        "operator.",
    )

    @field_validator("jwk")
    @classmethod
    def _jwk(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "keys" in value:
            raise ValueError("one JWK, not a JWKS")
        try:
            (key,) = normalise_signing_jwks(value)["keys"]
        except InvalidKeyError as error:
            raise ValueError(str(error)) from error
        return dict(key)


class ParticipantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: ParticipantKind
    name: str
    status: str
    regime: Regime | None
    national: bool
    departements: list[str]
    acts_for: list[str]
    push_endpoint: str | None
    require_dpop: bool
    key_ids: list[str]
    has_encryption_key: bool
    created_at: datetime
    updated_at: datetime


class ParticipantPage(BaseModel):
    items: list[ParticipantOut]
    next_cursor: str | None = Field(description="Pass as `after` to get the next page.")
