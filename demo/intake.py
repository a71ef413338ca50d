"""Demo scenes of the intake: decisions of every kind, corrections, a backlog import."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from rich.table import Table

from demo import policy
from demo.stage import DemoParticipant, Outcome, client, console
from gateway.decisions.schemas import today

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from connectors.client import GatewayClient

PURPOSE = "decision-transmission"
POSTED: list[dict[str, Any]] = []  # what post_decisions sent, for the policy scene
BACKLOG_LINES = 40
BAD_LINES = 5  # four wrong values and one truncated line
GOOD_LINES = BACKLOG_LINES - 4


def _identity(number: int, **overrides: Any) -> dict[str, Any]:
    """A made-up person; AGDREF numbers, NIA and names are fictitious."""
    identity: dict[str, Any] = {
        "agdref_number": f"75{number:08d}",
        "birth_name": ["Ben Ali", "N'Diaye", "Kowalski", "Nguyễn", "Haddad"][number % 5],
        "first_names": [["Mohamed", "Karim"], ["Aïssatou"], ["Piotr"], ["Thi Lan"], ["Rania"]][
            number % 5
        ],
        "sex": ["M", "F", "M", "F", "F"][number % 5],
        "birth_date": ["1990-04-17", "1985-XX-XX", "1979-11", "2001-02-03", "1994"][number % 5],
        "place_of_birth": ["99352", "99341", "99122", "99243", "99350"][number % 5],
        "nationality": ["99352", "99341", "99122", "99243", "99350"][number % 5],
        "residence_departement": "93" if number % 2 else "75",
    }
    identity.update(overrides)
    return identity


def _decision(reference: str, kind: str, number: int, **fields: Any) -> dict[str, Any]:
    decided = today() - timedelta(days=30 + number)
    body: dict[str, Any] = {
        "reference": reference,
        "kind": kind,
        "decision_date": decided.isoformat(),
        "notification_date": (decided + timedelta(days=3)).isoformat(),
        "effect_date": (decided + timedelta(days=3)).isoformat(),
        "identity": _identity(number),
    }
    body.update(fields)
    return body


def post_decisions(
    prefecture: GatewayClient, expect: Callable[[str, bool], None]
) -> dict[str, str]:
    """Every kind of decision, a replay, a conflict and refusals; returns reference → id."""
    table = Table(
        "reference", "kind", "public order", "answer", "owed to", title="pref-75 posts decisions"
    )
    bodies = [
        _decision(
            "PP-2026-0001",
            "permit-withdrawal",
            1,
            public_order=True,
            withdrawn_document="permit",
            permit={
                "category": "vie privée et familiale",
                "number": "7500000001",
                "expiry_date": "2027-05-31",
            },
        ),
        _decision(
            "PP-2026-0002",
            "renewal-refusal",
            2,
            identity=_identity(
                2, social_security_number={"number": "1 79 11 99 122 111 93", "type": "nia"}
            ),
        ),
        _decision("PP-2026-0003", "first-permit-refusal", 3, removal_measures=["oqtf"]),
        _decision("PP-2026-0004", "first-permit-refusal", 4),
        _decision("PP-2026-0005", "oqtf", 5),
        _decision("PP-2026-0006", "permit-withdrawal", 6, withdrawn_document="receipt"),
    ]
    POSTED.extend(bodies)
    ids = {}
    for body in bodies:
        response = prefecture.request("POST", "/v1/decisions", purpose=PURPOSE, json=body)
        ids[body["reference"]] = response.json().get("id", "")
        owed = sorted({d["fund_id"] for d in response.json().get("disclosures", [])})
        table.add_row(
            body["reference"],
            body["kind"],
            "yes" if body.get("public_order") else "",
            str(response.status_code),
            " ".join(owed) or "nobody",
        )
        expect(
            f"{body['reference']} ({body['kind']}) stored",
            response.status_code == httpx.codes.CREATED,
        )
    replay = prefecture.request("POST", "/v1/decisions", purpose=PURPOSE, json=bodies[0])
    table.add_row("PP-2026-0001", "same body again", "", str(replay.status_code), "")
    first = replay.json()["disclosures"]
    expect(
        "each disclosure records the policy that decided it: "
        + ", ".join(sorted({d["policy_version"] for d in first})),
        bool(first) and all("@" in d["policy_version"] for d in first),
    )
    console.print(table)
    expect(
        "posting the same body again returns the same decision (200)",
        replay.status_code == httpx.codes.OK and replay.json()["id"] == ids["PP-2026-0001"],
    )
    changed = {**bodies[0], "effect_date": bodies[0]["decision_date"]}
    conflict = prefecture.request("POST", "/v1/decisions", purpose=PURPOSE, json=changed)
    expect(
        f"same reference, different body: {conflict.status_code} "
        f"{conflict.json()['errors'][0]['rule']}",
        conflict.status_code == httpx.codes.CONFLICT,
    )
    elsewhere = prefecture.request(
        "POST",
        "/v1/decisions",
        purpose=PURPOSE,
        json={**_decision("PP-2026-0099", "renewal-refusal", 9), "departement": "13"},
    )
    expect(
        f"pref-75 posts for département 13: {elsewhere.status_code} "
        f"{elsewhere.json()['errors'][0]['rule']}",
        elsewhere.status_code == httpx.codes.FORBIDDEN,
    )
    wrong_key = _decision(
        "PP-2026-0098",
        "renewal-refusal",
        8,
        identity=_identity(
            8, social_security_number={"number": "2 95 10 99 126 111 94", "type": "nir"}
        ),
    )
    refused = prefecture.request("POST", "/v1/decisions", purpose=PURPOSE, json=wrong_key)
    error = refused.json()["errors"][0]
    expect(
        f"a NIR with a wrong key: {refused.status_code} {error['field']} {error['rule']}",
        refused.status_code == httpx.codes.BAD_REQUEST and error["rule"] == "nir-key",
    )
    # Piotr Kowalski, born in Poland in November 1979, with a valid number of a woman's.
    other_person = _decision(
        "PP-2026-0097",
        "renewal-refusal",
        7,
        identity=_identity(
            7, social_security_number={"number": "2 79 11 99 122 001 56", "type": "nir"}
        ),
    )
    contradicted = prefecture.request("POST", "/v1/decisions", purpose=PURPOSE, json=other_person)
    found = contradicted.json().get("errors", [{}])
    expect(
        "a valid NIR that contradicts its person (a woman's number for a man): "
        f"{contradicted.status_code} "
        + ", ".join(f"{e.get('field')} {e.get('rule')}" for e in found),
        contradicted.status_code == httpx.codes.BAD_REQUEST
        and {e.get("rule") for e in found} == {"nir-sex-mismatch"},
    )
    return ids


def correct_decisions(
    prefecture: GatewayClient, ids: dict[str, str], expect: Callable[[str, bool], None]
) -> None:
    annulled = prefecture.request(
        "POST",
        f"/v1/decisions/{ids['PP-2026-0003']}/corrections",
        purpose=PURPOSE,
        json={
            "kind": "annulment",
            "reference": "TA-MONTREUIL-2601234",
            "correction_date": today().isoformat(),
        },
    )
    expect(
        f"the court annuls PP-2026-0003: {annulled.status_code}, now "
        f"{annulled.json().get('status')} with {len(annulled.json().get('versions', []))} "
        "versions",
        annulled.status_code == httpx.codes.CREATED and annulled.json()["status"] == "annulled",
    )
    fixed = prefecture.request(
        "POST",
        f"/v1/decisions/{ids['PP-2026-0004']}/corrections",
        purpose=PURPOSE,
        json={
            "kind": "data-correction",
            "reference": "FIX-0004",
            "correction_date": today().isoformat(),
            "identity": _identity(4, agdref_number="7500000044"),
        },
    )
    versions = fixed.json().get("versions", [])
    expect(
        "a data correction keeps both identities readable: "
        + " then ".join(v["identity"]["agdref_number"] for v in versions),
        fixed.status_code == httpx.codes.CREATED
        and len(versions) == 2  # noqa: PLR2004
        and versions[0]["identity"]["agdref_number"] != versions[1]["identity"]["agdref_number"],
    )


def backlog_file(workdir: Path) -> Path:
    """A CSV backlog of 40 older decisions, four of them wrong in a different way."""
    columns = [
        "reference",
        "kind",
        "public_order",
        "decision_date",
        "notification_date",
        "agdref_number",
        "birth_name",
        "first_names",
        "sex",
        "birth_date",
        "place_of_birth",
        "residence_departement",
    ]
    rows = []
    for number in range(1, BACKLOG_LINES + 1):
        identity = _identity(100 + number)
        rows.append(
            [
                f"BACKLOG-2023-{number:04d}",
                ["renewal-refusal", "first-permit-refusal", "permit-withdrawal", "oqtf"][
                    number % 4
                ],
                "oui" if number % 7 == 0 else "non",
                f"2023-{1 + number % 12:02d}-15",
                f"2023-{1 + number % 12:02d}-20",
                identity["agdref_number"],
                identity["birth_name"],
                "|".join(identity["first_names"]),
                identity["sex"],
                identity["birth_date"],
                identity["place_of_birth"],
                identity["residence_departement"],
            ]
        )
    rows[4][3] = "2099-01-01"  # a decision date in the future
    rows[11][5] = "12AB"  # a malformed AGDREF number
    rows[19][4] = "2022-01-01"  # notified before it was decided
    rows[27][9] = "1990-02-30"  # an impossible birth date
    path = workdir / "backlog-pref-75.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(";".join(columns) + "\n")
        for row in rows:
            handle.write(";".join(row) + "\n")
        handle.write("BACKLOG-2023-0041;renewal-refusal;non\n")  # a truncated line
    return path


def _imported(
    prefecture: GatewayClient, path: Path, *, dry_run: bool = False, show: bool = False
) -> dict[str, Any]:
    """Upload (202, queued at once), then follow the worker's progress to the end."""
    accepted = prefecture.import_file(path, file_format="csv", purpose=PURPOSE, dry_run=dry_run)
    queued = accepted.json()
    seen: list[int] = []

    def progress(body: dict[str, Any]) -> None:
        if show and body["lines_done"] not in seen:
            seen.append(body["lines_done"])
            console.print(
                f"    {body['status']:<8} line {body['lines_done']:>3} of {body['lines_total']}:"
                f" {body['accepted']} accepted, {body['duplicate']} duplicate,"
                f" {body['rejected']} rejected"
            )

    body = prefecture.wait_for_import(
        queued["id"], purpose=PURPOSE, on_progress=progress, poll_seconds=0.05
    )
    body["answered"] = accepted.status_code
    body["queued"] = queued["status"]
    body["location"] = accepted.headers.get("location", "")
    return body


