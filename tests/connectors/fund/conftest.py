"""Fixtures of the fund's side: the gateway it talks to in its own process.

The gateway in this process (``world``) is in ``tests/connectors/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ServedFund, serve_fund


@pytest.fixture
def served(migrated_database_url: str, tmp_path: Path) -> Iterator[ServedFund]:
    """``gateway serve`` in its own process with a prefecture and a fund in 75."""
    with serve_fund(migrated_database_url, tmp_path) as running:
        yield running
