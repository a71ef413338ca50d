from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from policies.loader import DEFAULT_POLICY, load_file
from policies.model import DISCLOSABLE_FIELDS, NEVER_DISCLOSED
from policies.projection import project

ALL_FIELDS = (*DISCLOSABLE_FIELDS, *NEVER_DISCLOSED, "permit_number", "notes")
values = st.one_of(st.none(), st.text(max_size=5), st.integers(), st.booleans())
records = st.dictionaries(st.sampled_from(ALL_FIELDS), values)
profiles = st.lists(st.sampled_from(ALL_FIELDS), unique=True)


@given(records, profiles)
def test_no_field_outside_the_profile_ever_appears(
    record: dict[str, Any], profile: list[str]
) -> None:
    projected = project(record, profile)
    assert set(projected) <= set(profile)
    assert set(projected) <= set(DISCLOSABLE_FIELDS)
    assert all(projected[name] == record[name] for name in projected)


@given(records)
def test_the_public_order_ground_never_appears_under_any_shipped_profile(
    record: dict[str, Any],
) -> None:
    policy = load_file(DEFAULT_POLICY).policy
    for fields in policy.profiles.values():
        projected = project(record, fields)
        for forbidden in NEVER_DISCLOSED:
            assert forbidden not in projected


def test_unknown_values_are_left_out_rather_than_sent_empty() -> None:
    assert project({"birth_name": "N'Diaye", "usage_name": None}, ["birth_name", "usage_name"]) == {
        "birth_name": "N'Diaye"
    }
