"""Demo scene of status checks: desks, by identifier and by name, a streamed sweep, misuse."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import TYPE_CHECKING

import httpx

from demo.stage import console

if TYPE_CHECKING:
    from collections.abc import Callable

    from connectors.client import GatewayClient

PURPOSE = "residence-regularity-check"
SWEEP = 12_000  # more than one request may list: the sweep is streamed
PROBES = 20
RESIDENT = {"residence_departement": "75"}  # the CPAM of Paris checks the people of Paris


def status_checks(fund: GatewayClient, expect: Callable[[str, bool], None]) -> None:
    desk = fund.request(
        "POST",
        "/v1/status-checks",
        purpose=PURPOSE,
        agent_id="desk-07",
        case_reference="affiliation-2026-1188",
        json={"checks": [{"identity": RESIDENT | {"agdref_number": "7500000001"}}]},
    )
    answer = desk.json()["answers"][0]
    expect(
        f"an affiliation desk checks one person: {answer['result']} ({answer['match']} match, "
        f"decision {answer['decision']['reference'] if answer['decision'] else '-'})",
        desk.status_code == httpx.codes.OK and answer["result"] == "adverse_decision",
    )
    unstated = fund.request(
        "POST",
        "/v1/status-checks",
        purpose=PURPOSE,
        agent_id="desk-07",
        json={"checks": [{"identity": {"agdref_number": "7500000001"}}]},
    )
    rules = [e["rule"] for a in unstated.json().get("answers", []) for e in a["errors"]]
    expect(
        "a check that does not say where the person lives is refused: a fund with a "
        f"territory cannot leave it by staying silent ({', '.join(rules)})",
        unstated.status_code == httpx.codes.OK and rules == ["residence-departement-required"],
    )
    conflicting = fund.request(
        "POST",
        "/v1/status-checks",
        purpose=PURPOSE,
        agent_id="desk-07",
        case_reference="affiliation-2026-1189",
        # PP-2026-0001's AGDREF number, typed for a man born in 1962: not the woman it names.
        json={
            "checks": [
                {
                    "identity": RESIDENT
                    | {
                        "agdref_number": "7500000001",
                        "birth_name": "Diallo",
                        "first_names": ["Mamadou"],
                        "sex": "M",
                        "birth_date": "1962-05-05",
                    }
                }
            ]
        },
    )
    conflict = conflicting.json().get("answers", [{}])[0]
    expect(
        "an identifier typed for another person is an identity conflict, naming no decision "
        f"({conflict.get('match')} match, decision {conflict.get('decision')})",
        conflicting.status_code == httpx.codes.OK
        and (conflict.get("match"), conflict.get("decision")) == ("conflict", None),
    )
    by_name(fund, expect)
    sweep(fund, expect)
    wrong = fund.request(
        "POST",
        "/v1/status-checks",
        purpose="marketing",
        agent_id="desk-07",
        json={"checks": [{"identity": RESIDENT | {"agdref_number": "7500000001"}}]},
    )
    expect(
        f"a check for another purpose is refused: {wrong.status_code}",
        wrong.status_code == httpx.codes.FORBIDDEN,
    )
    probe = fund.request(
        "POST",
        "/v1/status-checks",
        purpose=PURPOSE,
        agent_id="desk-13",
        json={
            "checks": [
                {
                    "identity": {
                        "birth_name": f"Martin{chr(65 + n)}",
                        "first_names": ["Paul"],
                        "sex": "M",
                        "birth_date": "1980",
                        "place_of_birth": "99109",
                        **RESIDENT,
                    }
                }
                for n in range(PROBES)
            ]
        },
    )
    expect(
        f"an agent asks about {PROBES} people by name alone and finds nobody "
        "(the auditors' report will flag it)",
        probe.status_code == httpx.codes.OK
        and {a["match"] for a in probe.json()["answers"]} == {"none"},
    )


def by_name(fund: GatewayClient, expect: Callable[[str, bool], None]) -> None:
    """Checks with no identifier the gateway knows: names, birth date, sex, place."""
    response = fund.request(
        "POST",
        "/v1/status-checks",
        purpose=PURPOSE,
        agent_id="desk-07",
        case_reference="affiliation-2026-1190",
        json={
            "checks": [
                # Rania Haddad, born in Morocco in 1994 (the day unknown to the
                # prefecture), as the fund spells her, with the NIR it knows: the
                # demo's decisions about her carry only her AGDREF number.
                {
                    "identity": {
                        "social_security_number": {
                            "number": "2 94 06 99 350 017 48",
                            "type": "nir",
                        },
                        "birth_name": "HADAD",
                        "first_names": ["Rania"],
                        "sex": "F",
                        "birth_date": "1994-06-02",
                        "place_of_birth": "99350",
                        **RESIDENT,
                    }
                },
                # A namesake of PP-2026-0003's Nguyễn Thi Lan, born the same day in
                # Cambodia: perhaps her, perhaps not (a namesake born another day is none).
                {
                    "identity": {
                        "birth_name": "Nguyen",
                        "first_names": ["Thi", "Lan"],
                        "sex": "F",
                        "birth_date": "2001-02-03",
                        "place_of_birth": "99234",
                        **RESIDENT,
                    }
                },
            ]
        },
    )
    answers = response.json().get("answers", [{}, {}])
    strong, weak = answers
    console.print(
        f"  by name: {strong.get('match')} match -> {strong.get('result')} "
        f"{(strong.get('decision') or {}).get('reference')}; "
        f"namesake: {weak.get('match')} match, decision {weak.get('decision')}",
        markup=False,
    )
    expect(
        "a check by name finds the decision despite the spelling (strong match), and a "
        "namesake born the same day elsewhere gets a weak match that names no decision",
        response.status_code == httpx.codes.OK
        and strong.get("match") == "strong"
        and bool((strong.get("decision") or {}).get("reference"))
        and (weak.get("match"), weak.get("decision")) == ("weak", None),
    )


def sweep(fund: GatewayClient, expect: Callable[[str, bool], None]) -> None:
    """A periodic sweep of more affiliates than one request lists, as an NDJSON stream."""
    body = "".join(
        json.dumps({"identity": RESIDENT | {"agdref_number": f"75{n:08d}"}}) + "\n"
        for n in range(SWEEP)
    )  # the demo's decisions concern some of these numbers
    started = time.perf_counter()
    response = fund.request(
        "POST",
        "/v1/status-checks/stream",
        purpose=PURPOSE,
        agent_id="sweep-batch",
        content=body.encode(),
        headers={"Content-Type": "application/x-ndjson"},
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    lines = [json.loads(line) for line in response.text.splitlines() if line]
    summary = lines[-1].get("summary", {}) if lines else {}
    results = Counter(summary.get("results", {}))
    console.print(
        f"  streamed sweep of {SWEEP} affiliates in {elapsed:.2f} s: {dict(results)}",
        markup=False,
    )
    expect(
        f"a periodic sweep of {SWEEP} affiliates, streamed, finds those with an adverse or "
        "corrected decision; the rest are none_known (which does not prove regular residence)",
        response.status_code == httpx.codes.OK
        and len(lines) == SWEEP + 1
        and results["adverse_decision"] > 0
        and results["none_known"] > SWEEP // 2,
    )
