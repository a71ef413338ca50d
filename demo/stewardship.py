"""Demo scenes of the policy at work: routes and fields, subscriptions, register, retention."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
from rich.table import Table

from demo.stage import DemoParticipant, Outcome, client, console
from gateway.decisions import repository
from gateway.decisions.explain import explain
from gateway.retention import purge
from gateway.storage.base import utcnow
from policies.loader import DEFAULT_POLICY, load_file
from policies.register import render_html, render_markdown

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from connectors.client import GatewayClient
    from policies.loader import LoadedPolicy


def routes(
    sessions: sessionmaker[Session],
    loaded: LoadedPolicy,
    ids: dict[str, str],
    expect: Callable[[str, bool], None],
) -> None:
    """Where each posted decision went, with which fields: ``gateway policy explain``."""
    table = Table("reference", "kind", "version", "priority", "funds and fields", title="routes")
    found = {}
    with sessions() as session:
        for reference, decision_id in sorted(ids.items()):
            decision = repository.get(session, decision_id)
            if decision is None:
                continue
            explained = explain(session, loaded, decision)
            found[reference] = explained
            funds = "; ".join(
                f"{fund_id}: {len(fields)} fields" for fund_id, _, fields in explained.funds
            )
            table.add_row(
                reference,
                decision.kind,
                str(decision.current_version),
                explained.evaluation.priority_class or "-",
                funds or "nobody",
            )
    console.print(table)
    fields = next((f for e in found.values() for _, _, f in e.funds), [])
    console.print(f"each fund receives exactly: {', '.join(fields)}")
    expect(
        "no fund receives the public-order ground or the legal basis",
        bool(fields) and not {"public_order", "legal_basis", "address"} & set(fields),
    )
    oqtf = found["PP-2026-0005"]
    expect(
        "the OQTF alone went nowhere: " + oqtf.evaluation.reasons[0],
        not oqtf.evaluation.disclosed and not oqtf.recorded,
    )
    annulled = found["PP-2026-0003"]
    unsent = [d for d in annulled.recorded if d.version == 1]
    expect(
        "PP-2026-0003 was annulled before any batch was sealed: its unsent records are "
        "cancelled, and no rectification is owed for what no fund received",
        bool(unsent)
        and all(d.state == "cancelled" for d in unsent)
        and not [d for d in annulled.recorded if d.version > 1],
    )
    for line in annulled.lines(loaded.version):
        console.print(f"  {line}", markup=False)


def subscriptions(fund: GatewayClient, purpose: str, expect: Callable[[str, bool], None]) -> None:
    """A fund registers the people it holds a file on; a malformed upload is refused whole."""
    start = (utcnow() - timedelta(days=400)).date().isoformat()
    people = [{"agdref_number": f"75{n:08d}", "valid_from": start} for n in (1, 3, 6)] + [
        {
            "social_security_number": {"number": "179119912211193", "type": "nia"},
            "valid_from": start,
            "valid_until": (utcnow() + timedelta(days=365)).date().isoformat(),
        }
    ]
    headers = {"Content-Type": "application/x-ndjson"}
    good = fund.request(
        "PUT",
        "/v1/subscriptions",
        purpose=purpose,
        agent_id="sync-job",
        content="\n".join(json.dumps(p) for p in people).encode(),
        headers=headers,
    )
    body = good.json()
    expect(
        f"caf-13 uploads its set: {good.status_code}, {body.get('people')} people, "
        f"{body.get('identifiers')} blind indexes stored (no identifier in clear)",
        good.status_code == httpx.codes.OK and body.get("people") == len(people),
    )
    bad_lines = [
        json.dumps({"agdref_number": "75ABC", "valid_from": start}),
        json.dumps({"agdref_number": "7500000009", "valid_from": "2026-13-01"}),
        json.dumps({"valid_from": start}),
    ]
    bad = fund.request(
        "PUT",
        "/v1/subscriptions",
        purpose=purpose,
        agent_id="sync-job",
        content="\n".join([json.dumps(people[0]), *bad_lines]).encode(),
        headers=headers,
    )
    problem = bad.json()
    for error in problem.get("errors", []):
        console.print(f"    line {error['line']}: {error['field']}: {error['rule']}", markup=False)
    current = fund.request("GET", "/v1/subscriptions", purpose=purpose, agent_id="sync-job")
    expect(
        f"a malformed upload is refused line by line ({bad.status_code}, "
        f"{len(problem.get('errors', []))} errors) and the previous set stays in force",
        bad.status_code == httpx.codes.UNPROCESSABLE_ENTITY
        and {e["line"] for e in problem.get("errors", [])} == {2, 3, 4}
        and current.json().get("upload_id") == body.get("upload_id"),
    )


def register(loaded: LoadedPolicy, workdir: Path, expect: Callable[[str, bool], None]) -> None:
    """The GDPR article 30 record, rendered from the policy file."""
    markdown = render_markdown(loaded)
    path = workdir / "register.html"
    path.write_text(render_html(loaded), encoding="utf-8")
    headings = [line.lstrip("# ") for line in markdown.splitlines() if line.startswith("## ")]
    console.print("register sections: " + "; ".join(headings))
    purposes = [rule for rules in loaded.policy.purposes.values() for rule in rules]
    expect(
        f"the register names all {len(purposes)} purposes with their legal bases, and the "
        f"retention periods (written to {path.name})",
        all(rule.purpose in markdown and rule.legal_basis in markdown for rule in purposes)
        and str(loaded.policy.retention.identity_after_last_receipt_days) in markdown,
    )


def retention(
    sessions: sessionmaker[Session],
    loaded: LoadedPolicy,
    prefecture: GatewayClient,
    ids: dict[str, str],
    expect: Callable[[str, bool], None],
) -> None:
    """A year and a day on: the purge shreds what no fund awaits, and says what it did."""
    purpose = "decision-transmission"
    fresh = prefecture.request(
        "POST",
        "/v1/decisions",
        purpose=purpose,
        json={
            "reference": "PP-2026-0100",
            "kind": "renewal-refusal",
            "decision_date": (utcnow() - timedelta(days=10)).date().isoformat(),
            "identity": {"agdref_number": "7500000100", "residence_departement": "75"},
        },
    )
    days = loaded.policy.retention.identity_after_last_receipt_days
    when = utcnow() + timedelta(days=days + 1)
    dry = purge.run(sessions, loaded, dry_run=True, now=when, actor={"via": "demo"})
    done = purge.run(sessions, loaded, now=when, actor={"via": "demo"})
    table = Table(
        "class", "retention (days)", "due", "purged", title=f"purge as of {when:%Y-%m-%d}"
    )
    for name, found in done.classes.items():
        table.add_row(name, str(found["retention_days"]), str(found["due"]), str(found["purged"]))
    console.print(table)
    shown = prefecture.request("GET", f"/v1/decisions/{ids['PP-2026-0005']}", purpose=purpose)
    versions = shown.json().get("versions", [{}])
    owed = prefecture.request("GET", f"/v1/decisions/{fresh.json()['id']}", purpose=purpose)
    pending = done.classes["identity_data"]["due"] - done.classes["identity_data"]["purged"]
    expect(
        f"the purge crypto-shreds {done.classes['identity_data']['purged']} decisions' identity "
        "data no fund awaits (acknowledged ones, the recorded-only OQTF); a decision still owed "
        "to funds keeps it",
        dry.classes["identity_data"]["due"] == done.classes["identity_data"]["purged"] > 0
        and pending == 0
        and shown.status_code == httpx.codes.OK
        and versions[0].get("identity") is None
        and shown.json().get("reference") == "PP-2026-0005"
        and owed.json()["versions"][0].get("identity") is not None,
    )


def scene(
    base_url: str,
    sessions: sessionmaker[Session],
    by_id: dict[str, DemoParticipant],
    ids: dict[str, str],
    workdir: Path,
    outcome: Outcome,
) -> None:
    loaded = load_file(DEFAULT_POLICY)
    console.rule("[bold]Routes: which funds each decision is owed to, with which fields")
    routes(sessions, loaded, ids, outcome.expect)
    console.rule("[bold]Subscriptions: a fund registers the people it holds a file on")
    with client(base_url, by_id["caf-13"]) as caf:
        subscriptions(caf, by_id["caf-13"].purpose, outcome.expect)
    console.rule("[bold]The register of processing (GDPR art. 30), from the policy file")
    register(loaded, workdir, outcome.expect)


def retention_scene(
    base_url: str,
    sessions: sessionmaker[Session],
    by_id: dict[str, DemoParticipant],
    ids: dict[str, str],
    outcome: Outcome,
) -> None:
    console.rule("[bold]Retention: a year and a day later, the purge")
    with client(base_url, by_id["pref-75"]) as prefecture:
        retention(sessions, load_file(DEFAULT_POLICY), prefecture, ids, outcome.expect)
