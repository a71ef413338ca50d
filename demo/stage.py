"""The demo's stage: its participants, the API on a loopback port, clients, expectations.

The participants are the ones the scenes act as: two prefectures, three local funds (one
requiring DPoP, one signing with Ed25519), a national IT centre acting for a fund, a
CODAF auditor and an operator, each registered from its public JWK file.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import uvicorn
from joserfc.jwk import ECKey, OKPKey
from rich.console import Console

from connectors.client import GatewayClient
from gateway.app import create_app
from gateway.identities.service import IdentityKeys
from gateway.imports.runner import run_pending_imports
from gateway.participants.models import ParticipantKind, Regime
from gateway.participants.schemas import ParticipantSpec
from policies.loader import DEFAULT_POLICY, load_file

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings

console = Console()
PURPOSES = {
    ParticipantKind.PREFECTURE: "decision-transmission",
    ParticipantKind.FUND: "residence-regularity-check",
    ParticipantKind.AUDITOR: "anti-fraud-control",
    ParticipantKind.OPERATOR: "administration",
}


@dataclass
class DemoParticipant:
    spec: ParticipantSpec
    key: ECKey | OKPKey
    alg: str
    dpop: bool = False

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def purpose(self) -> str:
        return PURPOSES[self.spec.kind]


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)

    def expect(self, what: str, condition: bool) -> None:
        mark = "[green]ok[/]" if condition else "[red]FAILED[/]"
        console.print(f"  {mark}  {what}")
        if not condition:
            self.failures.append(what)


def participants(workdir: Path) -> list[DemoParticipant]:
    table: list[tuple[str, ParticipantKind, str, list[str], Regime | None, dict[str, Any]]] = [
        ("pref-75", ParticipantKind.PREFECTURE, "Préfecture de police (Paris)", ["75"], None, {}),
        (
            "pref-13",
            ParticipantKind.PREFECTURE,
            "Préfecture des Bouches-du-Rhône",
            ["13"],
            None,
            {},
        ),
        (
            "cpam-75",
            ParticipantKind.FUND,
            "CPAM de Paris",
            ["75"],
            Regime.CPAM,
            {"require_dpop": True},
        ),
        ("caf-13", ParticipantKind.FUND, "CAF des Bouches-du-Rhône", ["13"], Regime.CAF, {}),
        (
            "urssaf-idf",
            ParticipantKind.FUND,
            "URSSAF Île-de-France",
            ["75", "77", "78", "91", "92", "93", "94", "95"],
            Regime.URSSAF,
            {},
        ),
        (
            "cnam-it-centre",
            ParticipantKind.FUND,
            "Centre informatique national (CPAM)",
            [],
            Regime.CPAM,
            {"acts_for": ["cpam-75"]},
        ),
        ("codaf-75", ParticipantKind.AUDITOR, "CODAF de Paris", ["75"], None, {}),
        ("operator", ParticipantKind.OPERATOR, "Gateway operations", [], None, {}),
    ]
    participants = []
    (workdir / "participants").mkdir()
    for participant_id, kind, name, departements, regime, options in table:
        # One participant signs with Ed25519, the others with P-256: both are accepted.
        if participant_id == "caf-13":
            key: ECKey | OKPKey = OKPKey.generate_key("Ed25519", private=True)
            alg = "Ed25519"
        else:
            key, alg = ECKey.generate_key("P-256", private=True), "ES256"
        public = key.as_dict(private=False)
        public["kid"] = f"{participant_id}-1"
        public_file = workdir / "participants" / f"{participant_id}.jwk.json"
        public_file.write_text(json.dumps(public))
        spec = ParticipantSpec(
            id=participant_id,
            kind=kind,
            name=name,
            jwks=json.loads(public_file.read_text()),
            departements=departements,
            regime=regime,
            **options,
        )
        participants.append(DemoParticipant(spec, key, alg, dpop=bool(options.get("require_dpop"))))
    return participants


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """The real API on a loopback port, in a thread, for the demo's lifetime."""

    def __init__(self, settings: Settings, port: int) -> None:
        # The app reads the key directory itself, and re-reads it when it changes.
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the demo server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ImportWorker:
    """The worker's import job (what ``gateway worker`` runs) in a thread, polling often.

    Batches of 10 lines, so that the demo's small backlog shows its progress.
    """

    def __init__(self, sessions: sessionmaker[Session], keys: GatewayKeys) -> None:
        self.sessions = sessions
        self.keys = IdentityKeys.from_store(keys)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        policy = load_file(DEFAULT_POLICY)
        while not self.stop.wait(0.1):
            run_pending_imports(self.sessions, self.keys, policy, batch_size=10)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def client(base_url: str, participant: DemoParticipant) -> GatewayClient:
    dpop_key = ECKey.generate_key("P-256", private=True) if participant.dpop else None
    return GatewayClient(
        base_url, participant.id, participant.key, alg=participant.alg, dpop_key=dpop_key
    )
