"""Demo scene of the policy: what the policy in force decides for the demo's decisions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from demo.stage import console
from policies.evaluate import DecisionFacts, evaluate
from policies.loader import DEFAULT_POLICY, load_file

if TYPE_CHECKING:
    from collections.abc import Callable


def explain(bodies: list[dict[str, Any]], expect: Callable[[str, bool], None]) -> None:
    loaded = load_file(DEFAULT_POLICY)
    policy = loaded.policy
    table = Table(
        "reference",
        "kind",
        "disclosed",
        "priority",
        "département",
        "regimes",
        title=f"policy {loaded.version}",
    )
    results = {}
    for body in bodies:
        facts = DecisionFacts(
            kind=body["kind"],
            public_order=bool(body.get("public_order")),
            correction=bool(body.get("correction")),
            prefecture_departement="75",
            residence_departement=body["identity"].get("residence_departement"),
        )
        result = evaluate(policy, facts)
        results[body["reference"]] = result
        table.add_row(
            body["reference"],
            body["kind"] + (" (correction)" if facts.correction else ""),
            "yes" if result.disclosed else "no",
            result.priority_class or "-",
            result.departement or ("as before" if result.to_previous_recipients else "-"),
            str(len(result.profiles)) if result.profiles else "-",
        )
    console.print(table)
    fields = ", ".join(policy.profiles["default"])
    console.print(f"each fund receives: {fields}; never the public-order ground")
    oqtf = next(r for ref, r in results.items() if ref.endswith("0005"))
    expect("the OQTF alone goes nowhere: " + oqtf.reasons[0], not oqtf.disclosed)
    correction = next(r for ref, r in results.items() if ref.endswith("(annulment)"))
    expect(
        f"the annulment goes first (priority {correction.priority_class}) to every fund "
        "that received the decision",
        correction.priority_rank == 0 and correction.to_previous_recipients,
    )