def import_backlog(
    prefecture: GatewayClient, workdir: Path, expect: Callable[[str, bool], None]
) -> None:
    path = backlog_file(workdir)
    dry = _imported(prefecture, path, dry_run=True)
    expect(
        f"dry run of {path.name}: {dry['accepted']} would be accepted, {dry['rejected']} "
        "rejected, nothing stored",
        dry["status"] == "done" and dry["rejected"] == BAD_LINES,
    )
    console.print(f"  importing {path.name}: stored at once, then processed by the worker")
    summary = _imported(prefecture, path, show=True)
    expect(
        f"the upload is answered {summary['answered']} ({summary['queued']}) with its "
        f"Location, and the worker's progress is followed to {summary['status']}",
        summary["answered"] == httpx.codes.ACCEPTED
        and summary["queued"] == "queued"
        and summary["location"].endswith(summary["id"])
        and summary["lines_done"] == summary["lines_total"],
    )
    report = [
        line
        for line in prefecture.import_report(summary["id"], purpose=PURPOSE)
        if line["outcome"] == "rejected"
    ]
    table = Table(
        "line",
        "reference",
        "field",
        "rule",
        title=f"import {summary['id'][:8]}: {summary['lines']} lines, "
        f"{summary['accepted']} accepted, {summary['rejected']} rejected",
    )
    for line in report:
        for error in line["errors"]:
            table.add_row(str(line["line"]), line["reference"] or "", error["field"], error["rule"])
    console.print(table)
    expect(
        "every bad line is reported with its field and rule, the good ones stored",
        summary["accepted"] == GOOD_LINES and len(report) == BAD_LINES,
    )
    again = _imported(prefecture, path)
    expect(
        f"the same file again: {again['duplicate']} duplicates, {again['accepted']} new",
        again["duplicate"] == GOOD_LINES and again["accepted"] == 0,
    )


