"""Département codes (INSEE COG) and what counts as a valid territory."""

from __future__ import annotations

from collections.abc import Iterable

METROPOLITAN = frozenset(
    # Corsica was 20 until 1976; it is 2A and 2B now, and 20 is no département code.
    [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"],  # noqa: PLR2004
)
OVERSEAS_DEPARTEMENTS = frozenset(["971", "972", "973", "974", "976"])
OVERSEAS_COLLECTIVITIES = frozenset(["975", "977", "978", "984", "986", "987", "988", "989"])
DEPARTEMENTS = METROPOLITAN | OVERSEAS_DEPARTEMENTS | OVERSEAS_COLLECTIVITIES


def normalise_departement(code: str) -> str:
    """Upper-case and zero-pad a département code; raise ValueError if it is not one."""
    candidate = code.strip().upper()
    if len(candidate) == 1 and candidate.isdigit():
        candidate = "0" + candidate
    if candidate not in DEPARTEMENTS:
        msg = f"{code!r} is not a département code (01-95, 2A, 2B, 971-976, 977-989)"
        raise ValueError(msg)
    return candidate


def normalise_territory(codes: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated, validated département codes."""
    return sorted({normalise_departement(code) for code in codes})
