"""Every gateway command line of deploy/, run as written against a real PostgreSQL database.

Each deployment's commands (the image's, the compose services', the Kubernetes
containers', the systemd units') run with that deployment's own settings, where only
what points outside this machine is replaced: the database URL by a throwaway database,
the key directory by production keys made here, the policy and spool paths by
temporary ones, the server's port by a free loopback port. The migrations run, the API
answers /healthz and /readyz, the worker runs each job once (``--once``), and none of
them warns of a setting it does not read. So these files cannot drift from the command
line or the settings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from gateway import startup
from gateway.keys import GatewayKeys
from gateway.settings import Environment
from policies.loader import DEFAULT_POLICY
from tests.deploy.manifests import (
    COMPOSE,
    DEPLOY,
    PRODUCTION,
    SYSTEMD,
    containerfile,
    env_of,
    gateway_argv,
    key_of,
    kustomize,
    parse_command,
    pod_spec,
    unit_file,
)
from tests.support.processes import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow
UNREAD = "no setting reads it"


@dataclass(frozen=True)
class Deployment:
    """Commands in the order the deployment runs them, and the settings they get."""

    commands: list[list[str]]
    env: dict[str, str]


def image() -> Deployment:
    instructions = containerfile()
    (cmd,) = [i for i in instructions if i.keyword == "CMD"]
    return Deployment(
        [["db", "upgrade"], cmd.exec_form(), ["worker"]],
        # The operator gives the database; the image gives the rest.
        {**env_of(instructions), "GATEWAY_DATABASE_URL": "postgresql+psycopg://x@db/gateway"},
    )


def compose() -> Deployment:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    env = env_of(containerfile())
    env |= dict(
        line.split("=", 1)
        for line in (DEPLOY / "compose" / "gateway.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    env |= {k: str(v) for k, v in services["api-1"]["environment"].items()}
    commands = [services[name]["command"] for name in ("migrate", "api-1", "worker")]
    return Deployment(commands, env)


def kubernetes() -> Deployment:
    resources = {key_of(r): r for r in kustomize(PRODUCTION)}
    env = env_of(containerfile())
    env |= resources["ConfigMap", "gateway-settings"]["data"]
    commands = []
    order = [("Job", "gateway-migrate"), ("Deployment", "gateway-api")]
    for key in [*order, ("Deployment", "gateway-worker")]:
        spec = pod_spec(resources[key])
        assert spec is not None
        (container,) = spec["containers"]
        commands.append(container["args"])
        env |= {e["name"]: e["value"] for e in container["env"] if "value" in e}
    return Deployment(commands, env)


def systemd() -> Deployment:
    api = unit_file(SYSTEMD / "gateway-api.service")["Service"]
    worker = unit_file(SYSTEMD / "gateway-worker.service")["Service"]
    commands = [gateway_argv(line) for line in [*api["ExecStartPre"], *api["ExecStart"]]]
    commands += [gateway_argv(line) for line in worker["ExecStart"]]
    env = dict(
        line.split("=", 1)
        for line in (SYSTEMD / "gateway.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    return Deployment(commands, env)


DEPLOYMENTS: dict[str, Callable[[], Deployment]] = {
    "image": image,
    "compose": compose,
    "kubernetes": kubernetes,
    "systemd": systemd,
}


@pytest.fixture
def database(postgres_database: Callable[[], Generator[str]]) -> Iterator[str]:
    databases = postgres_database()
    yield next(databases)
    databases.close()


def local_env(deployment: Deployment, database: str, tmp_path: Path) -> dict[str, str]:
    """The deployment's settings, pointed at this machine: only what it sets is replaced."""
    keys = tmp_path / "keys"
    GatewayKeys.init(keys, Environment.PRODUCTION)
    policy = tmp_path / "policy.yaml"
    shutil.copyfile(DEFAULT_POLICY, policy)
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    replaced = {
        "GATEWAY_DATABASE_URL": database,
        "GATEWAY_KEY_DIR": str(keys),
        "GATEWAY_POLICY_FILE": str(policy),
        "GATEWAY_AUDIT_SPOOL_DIR": str(spool),
    }
    missing = set(replaced) - set(deployment.env)
    assert not missing, f"the deployment does not set {sorted(missing)}"
    assert deployment.env["GATEWAY_ENVIRONMENT"] == "production"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(startup.PREFIX)}
    return {**inherited, **deployment.env, **replaced, "GATEWAY_LOG_LEVEL": "INFO"}


def run_to_the_end(argv: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"gateway {' '.join(argv)}: {result.stderr[-3000:]}"
    return result.stderr


def with_option(argv: list[str], name: str, value: str) -> list[str]:
    changed = list(argv)
    changed[changed.index(name) + 1] = value
    return changed


def serve_until_ready(argv: list[str], env: dict[str, str], tmp_path: Path) -> str:
    """Start the API command on a free loopback port, wait for /healthz and /readyz."""
    port = free_port()
    local = with_option(with_option(argv, "--host", "127.0.0.1"), "--port", str(port))
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / f"serve-{port}.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gateway", *local],
            env={**env, "GATEWAY_PUBLIC_BASE_URL": base_url},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            answers = wait_until_ready(base_url, server, log_path)
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert answers["healthz"] == {"status": "ok"}
    assert answers["readyz"]["status"] == "ready"
    return log_path.read_text()


def wait_until_ready(
    base_url: str, server: subprocess.Popen[bytes], log_path: Path
) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        try:
            health = httpx.get(f"{base_url}/healthz", timeout=2)
            ready = httpx.get(f"{base_url}/readyz", timeout=5)
            if health.status_code == ready.status_code == httpx.codes.OK:
                return {"healthz": health.json(), "readyz": ready.json()}
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{base_url} did not become ready: {log_path.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_the_deployments_commands_run_against_a_real_database(
    name: str, database: str, tmp_path: Path
) -> None:
    deployment = DEPLOYMENTS[name]()
    env = local_env(deployment, database, tmp_path)
    paths = [parse_command(argv).path for argv in deployment.commands]
    assert paths == [("db", "upgrade"), ("serve",), ("worker",)]
    logs = []
    for argv, path in zip(deployment.commands, paths, strict=True):
        if path == ("serve",):
            logs.append(serve_until_ready(argv, env, tmp_path))
        elif path == ("worker",):
            logs.append(run_to_the_end([*argv, "--once"], env))
        else:
            logs.append(run_to_the_end(argv, env))
    unread = [line for log in logs for line in log.splitlines() if UNREAD in line]
    assert unread == []


def test_a_setting_the_gateway_does_not_read_is_seen(database: str, tmp_path: Path) -> None:
    """The check above is not blind: a misspelled setting in a deployment is reported."""
    deployment = systemd()
    env = local_env(deployment, database, tmp_path)
    run_to_the_end(["db", "upgrade"], env)
    stderr = run_to_the_end(["worker", "--once"], {**env, "GATEWAY_AUDIT_SPOOL": "/var/x"})
    assert UNREAD in stderr
