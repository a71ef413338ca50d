"""``gateway policy check``: a policy file, alone and against the registry of participants."""

from __future__ import annotations

from typing import TYPE_CHECKING

from policies.loader import DEFAULT_POLICY
from tests.support.cli import Cli

if TYPE_CHECKING:
    from collections.abc import Callable


def test_policy_check_against_the_registry_names_regimes_without_a_fund(
    cli: Cli, add: Callable[..., str]
) -> None:
    only_cpam = cli.files / "only-cpam.yaml"
    text = DEFAULT_POLICY.read_text()
    for regime in ("caf", "msa", "urssaf", "carsat", "cgss", "css-mayotte"):
        text = text.replace(
            f"    {regime}: {{profile: default}}\n",
            f"    {regime}: {{profile: default, enabled: false}}\n",
        )
    only_cpam.write_text(text)
    assert "valid" in cli.run("policy", "check", str(only_cpam))  # the file alone is fine
    out = cli.run("policy", "check", str(only_cpam), "--registry", code=1)
    assert "routing.regimes.cpam: no active fund" in out
    assert "caf" not in out
    add("cpam-13", "fund", "--regime", "cpam", "-d", "13")
    assert "valid, version" in cli.run("policy", "check", str(only_cpam), "--registry")
    everything = cli.run("policy", "check", str(DEFAULT_POLICY), "--registry", code=1)
    assert "routing.regimes.caf" in everything
    assert "routing.regimes.cpam" not in everything
