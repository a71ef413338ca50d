"""Request bodies: a made-up person and valid decisions about them, and civil dates; and
the committed set of labelled identity pairs."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

LABELLED_PAIRS = Path(__file__).parents[1] / "data" / "identity_pairs.jsonl"

NIR = "2 85 04 99 341 111 51"  # agrees with the made-up person: F, 1985-04, Senegal
NIR_NORMALISED = "285049934111151"
NAMES = ("N'Diaye", 'O"Brien', "Aïssatou")  # identity()'s, for the places they must not be


def day(offset: int) -> str:
    """The civil date ``offset`` days from today (before it if negative), ISO 8601."""
    return (date.today() + timedelta(days=offset)).isoformat()  # noqa: DTZ011 - civil dates


def days_ago(days: int) -> str:
    return day(-days)


def tomorrow() -> str:
    return day(1)


def identity(**overrides: Any) -> dict[str, Any]:
    """A made-up person with every field; overrides replace fields (None removes one)."""
    person: dict[str, Any] = {
        "agdref_number": "7512345678",
        "social_security_number": {"number": NIR, "type": "nia"},
        "birth_name": "N'Diaye",
        "usage_name": 'O"Brien',
        "first_names": ["Aïssatou", "Ben; Ali"],
        "sex": "F",
        "birth_date": "1985-04-17",
        "place_of_birth": "99341",
        "nationality": "99341",
        "residence_departement": "75",
    }
    person.update(overrides)
    return {key: value for key, value in person.items() if value is not None}


def decision(reference: str, kind: str = "renewal-refusal", **fields: Any) -> dict[str, Any]:
    """A valid decision body; fields replace (None removes) top-level members.

    It was taken 60 days ago, notified 55 days ago, and took effect 50 days ago.
    """
    body: dict[str, Any] = {
        "reference": reference,
        "kind": kind,
        "decision_date": days_ago(60),
        "notification_date": days_ago(55),
        "effect_date": days_ago(50),
        "identity": identity(),
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}
