"""The README's first command, run by the test command so that it cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_runs_end_to_end_and_every_expectation_holds() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "The gateway behaved as expected." in result.stdout
    assert "FAILED" not in result.stdout
    # Every scene played: a line of each is in the output.
    for scene in (
        "Each participant gets a token",
        "What the gateway refuses",
        "Intake:",
        "Routes:",
        "Sealing:",
        "Push:",
        "Status checks:",
        "Retention:",
        "Evidence:",
        "The audit trail",
    ):
        assert scene in result.stdout, scene
