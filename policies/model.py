"""The policy document, validated strictly: an unknown key is an error.

It says what is disclosed, in which order, to whom, with which fields, for which
purposes and for how long.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DECISION_KINDS = (
    "permit-withdrawal",
    "renewal-refusal",
    "first-permit-refusal",
    "oqtf",
    "irtf",
    "expulsion",
)
REGIMES = ("cpam", "caf", "msa", "urssaf", "carsat", "cgss", "css-mayotte")
PARTICIPANT_KINDS = ("prefecture", "fund", "auditor", "operator")
# Every field a fund could ever be sent. Deliberately absent: the public-order ground,
# the legal-basis text, the address (only the département of residence exists at all).
DISCLOSABLE_FIELDS = (
    "social_security_number",
    "agdref_number",
    "birth_name",
    "usage_name",
    "first_names",
    "sex",
    "birth_date",
    "place_of_birth",
    "nationality",
    "residence_departement",
    "kind_class",
    "reference",
    "decision_date",
    "notification_date",
    "effect_date",
    "permit_expiry",
    "priority_class",
)
NEVER_DISCLOSED = ("public_order", "legal_basis", "address")

Kind = Literal[
    "permit-withdrawal", "renewal-refusal", "first-permit-refusal", "oqtf", "irtf", "expulsion"
]
Regime = Literal["cpam", "caf", "msa", "urssaf", "carsat", "cgss", "css-mayotte"]
ParticipantKind = Literal["prefecture", "fund", "auditor", "operator"]
FieldName = Literal[
    "social_security_number", "agdref_number", "birth_name", "usage_name", "first_names",
    "sex", "birth_date", "place_of_birth", "nationality", "residence_departement",
    "kind_class", "reference", "decision_date", "notification_date", "effect_date",
    "permit_expiry", "priority_class",
]  # fmt: skip
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,63}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PurposeRule(Strict):
    purpose: Slug
    legal_basis: str = Field(min_length=5)


class Eligibility(Strict):
    disclosed: list[Kind] = Field(min_length=1)
    recorded_only: list[Kind] = Field(default_factory=list)

    @model_validator(mode="after")
    def _partition(self) -> Eligibility:
        both = set(self.disclosed) & set(self.recorded_only)
        if both:
            raise ValueError(f"kinds both disclosed and recorded only: {sorted(both)}")
        missing = set(DECISION_KINDS) - set(self.disclosed) - set(self.recorded_only)
        if missing:
            raise ValueError(f"kinds neither disclosed nor recorded only: {sorted(missing)}")
        return self


class PriorityClass(Strict):
    """A class matches a decision when any of its conditions holds."""

    name: Slug
    corrections: bool = False
    kinds: list[Kind] = Field(default_factory=list)
    public_order: bool = False
    otherwise: bool = Field(default=False, description="Matches everything: the last class.")
    express: bool = Field(default=False, description="Sealed by the frequent express runs.")


class Priority(Strict):
    classes: list[PriorityClass] = Field(min_length=1, description="Highest first.")

    @model_validator(mode="after")
    def _ordered(self) -> Priority:
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise ValueError("two priority classes share a name")
        if not self.classes[-1].otherwise or any(c.otherwise for c in self.classes[:-1]):
            raise ValueError("exactly the last priority class must say otherwise: true")
        if not self.classes[0].corrections:
            raise ValueError("corrections come first: the first class must match corrections")
        return self


class RegimeRoute(Strict):
    enabled: bool = True
    profile: Slug = "default"


class Routing(Strict):
    residence_first: bool = Field(
        default=True,
        description="Route by the person's département of residence, else the prefecture's.",
    )
    subscriptions_only: bool = Field(
        default=False, description="Only to funds holding a file on the person."
    )
    regimes: dict[Regime, RegimeRoute]

    @field_validator("regimes")
    @classmethod
    def _some_regime(cls, regimes: dict[str, RegimeRoute]) -> dict[str, RegimeRoute]:
        # Disclosed kinds that no regime receives would be disclosed to nobody.
        if not any(route.enabled for route in regimes.values()):
            raise ValueError("no regime is enabled: every disclosed decision would go nowhere")
        return regimes


class Retention(Strict):
    identity_after_last_receipt_days: int = Field(ge=1, le=3650)
    import_reports_days: int = Field(ge=1, le=3650)
    receipts_days: int = Field(ge=1, le=3650)
    audit_events_days: int = Field(ge=180, le=1095, description="CNIL: 6 months to 3 years.")


class Identities(Strict):
    nir_contradiction: Literal["refuse", "flag"] = Field(
        default="refuse",
        description="A NIR or NIA that contradicts its person's sex, birth date or place of "
        "birth: refused (400), or accepted and flagged on the stored identity.",
    )


class Policy(Strict):
    name: Slug
    description: str
    purposes: dict[ParticipantKind, list[PurposeRule]]
    eligibility: Eligibility
    priority: Priority
    routing: Routing
    profiles: dict[Slug, list[FieldName]]
    retention: Retention
    identities: Identities = Field(default_factory=Identities)

    @field_validator("profiles")
    @classmethod
    def _profiles(cls, profiles: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, fields in profiles.items():
            if len(set(fields)) != len(fields):
                raise ValueError(f"profile {name!r} names a field twice")
        return profiles

    def purposes_for(self, kind: str) -> frozenset[str]:
        """The closed list of purposes a participant of ``kind`` may state."""
        return frozenset(rule.purpose for rule in self.purposes.get(kind, []))  # type: ignore[call-overload]

    @model_validator(mode="after")
    def _coherent(self) -> Policy:
        for kind in PARTICIPANT_KINDS:
            if not self.purposes.get(kind):  # type: ignore[call-overload]
                raise ValueError(f"no purpose for {kind}: every kind needs at least one")
        for regime, route in self.routing.regimes.items():
            if route.profile not in self.profiles:
                raise ValueError(f"regime {regime} uses profile {route.profile!r}, not defined")
        return self