def nothing_in_clear(database: Path, expect: Callable[[str, bool], None]) -> None:
    raw = database.read_bytes()
    for wal in database.parent.glob(database.name + "-wal"):
        raw += wal.read_bytes()
    leaked = [
        name
        for name in ("Kowalski", "Haddad", "7500000001", "N'Diaye")
        if name.encode() in raw or json.dumps(name).encode() in raw
    ]
    expect("the database file holds no name, AGDREF or permit number in clear", not leaked)


def scene(
    base_url: str, prefecture: DemoParticipant, workdir: Path, outcome: Outcome
) -> dict[str, str]:
    console.rule("[bold]Intake: decisions of every kind, corrections, a backlog import")
    with client(base_url, prefecture) as prefecture_client:
        ids = post_decisions(prefecture_client, outcome.expect)
        correct_decisions(prefecture_client, ids, outcome.expect)
        import_backlog(prefecture_client, workdir, outcome.expect)
    console.rule("[bold]Policy: what the policy in force decides for these decisions")
    annulled = next(b for b in POSTED if b["reference"] == "PP-2026-0003")
    policy.explain(
        [*POSTED, {**annulled, "reference": "PP-2026-0003 (annulment)", "correction": True}],
        outcome.expect,
    )
    nothing_in_clear(workdir / "gateway.db", outcome.expect)
    return ids
