"""deploy/systemd: the units' commands, settings and hardening, and systemd's own checks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import startup
from tests.deploy.manifests import (
    IMAGE_BINARY,
    SYSTEMD,
    env_file,
    gateway_argv,
    option,
    parse_command,
    unit_file,
)

UNITS = ["gateway-api.service", "gateway-worker.service"]
ENV_EXAMPLE = SYSTEMD / "gateway.env.example"
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "RestrictSUIDSGID": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "LockPersonality": "yes",
    "UMask": "0077",
}
EXPOSURE_THRESHOLD = 2.0  # systemd-analyze security: 0 is the safest, 10 the least safe


def service(name: str) -> dict[str, list[str]]:
    return unit_file(SYSTEMD / name)["Service"]


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_runs_the_installed_gateway_as_its_own_user(name: str) -> None:
    settings = service(name)
    assert settings["User"] == ["gateway"]
    assert settings["Group"] == ["gateway"]
    assert settings["EnvironmentFile"] == ["/etc/gateway/gateway.env"]
    for line in settings.get("ExecStartPre", []) + settings["ExecStart"]:
        parse_command(gateway_argv(line))


def test_the_api_runs_several_processes_and_migrates_first() -> None:
    settings = service("gateway-api.service")
    (start,) = settings["ExecStart"]
    argv = gateway_argv(start)
    assert parse_command(argv).path == ("serve",)
    assert int(option(argv, "--workers")) > 1
    assert option(argv, "--host") == "127.0.0.1"  # behind the reverse proxy on the host
    (before,) = settings["ExecStartPre"]
    assert parse_command(gateway_argv(before)).path == ("db", "upgrade")


def test_the_worker_runs_the_scheduled_jobs() -> None:
    (start,) = service("gateway-worker.service")["ExecStart"]
    assert parse_command(gateway_argv(start)).path == ("worker",)


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_is_hardened(name: str) -> None:
    settings = service(name)
    for setting, value in HARDENING.items():
        assert settings.get(setting) == [value], setting
    filters = settings["SystemCallFilter"]
    assert "@system-service" in filters
    assert any(f.startswith("~") and "@privileged" in f for f in filters)


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_writes_only_the_audit_spool(name: str) -> None:
    settings = service(name)
    spool = env_file(ENV_EXAMPLE)["GATEWAY_AUDIT_SPOOL_DIR"]
    assert settings["ReadWritePaths"] == [spool]
    state = settings["StateDirectory"][0].split()
    assert spool in {f"/var/lib/{s}" for s in state}
    key_dir = env_file(ENV_EXAMPLE)["GATEWAY_KEY_DIR"]
    assert any(key_dir.startswith(p) for p in settings["ReadOnlyPaths"])


def test_the_environment_file_sets_only_settings_the_gateway_reads() -> None:
    given = env_file(ENV_EXAMPLE)
    names = {n for n in given if n.startswith(startup.PREFIX)}
    assert names <= startup.known_variables()
    assert given["GATEWAY_ENVIRONMENT"] == "production"


def installed_copies(tmp_path: Path) -> list[Path]:
    """The units with the installed gateway's path replaced by this environment's."""
    binary = Path(sys.executable).with_name("gateway")
    copies = []
    for name in UNITS:
        copy = tmp_path / name
        copy.write_text((SYSTEMD / name).read_text().replace(IMAGE_BINARY, str(binary)))
        copies.append(copy)
    return copies


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package has it)")
    return found


def test_systemd_verifies_the_units(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    result = subprocess.run(
        [analyze, "verify", *map(str, installed_copies(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_systemd_rates_the_units_exposure_low(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    for unit in installed_copies(tmp_path):
        result = subprocess.run(
            [
                analyze,
                "security",
                "--offline=yes",
                f"--threshold={EXPOSURE_THRESHOLD * 10:.0f}",
                "--no-pager",
                str(unit),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
        assert match is not None, result.stdout[-500:] + result.stderr
        assert float(match.group(1)) <= EXPOSURE_THRESHOLD, unit.name
