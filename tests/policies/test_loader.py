from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from policies.loader import DEFAULT_POLICY, PolicyError, load_file, load_text

DEFAULT = DEFAULT_POLICY.read_text()


def refused(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as error:
        load_text(text)
    return error.value


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_the_shipped_policy_loads_with_a_version_naming_its_content() -> None:
    loaded = load_file(DEFAULT_POLICY)
    assert loaded.version.startswith("instruction-2024-10-28@")
    changed = load_text(DEFAULT.replace("audit_events_days: 1095", "audit_events_days: 365"))
    assert changed.version != loaded.version
    assert changed.version.split("@")[0] == loaded.version.split("@")[0]


def test_an_unknown_field_is_named_with_its_line() -> None:
    text = DEFAULT.replace("  residence_first: true", "  residence_first: true\n  shortcut: yes")
    problem = refused(text).problems[0]
    assert problem.rule == "extra_forbidden"
    assert problem.path == "routing.shortcut"
    assert problem.line == line_of(text, "shortcut")


def test_a_profile_naming_a_field_that_does_not_exist_is_refused() -> None:
    text = DEFAULT.replace("    - priority_class", "    - priority_class\n    - shoe_size")
    problem = refused(text).problems[0]
    assert problem.path == "profiles.default.15"
    assert problem.line == line_of(text, "shoe_size")


@pytest.mark.parametrize("field", ["public_order", "legal_basis", "address"])
def test_a_profile_can_never_name_the_fields_funds_must_not_see(field: str) -> None:
    text = DEFAULT.replace("    - priority_class", f"    - {field}")
    assert refused(text).problems[0].line == line_of(text, f"    - {field}")


def test_a_regime_using_an_undefined_profile_is_refused() -> None:
    text = DEFAULT.replace("    caf: {profile: default}", "    caf: {profile: family}")
    assert "profile 'family'" in refused(text).problems[0].message


def test_a_key_given_twice_is_refused_with_the_line_of_the_second() -> None:
    text = DEFAULT.replace("  receipts_days: 1095", "  receipts_days: 1095\n  receipts_days: 30")
    problem = refused(text).problems[0]
    assert problem.rule == "duplicate-key"
    assert problem.line == line_of(text, "receipts_days: 30")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  recorded_only: [oqtf, irtf, expulsion]",
            "  recorded_only: [oqtf, irtf, expulsion, renewal-refusal]",
            "both disclosed and recorded only",
        ),
        (
            "  recorded_only: [oqtf, irtf, expulsion]",
            "  recorded_only: [oqtf, irtf]",
            "neither disclosed nor recorded only",
        ),
        (
            "    - name: normal\n      otherwise: true",
            "    - name: normal\n      kinds: [oqtf]",
            "otherwise",
        ),
        ("      corrections: true\n", "", "corrections come first"),
        (
            (
                "    cpam: {profile: default}\n    caf: {profile: default}\n"
                "    msa: {profile: default}\n    urssaf: {profile: default}\n"
                "    carsat: {profile: default}\n    cgss: {profile: default}\n"
                "    css-mayotte: {profile: default}\n"
            ),
            "    cpam: {profile: default, enabled: false}\n",
            "no regime is enabled",
        ),
    ],
)
def test_contradictory_or_incomplete_rules_are_refused(old: str, new: str, message: str) -> None:
    assert old in DEFAULT
    assert message in str(refused(DEFAULT.replace(old, new)))


def test_a_retention_of_audit_events_outside_cnil_guidance_is_refused() -> None:
    text = DEFAULT.replace("audit_events_days: 1095", "audit_events_days: 30")
    assert refused(text).problems[0].path == "retention.audit_events_days"


def test_broken_yaml_names_its_line() -> None:
    text = DEFAULT.replace("eligibility:", "eligibility: [")
    assert refused(text).problems[0].rule == "yaml"


def test_policy_check_command(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(DEFAULT)
    result = CliRunner().invoke(app, ["policy", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid, version instruction-2024-10-28@" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT.replace("    - priority_class", "    - public_order"))
    result = CliRunner().invoke(app, ["policy", "check", str(bad)])
    assert result.exit_code == 1
    assert f"bad.yaml:{line_of(bad.read_text(), '- public_order')}" in result.output


def test_the_subscriptions_switch_loads_and_changes_the_version() -> None:
    text = DEFAULT.replace("subscriptions_only: false", "subscriptions_only: true")
    loaded = load_text(text)
    assert loaded.policy.routing.subscriptions_only
    assert loaded.version != load_text(DEFAULT).version
